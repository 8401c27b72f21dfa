"""Migration 0004 lets several alert groups be open; its downgrade refuses while more than one is."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text

from monitor.store import migrate

pytestmark = pytest.mark.integration

GROUP = "INSERT INTO alert_groups (status, opened_at) VALUES ('open', :t) RETURNING id"


def _has_one_open_index(engine) -> bool:
    return "uq_alert_groups_one_open" in {i["name"] for i in inspect(engine).get_indexes("alert_groups")}


def test_two_open_groups_after_upgrade_and_a_downgrade_that_says_what_to_do(scratch_database):
    url, engine = scratch_database
    migrate.upgrade(url, "0003")
    assert _has_one_open_index(engine)
    migrate.upgrade(url)
    assert not _has_one_open_index(engine)
    with engine.begin() as conn:
        first, second = (conn.scalar(text(GROUP), {"t": datetime(2020, 3, day, tzinfo=UTC)}) for day in (1, 9))
    with pytest.raises(RuntimeError, match="2 alert groups are open and revision 0003 allows one"):
        migrate.downgrade(url, "0003")
    assert not _has_one_open_index(engine)  # the failed downgrade changed nothing
    with engine.begin() as conn:
        conn.execute(text("UPDATE alert_groups SET status = 'resolved', resolved_at = opened_at WHERE id = :i"),
                     {"i": first})
    migrate.downgrade(url, "0003")
    assert _has_one_open_index(engine)
    with engine.begin() as conn:
        assert conn.scalar(text("SELECT status FROM alert_groups WHERE id = :i"), {"i": second}) == "open"
