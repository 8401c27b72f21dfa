"""Postgres storage: tables, engines and transactions, migrations."""

from monitor.store import migrate
from monitor.store.engine import check_connection, connect, make_engine, make_session_factory, transaction

__all__ = ["check_connection", "connect", "make_engine", "make_session_factory", "migrate", "transaction"]
