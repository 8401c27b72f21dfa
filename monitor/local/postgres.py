"""Find a Postgres to use locally: the machine's own on 127.0.0.1:5432, or a private one from pgserver."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from monitor.errors import MonitorError

log = logging.getLogger(__name__)

LOCAL_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def reachable_local_postgres(url: str = LOCAL_ADMIN_URL) -> str | None:
    """The admin URL of the Postgres on this machine when it accepts connections, else None."""
    try:
        with psycopg.connect(url, connect_timeout=2):
            return url
    except psycopg.Error:
        return None


def _libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def with_database(admin_url: str, name: str) -> str:
    """The SQLAlchemy (psycopg 3) URL of database ``name`` on the server behind ``admin_url``."""
    return make_url(admin_url).set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False
    )


def create_database(admin_url: str, name: str, *, exist_ok: bool = True) -> str:
    with psycopg.connect(_libpq_url(admin_url), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if exists and not exist_ok:
            raise MonitorError(f"database {name!r} already exists")
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(_libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


class EmbeddedPostgres:
    """A private Postgres under ``data_dir`` (pgserver); stopped when the last handle closes."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._server = None

    def start(self) -> EmbeddedPostgres:
        try:
            import pgserver
        except ImportError:
            raise MonitorError(
                "no Postgres on 127.0.0.1:5432 and the pgserver package is missing: "
                "pip install 'fin-news-monitor[local]' or set MONITOR_DATABASE__URL"
            ) from None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(self.data_dir, cleanup_mode="stop")
        log.info("private Postgres running under %s", self.data_dir)
        return self

    @property
    def admin_url(self) -> str:
        if self._server is None:
            raise MonitorError("the embedded Postgres is not started")
        return self._server.get_uri()

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
