"""monitor.alerts.actions against the real Postgres: acknowledge, mute, unmute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from monitor.alerts.actions import (
    InvalidMute,
    UnknownAlert,
    acknowledge_alert,
    list_active_mutes,
    mute_scope,
    unmute_scope,
)
from monitor.store.orm import ALL_TOPICS, Alert, AlertMute

pytestmark = pytest.mark.integration


def make_alert(s, scope: str = "Earnings", status: str = "open") -> Alert:
    now = datetime.now(UTC)
    alert = Alert(
        scope=scope,
        status=status,
        window_start=now - timedelta(hours=1),
        window_end=now,
        baseline_start=now - timedelta(hours=25),
        window_count=40,
        window_negative=25,
        baseline_count=400,
        baseline_negative=80,
        observed_share=0.625,
        baseline_share=0.2,
        peak_share=0.65,
        statistic=5.1,
        p_value=1e-7,
        examples=[],
    )
    s.add(alert)
    s.flush()
    return alert


def test_acknowledge_records_who_and_when_and_keeps_the_first(db):
    with db() as s:
        alert_id = make_alert(s).id
    with db() as s:
        acknowledge_alert(alert_id, "  maria ", session=s)
    with db() as s:
        acknowledge_alert(alert_id, "tom", session=s)
    with db() as s:
        alert = s.get(Alert, alert_id)
        assert alert.acknowledged_by == "maria"
        assert datetime.now(UTC) - alert.acknowledged_at < timedelta(minutes=1)


def test_acknowledging_an_unknown_alert_says_so(db):
    with db() as s, pytest.raises(UnknownAlert, match="no alert with id 999"):
        acknowledge_alert(999, "maria", session=s)


def test_mute_then_mute_again_moves_the_end_and_unmute_lifts_it(db):
    soon, later = datetime.now(UTC) + timedelta(hours=1), datetime.now(UTC) + timedelta(days=1)
    with db() as s:
        mute_scope("Earnings", soon, "season", session=s)
        mute_scope(ALL_TOPICS, soon, None, session=s)
    with db() as s:
        row = mute_scope("Earnings", later, "longer", session=s)
        assert (row.muted_until, row.reason) == (later, "longer")
    with db() as s:
        assert [m.scope for m in list_active_mutes(session=s)] == [ALL_TOPICS, "Earnings"]
        assert list_active_mutes(session=s, now=soon + timedelta(minutes=1))[0].scope == "Earnings"
        assert unmute_scope("Earnings", session=s) is True
        assert unmute_scope("Earnings", session=s) is False
    with db() as s:
        assert s.scalars(select(AlertMute.scope)).all() == [ALL_TOPICS]


@pytest.mark.parametrize(
    ("scope", "until", "message"),
    [
        (" ", datetime.now(UTC) + timedelta(hours=1), "choose a topic"),
        ("Macro", datetime.now(UTC) - timedelta(minutes=1), "already past"),
        ("Macro", datetime.now() + timedelta(hours=1), "time zone"),  # noqa: DTZ005
    ],
)
def test_mutes_that_would_do_nothing_are_refused(db, scope, until, message):
    with db() as s, pytest.raises(InvalidMute, match=message):
        mute_scope(scope, until, session=s)
