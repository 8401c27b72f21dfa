"""Embedded parts for one-machine runs and tests: a Tansu broker and a private Postgres."""

from monitor.local.broker import EmbeddedBroker
from monitor.local.postgres import EmbeddedPostgres, reachable_local_postgres

__all__ = ["EmbeddedBroker", "EmbeddedPostgres", "reachable_local_postgres"]
