"""`replay_alerts`: what the detector would decide over stored history now, from a clean slate, writing nothing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select

from monitor.alerts import BackfillOverlap, add_endpoint, backfill_alerts, replay_alerts
from monitor.settings import AlertSettings
from monitor.store import transaction
from monitor.store.orm import (
    Alert,
    AlertGroup,
    AlertMute,
    Article,
    DetectorCheckpoint,
    Prediction,
    WebhookDelivery,
)

from .streams import BURST_END, BURST_START, T0, TOPICS, Item, background, stream, volume_burst, write_items

pytestmark = pytest.mark.integration

SETTINGS = AlertSettings(baseline_minutes=720)


def decided(alerts: list[Alert]) -> list[tuple]:
    """What an alert decided, without the row ids (a replay numbers its own)."""
    return sorted((a.scope, a.status, a.opened_at, a.resolved_at, a.window_minutes, a.opening["p_value"],
                   a.peak_share) for a in alerts)


def stored_state(factory) -> dict:
    with transaction(factory) as session:
        return {
            "alerts": decided(list(session.scalars(select(Alert)))),
            "ids": sorted(session.scalars(select(Alert.id))),
            "groups": session.scalar(select(func.count()).select_from(AlertGroup)),
            "deliveries": session.scalar(select(func.count()).select_from(WebhookDelivery)),
            "mutes": sorted(session.scalars(select(AlertMute.scope))),
            "checkpoint": session.scalar(select(DetectorCheckpoint.evaluated_until)),
        }


@pytest.fixture
def burst_stored(session_factory):
    with transaction(session_factory) as session:
        write_items(stream(seed=12, burst=volume_burst()), session=session)
        add_endpoint("http://127.0.0.1:9/hooks", allow_private=True, session=session)
    return session_factory


def test_a_replay_decides_what_a_backfill_decides_and_leaves_no_trace(burst_stored):
    factory = burst_stored
    before = stored_state(factory)
    first = replay_alerts(SETTINGS, factory)
    assert stored_state(factory) == before  # no alert, group, delivery or checkpoint written
    assert any(a.scope == "Earnings" for a in first.alerts), decided(first.alerts)
    assert [a.id for a in first.alerts] == list(range(1, len(first.alerts) + 1))
    assert first.groups >= 1 and all(a.group_id for a in first.alerts)

    filled = backfill_alerts(SETTINGS, factory)
    stored = stored_state(factory)
    assert stored["alerts"] == decided(first.alerts)
    assert stored["deliveries"] > 0 and stored["checkpoint"] == filled.now

    # Again, over the same stretch a backfill now refuses: the stored alerts, their webhooks and the checkpoint
    # neither steer the replay nor change.
    with pytest.raises(BackfillOverlap):
        backfill_alerts(SETTINGS, factory, since=T0)
    again = replay_alerts(SETTINGS, factory)
    assert decided(again.alerts) == decided(first.alerts)
    assert stored_state(factory) == stored


def test_a_replay_announces_no_alert_and_the_live_detector_still_does(burst_stored, caplog):
    """A replay's "alert N opened" lines would name rows that never exist: they go to DEBUG, for this call only."""
    caplog.set_level(logging.INFO, logger="monitor.alerts")
    replay_alerts(SETTINGS, burst_stored)
    assert not [r for r in caplog.records if r.levelno >= logging.INFO and " opened for " in r.getMessage()]
    assert any("replay (rolled back) up to" in r.getMessage() for r in caplog.records)
    caplog.clear()
    backfill_alerts(SETTINGS, burst_stored)
    assert [r for r in caplog.records if r.levelno == logging.WARNING and "opened for Earnings" in r.getMessage()]


def test_a_replay_reads_each_article_s_newest_prediction(burst_stored):
    """After a rescore, the replay judges the new reading: here a newer model calls the burst neutral."""
    factory = burst_stored
    backfill_alerts(SETTINGS, factory)
    stored = stored_state(factory)
    with transaction(factory) as session:
        burst = session.scalars(select(Article.id).where(Article.event_time > BURST_START,
                                                         Article.event_time <= BURST_END,
                                                         Article.text.like("Earnings plunge%"))).all()
        assert burst
        session.execute(insert(Prediction), [
            {"article_id": a, "model_version": "test-2", "topic": "Earnings", "topic_confidence": 0.9,
             "sentiment": "neutral", "sentiment_confidence": 0.9, "p_negative": 0.1, "p_neutral": 0.8,
             "p_positive": 0.1} for a in burst])
    replayed = replay_alerts(SETTINGS, factory)
    assert not any(a.scope == "Earnings" for a in replayed.alerts), decided(replayed.alerts)
    assert stored_state(factory) == stored  # the stored Earnings alert stays as it was decided


def test_a_replay_ignores_mutes_and_keeps_them(burst_stored):
    factory = burst_stored
    with transaction(factory) as session:
        session.add(AlertMute(scope="Earnings", muted_until=datetime.now(UTC) + timedelta(days=1),
                              reason="ana: known"))
    assert any(a.scope == "Earnings" for a in replay_alerts(SETTINGS, factory).alerts)
    assert stored_state(factory)["mutes"] == ["Earnings"]
    # The live detector does honour the mute.
    assert not any(a.scope == "Earnings" for a in backfill_alerts(SETTINGS, factory).opened)


def test_a_replay_of_a_stretch_sees_only_its_steps(burst_stored):
    before_burst = replay_alerts(SETTINGS, burst_stored, until=BURST_START - timedelta(minutes=30))
    assert not any(a.scope == "Earnings" for a in before_burst.alerts)
    assert before_burst.run.now == BURST_START - timedelta(minutes=30)
    with pytest.raises(BackfillOverlap, match="nothing to evaluate"):
        replay_alerts(SETTINGS, burst_stored, since=BURST_END, until=BURST_START)


def test_a_replay_of_an_empty_store_says_so(session_factory):
    replayed = replay_alerts(SETTINGS, session_factory)
    assert replayed.run.now is None and replayed.alerts == []


DECISIONS = (Alert, AlertGroup, AlertMute, DetectorCheckpoint)


def _delete(factory, *tables) -> None:
    with transaction(factory) as session:
        for table in tables:
            session.execute(delete(table))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    topics=st.integers(1, 3),
    per_hour=st.integers(2, 12),
    negative=st.floats(0.02, 0.3),
    bursts=st.lists(st.tuples(st.integers(0, 2), st.integers(14, 40), st.integers(1, 6), st.integers(5, 30)),
                    max_size=3),
    earlier=st.one_of(st.none(), st.integers(1, 47)),
    muted=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_property_a_replay_is_a_backfill_on_a_clean_slate_and_writes_nothing(
        session_factory, topics, per_hour, negative, bursts, earlier, muted, seed):
    """Random streams, with or without an earlier backfill's alerts and checkpoint and a mute: the replay changes
    nothing stored, and decides what a backfill decides once those are cleared."""
    factory = session_factory
    _delete(factory, *DECISIONS, Prediction, Article)
    names = TOPICS[:topics]
    items = list(background(T0, 48, names, per_hour=per_hour, negative=negative, seed=seed))
    for topic, start, hours, rate in bursts:
        at = T0 + timedelta(hours=start)
        items += [Item(at + timedelta(hours=hours) * k / (hours * rate), names[topic % topics], "negative",
                       f"burst {start} {k}") for k in range(hours * rate)]
    with transaction(factory) as session:
        write_items(items, session=session)
        if muted:
            session.add(AlertMute(scope=names[0], muted_until=datetime.now(UTC) + timedelta(days=1)))
    if earlier is not None:
        backfill_alerts(SETTINGS, factory, until=T0 + timedelta(hours=earlier))
    before = stored_state(factory)
    replayed = replay_alerts(SETTINGS, factory)
    assert stored_state(factory) == before
    _delete(factory, *DECISIONS)
    backfill_alerts(SETTINGS, factory)
    assert stored_state(factory)["alerts"] == decided(replayed.alerts)
