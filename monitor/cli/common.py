"""Helpers shared by the CLI modules: settings, engine and one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from monitor.errors import MonitorError
from monitor.settings import Settings, load_settings

__all__ = ["connected_database", "connected_engine", "connected_session", "load_settings", "parse_time"]


def parse_time(value: str | None, option: str = "--now") -> datetime | None:
    """An ISO 8601 option value (naive means UTC), or a one-line error naming the option."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MonitorError(f"{option} {value!r} is not an ISO 8601 time (e.g. 2020-05-01T12:00:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def connected_engine(settings: Settings) -> Engine:
    """An engine that has been checked to reach Postgres (else a one-line error)."""
    from monitor.store import connect

    return connect(settings.database)


@contextmanager
def connected_database(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """A session factory on a checked engine, disposed of when the command is done with it."""
    from monitor.store import make_session_factory

    engine = connected_engine(settings)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


@contextmanager
def connected_session(settings: Settings) -> Iterator[Session]:
    """One transaction on a checked engine (committed on success), the engine disposed of afterwards."""
    from monitor.store import transaction

    with connected_database(settings) as factory, transaction(factory) as session:
        yield session
