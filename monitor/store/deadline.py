"""Limits on a Postgres connection: server timeouts, TCP keepalives, and a client deadline for answers.

Server-side timeouts need a server that answers, and TCP keepalives need a peer that stops
acknowledging. Neither helps when something accepts the bytes and never replies (a hung pooler or
proxy, a frozen server): only the client can give up then, so every wait for an answer has a deadline.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

import psycopg
from sqlalchemy import Engine, event

from monitor.settings import DatabaseSettings

log = logging.getLogger(__name__)

# psycopg 3.3 added a deadline to Connection.wait; older versions only get the server-side limits.
HAS_WAIT_TIMEOUT = "timeout" in inspect.signature(psycopg.Connection.wait).parameters


def connect_options(settings: DatabaseSettings, url_options: str | tuple[str, ...] | None = None) -> dict[str, Any]:
    """libpq options: connect timeout, server timeouts, and keepalives so a dead peer is noticed.

    ``options`` given in the URL's query are kept; the timeouts are appended (the last ``-c`` wins).
    """
    given = " ".join(url_options) if isinstance(url_options, tuple) else (url_options or "")
    keepalive_span = settings.keepalives_idle_seconds + settings.keepalives_interval_seconds * settings.keepalives_count
    return {
        "connect_timeout": settings.connect_timeout_seconds,
        "options": f"{given} -c statement_timeout={settings.statement_timeout_ms} "
        f"-c lock_timeout={settings.lock_timeout_ms}".strip(),
        "keepalives": 1,
        "keepalives_idle": settings.keepalives_idle_seconds,
        "keepalives_interval": settings.keepalives_interval_seconds,
        "keepalives_count": settings.keepalives_count,
        # Data sent but unacknowledged this long also drops the connection (a black-holed network).
        "tcp_user_timeout": keepalive_span * 1000,
    }


def answer_timeout(settings: DatabaseSettings) -> float | None:
    """The statement timeout plus a grace for the server's own cancellation to arrive; None = no limit."""
    if settings.statement_timeout_ms == 0:
        return None
    seconds = settings.statement_timeout_ms / 1000
    return seconds + min(5.0, seconds)


class DeadlineConnection(psycopg.Connection):  # type: ignore[type-arg]
    """A connection that stops waiting for an answer after ``answer_timeout`` seconds, then closes itself.

    After a missed deadline the protocol state is unknown (the statement may still run), so the
    connection is closed; SQLAlchemy sees it closed and discards it from the pool.
    """

    answer_timeout: float | None = None

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        limit = self.answer_timeout if timeout is None else timeout
        try:
            return super().wait(gen, interval=interval, timeout=limit)
        except psycopg.errors._WaitTimeout:
            if timeout is not None:  # psycopg's own deadline (e.g. cancellation): its business
                raise
            self.pgconn.finish()
            raise psycopg.OperationalError(f"no answer from Postgres within {limit:g}s; connection closed") from None


def install_answer_deadline(engine: Engine, settings: DatabaseSettings) -> None:
    """Make ``engine`` open :class:`DeadlineConnection`s (when the setting and psycopg allow it)."""
    limit = answer_timeout(settings)
    if limit is None or engine.dialect.driver != "psycopg":
        return
    if not HAS_WAIT_TIMEOUT:
        log.warning("psycopg %s has no wait deadline; a hung database blocks until TCP gives up", psycopg.__version__)
        return

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> DeadlineConnection:
        connection = DeadlineConnection.connect(*cargs, **cparams)
        connection.answer_timeout = limit
        return connection
