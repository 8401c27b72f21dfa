"""`replay_alerts`: what the detector would decide over stored history now, from a clean slate, writing nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

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

from .streams import BURST_END, BURST_START, T0, stream, volume_burst, write_items

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
