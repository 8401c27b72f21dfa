"""Helpers shared by the CLI modules: settings, engine and one-line errors."""

from __future__ import annotations

from sqlalchemy import Engine

from monitor.settings import Settings, load_settings

__all__ = ["connected_engine", "load_settings"]


def connected_engine(settings: Settings) -> Engine:
    """An engine that has been checked to reach Postgres (else a one-line error)."""
    from monitor.store import connect

    return connect(settings.database)
