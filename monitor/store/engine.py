"""Engines and sessions built from settings at start-up; nothing connects at import time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from monitor.errors import ConfigError, DatabaseUnavailable
from monitor.masking import mask_secrets
from monitor.settings import DatabaseSettings
from monitor.store.deadline import connect_options, install_answer_deadline

URL_SETTING = "MONITOR_DATABASE__URL"
# Written so that the masking patterns do not take it for a URL with a password in it.
URL_SHAPE = "postgresql+psycopg://USER@HOST:PORT/DATABASE (a password goes after USER and a colon)"


def normalize_url(raw: str) -> str:
    """Accept ``postgres://`` and ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    # Never echo the raw value or the parser's message: a malformed URL can put the password where a
    # port or host name belongs ("postgresql://bob:hunter2/db" reads as host bob, port hunter2).
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(f"{URL_SETTING} is not a database URL; expected {URL_SHAPE}") from None
    except ValueError:
        raise ConfigError(f"{URL_SETTING} has a port that is not a number; expected {URL_SHAPE}") from None
    if url.port is not None and not 0 < url.port < 65536:
        raise ConfigError(f"{URL_SETTING} has port {url.port}; a port is a number from 1 to 65535")
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    if not url.drivername.startswith("postgresql"):
        raise ConfigError(f"{URL_SETTING} must point at Postgres (postgresql+psycopg://...), got {url.drivername!r}")
    return url.render_as_string(hide_password=False)


def make_engine(settings: DatabaseSettings) -> Engine:
    url = normalize_url(settings.url.get_secret_value())
    engine = create_engine(
        url,
        pool_size=settings.pool_size,
        pool_pre_ping=True,
        echo=settings.echo,
        connect_args=connect_options(settings, make_url(url).query.get("options")),
    )
    install_answer_deadline(engine, settings)  # a hung database becomes an error, not a silent wait
    return engine


def check_connection(engine: Engine) -> None:
    """Raise a one-line :class:`DatabaseUnavailable` naming the setting when Postgres can't be reached."""
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except DBAPIError as exc:  # OperationalError, and ProgrammingError for a bad option in the URL's query
        reason = mask_secrets((str(exc.orig) if exc.orig else str(exc)).strip().splitlines()[0])
        shown = mask_secrets(engine.url.render_as_string(hide_password=True))
        raise DatabaseUnavailable(
            f"cannot reach Postgres at {shown} ({reason}); check {URL_SETTING} and that the server runs"
        ) from None


def connect(settings: DatabaseSettings) -> Engine:
    """An engine that has been checked to reach Postgres (else a one-line :class:`DatabaseUnavailable`)."""
    engine = make_engine(settings)
    try:
        check_connection(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session
