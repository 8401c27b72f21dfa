"""Migrations on a real Postgres: one head, round trip, and no drift from the ORM."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from monitor.store import migrate
from monitor.store.orm import Base

pytestmark = pytest.mark.integration


def test_one_head():
    assert len(migrate.heads()) == 1


def test_upgrade_downgrade_upgrade_and_no_drift(fresh_database):
    eng = create_engine(fresh_database)
    try:
        migrate.upgrade(fresh_database)
        tables = set(inspect(eng).get_table_names())
        assert {t.name for t in Base.metadata.sorted_tables} <= tables
        migrate.downgrade(fresh_database)
        assert set(inspect(eng).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(fresh_database)
        with eng.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diff == []
    finally:
        eng.dispose()
