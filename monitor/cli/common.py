"""Helpers shared by the CLI modules: settings, engine and one-line errors."""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy import Engine

from monitor.errors import ConfigError
from monitor.settings import Settings


def load_settings() -> Settings:
    """Settings from the environment; a bad value becomes a one-line error naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        var = "MONITOR_" + "__".join(str(p).upper() for p in err["loc"])
        raise ConfigError(f"{var}: {err['msg']} (got {err.get('input')!r})") from None


def connected_engine(settings: Settings) -> Engine:
    """An engine that has been checked to reach Postgres (else a one-line error)."""
    from monitor.store import check_connection, make_engine

    engine = make_engine(settings.database)
    check_connection(engine)
    return engine
