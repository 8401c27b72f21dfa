"""Engines and sessions built from settings at start-up; nothing connects at import time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from monitor.errors import ConfigError, DatabaseUnavailable
from monitor.settings import DatabaseSettings

URL_SETTING = "MONITOR_DATABASE__URL"


def normalize_url(raw: str) -> str:
    """Accept ``postgres://`` and ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ConfigError(f"{URL_SETTING} is not a database URL ({raw!r}): {exc}") from None
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    if not url.drivername.startswith("postgresql"):
        raise ConfigError(f"{URL_SETTING} must point at Postgres (postgresql+psycopg://...), got {url.drivername!r}")
    return url.render_as_string(hide_password=False)


def make_engine(settings: DatabaseSettings) -> Engine:
    url = normalize_url(settings.url.get_secret_value())
    return create_engine(
        url,
        pool_size=settings.pool_size,
        pool_pre_ping=True,
        echo=settings.echo,
        connect_args={"connect_timeout": 5},
    )


def check_connection(engine: Engine) -> None:
    """Raise a one-line :class:`DatabaseUnavailable` naming the setting when Postgres can't be reached."""
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        shown = engine.url.render_as_string(hide_password=True)
        raise DatabaseUnavailable(
            f"cannot reach Postgres at {shown} ({reason}); check {URL_SETTING} and that the server runs"
        ) from None


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session
