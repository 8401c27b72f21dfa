"""The detector on a real Postgres: episodes, outbox rows, mutes, cooldown, concurrency."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from monitor.alerts import NegativeShareDetector, add_endpoint, check_alerts
from monitor.store import transaction
from monitor.store.orm import ALL_TOPICS, Alert, AlertMute, WebhookDelivery

from .streams import (
    BURST_END,
    BURST_START,
    LABEL_RULES,
    T0,
    TOPICS,
    Item,
    replay,
    stream,
    volume_burst,
    write_items,
)

pytestmark = pytest.mark.integration

# The label signal's rules (test_reading_signal.py tests the reading signal).
RULES = LABEL_RULES


def alerts(session_factory, scope: str | None = None) -> list[Alert]:
    with transaction(session_factory) as session:
        stmt = select(Alert).order_by(Alert.id)
        if scope:
            stmt = stmt.where(Alert.scope == scope)
        return list(session.scalars(stmt))


def test_burst_in_one_topic_opens_one_alert_that_resolves_after_it(session_factory):
    with transaction(session_factory) as session:
        add_endpoint("http://127.0.0.1:9/hook", allow_private=True, session=session)
    replay(stream(seed=1, burst=volume_burst()), session_factory, RULES, every=timedelta(minutes=10))

    [earnings] = alerts(session_factory, "Earnings")
    assert BURST_START < earnings.opened_at <= BURST_START + timedelta(minutes=30)
    assert earnings.status == "resolved"
    assert BURST_END < earnings.resolved_at <= BURST_END + timedelta(minutes=70)
    assert earnings.peak_share >= 0.55  # about 32 negative of 50 an hour at the height of the burst
    assert len(earnings.examples) == 3
    assert all(e["topic"] == "Earnings" and e["p_negative"] > 0.5 for e in earnings.examples)
    assert any("plunge" in e["headline"] for e in earnings.examples)
    # The burst adds 30 negative headlines an hour to 80 others (8 negative): all topics together go
    # from 10% to about 35% negative, well over min_rise, so the all-topics scope alerts too, once.
    [overall] = alerts(session_factory, ALL_TOPICS)
    assert BURST_START < overall.opened_at <= BURST_START + timedelta(minutes=40)
    assert overall.status == "resolved" and overall.resolved_at > BURST_END
    assert {a.scope for a in alerts(session_factory)} == {"Earnings", ALL_TOPICS}
    # One episode across scopes: one group, so the endpoint hears "opened" once (Earnings, first to open,
    # leads), "updated" when all topics joins, and "resolved" once both have resolved.
    assert earnings.group_id is not None and overall.group_id == earnings.group_id
    with transaction(session_factory) as session:
        deliveries = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    events = [(d.alert_id, d.event_type) for d in deliveries]
    if earnings.opened_at == overall.opened_at:
        assert events == [(overall.id, "alert.opened"), (overall.id, "alert.resolved")]
    else:
        assert events == [(earnings.id, "alert.opened"), (earnings.id, "alert.updated"),
                          (earnings.id, "alert.resolved")]
    opened, resolved = deliveries[0], deliveries[-1]
    data = next(c for c in opened.payload["data"]["children"] if c["scope"] == "Earnings")
    assert opened.payload["type"] == "alert.opened"
    figures = data["opening"]
    assert figures["observed_share"] > figures["baseline_share"] + 0.15
    assert figures["window_count"] >= 10 and figures["p_value"] < 0.001
    assert data["dashboard_url"].endswith(f"alert_id={earnings.id}") and data["resolution"] is None
    assert resolved.payload["type"] == "alert.resolved"
    assert sorted(c["scope"] for c in resolved.payload["data"]["children"]) == sorted(["Earnings", ALL_TOPICS])
    done = next(c for c in resolved.payload["data"]["children"] if c["scope"] == "Earnings")
    assert done["opening"] == figures  # the opening figures survive the episode
    assert done["resolution"]["window_count"] >= RULES.min_count
    assert done["resolution"]["observed_share"] < done["opening"]["baseline_share"] + 0.075
    assert done["peak"]["observed_share"] >= 0.55


def test_sentiment_flip_in_one_of_eight_topics_is_diluted_on_all_topics(session_factory):
    topics = [*TOPICS, "Dividend", "IPO", "Politics", "Markets"]
    flip = [
        Item(it.at, it.topic, "negative" if i % 5 else it.sentiment, it.text)
        for i, it in enumerate(stream(seed=2, topics=topics))
        if it.topic == "Macro" and BURST_START <= it.at < BURST_END
    ]
    flipped = {(f.at, f.topic) for f in flip}
    items = [it for it in stream(seed=2, topics=topics) if (it.at, it.topic) not in flipped] + flip
    replay(items, session_factory, RULES, every=timedelta(minutes=10))
    # Macro goes from ~10% to ~80% negative; overall that is 8 more negatives in 160 (+5 points),
    # under min_rise, so only Macro alerts.
    assert [(a.scope, a.status) for a in alerts(session_factory)] == [("Macro", "resolved")]


@pytest.mark.parametrize("seed", [3, 4])
def test_stream_without_burst_opens_nothing(session_factory, seed):
    results = replay(stream(seed=seed), session_factory, RULES, every=timedelta(minutes=10))
    latest = max(it.at for it in stream(seed=seed))  # the step holding it is judged whole
    assert len(results) > 100 and results[-1].now - timedelta(minutes=10) < latest <= results[-1].now
    assert alerts(session_factory) == []


def test_episode_fires_once_and_updates_while_it_lasts(session_factory):
    with transaction(session_factory) as session:
        write_items(stream(seed=5, burst=volume_burst()), session=session)
    detector = NegativeShareDetector(RULES)
    opened = []
    for minutes in range(0, 90, 5):
        with transaction(session_factory) as session:
            result = detector.check(session=session, now=BURST_START + timedelta(minutes=minutes))
            opened += [a.scope for a in result.opened]
    assert sorted(opened) == sorted([ALL_TOPICS, "Earnings"])
    [earnings] = alerts(session_factory, "Earnings")
    assert earnings.status == "open" and earnings.updated_at == BURST_START + timedelta(minutes=85)
    assert earnings.peak_share >= earnings.observed_share
    assert earnings.window_end == BURST_START + timedelta(minutes=85)


def test_uses_each_articles_latest_prediction(session_factory):
    quiet = stream(seed=6)
    burst = volume_burst()
    with transaction(session_factory) as session:
        write_items(quiet, session=session)
        ids = write_items([Item(b.at, b.topic, "neutral", b.text) for b in burst], session=session)
        assert len(ids) == len(burst)
    now = BURST_START + timedelta(minutes=45)
    assert check_alerts(RULES, session_factory, now=now).opened == []
    # A newer model version re-labels the same articles negative: only the newest prediction counts.
    with transaction(session_factory) as session:
        from monitor.store.orm import Prediction

        rows = session.scalars(select(Prediction).where(Prediction.article_id.in_(ids))).all()
        for p in rows:
            session.add(
                Prediction(
                    article_id=p.article_id,
                    model_version="test-2",
                    topic=p.topic,
                    topic_confidence=0.9,
                    sentiment="negative",
                    sentiment_confidence=0.9,
                    p_negative=0.9,
                    p_neutral=0.05,
                    p_positive=0.05,
                )
            )
    result = check_alerts(RULES, session_factory, now=now)
    assert "Earnings" in [a.scope for a in result.opened]
    in_window = [b for b in quiet + burst if b.topic == "Earnings" and now - timedelta(hours=1) < b.at <= now]
    assert alerts(session_factory, "Earnings")[0].window_count == len(in_window)  # once each, not twice


def test_muted_scope_does_not_open(session_factory):
    with transaction(session_factory) as session:
        write_items(stream(seed=7, burst=volume_burst()), session=session)
        session.add(AlertMute(scope="Earnings", muted_until=datetime.now(UTC) + timedelta(hours=1)))
        session.add(
            AlertMute(scope=ALL_TOPICS, muted_until=datetime.now(UTC) - timedelta(hours=1))
        )  # expired
    result = check_alerts(RULES, session_factory, now=BURST_START + timedelta(minutes=45))
    assert result.muted == ["Earnings"]
    assert [a.scope for a in result.opened] == [ALL_TOPICS]


@pytest.mark.parametrize(("cooldown", "episodes"), [(240, 1), (30, 2)])
def test_cooldown_blocks_a_new_episode_right_after_resolving(session_factory, cooldown, episodes):
    first = volume_burst()
    # The first episode resolves only once an hour holds enough articles back near its frozen baseline
    # (about 14:30); the second burst starts 70 minutes after that.
    second = [Item(b.at + timedelta(hours=3, minutes=40), b.topic, b.sentiment, b.text) for b in first]
    with transaction(session_factory) as session:
        write_items(stream(seed=8, burst=first + second), session=session)
    strict = RULES.model_copy(update={"cooldown_minutes": cooldown})
    detector = NegativeShareDetector(strict)
    cooling = []
    for minutes in range(0, 6 * 60, 10):
        with transaction(session_factory) as session:
            cooling += detector.check(
                session=session, now=BURST_START + timedelta(minutes=minutes)
            ).cooling_down
    earnings = alerts(session_factory, "Earnings")
    assert len(earnings) == episodes  # a second burst after the cooldown is a new episode
    assert ("Earnings" in cooling) is (episodes == 1)
    assert all(a.status == "resolved" for a in earnings[:-1])


def test_alert_and_outbox_rows_commit_or_roll_back_together(session_factory):
    with transaction(session_factory) as session:
        write_items(stream(seed=9, burst=volume_burst()), session=session)
        add_endpoint("http://127.0.0.1:9/all", allow_private=True, session=session)
        add_endpoint("http://127.0.0.1:9/earn", topics=["Earnings"], allow_private=True, session=session)
        add_endpoint("http://127.0.0.1:9/macro", topics=["Macro"], allow_private=True, session=session)
    now = BURST_START + timedelta(minutes=45)
    with pytest.raises(RuntimeError), transaction(session_factory) as session:
        assert NegativeShareDetector(RULES).check(session=session, now=now).opened
        raise RuntimeError("crash before commit")
    with transaction(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 0
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    check_alerts(RULES, session_factory, now=now)
    with transaction(session_factory) as session:
        rows = session.execute(
            select(Alert.scope, WebhookDelivery.endpoint_id).join(Alert, Alert.id == WebhookDelivery.alert_id)
        ).all()
    # One group, one notification per matching endpoint: endpoint 1 (no filter) led by all topics,
    # endpoint 2 led by Earnings (its filter), endpoint 3 (Macro) nothing.
    assert sorted(rows) == sorted([(ALL_TOPICS, 1), ("Earnings", 2)])


def test_two_detectors_at_once_open_each_alert_once(session_factory):
    with transaction(session_factory) as session:
        write_items(stream(seed=10, burst=volume_burst()), session=session)
        add_endpoint("http://127.0.0.1:9/all", allow_private=True, session=session)
    now = BURST_START + timedelta(minutes=45)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait()
            check_alerts(RULES, session_factory, now=now)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(a.scope for a in alerts(session_factory)) == sorted([ALL_TOPICS, "Earnings"])
    with transaction(session_factory) as session:
        [delivery] = session.scalars(select(WebhookDelivery)).all()
    assert sorted(c["scope"] for c in delivery.payload["data"]["children"]) == sorted([ALL_TOPICS, "Earnings"])


def test_no_articles_means_nothing_to_check(session_factory):
    result = check_alerts(RULES, session_factory)
    assert result.now is None and result.opened == []


def test_burst_between_two_runs_is_still_caught_by_stepping_through_event_time(session_factory):
    """A fast replay (or a scheduler that fell behind) stores the whole burst and what follows it
    between two runs; the detector steps through the unevaluated event time instead of only
    looking at the latest window, so the burst still opens (and resolves) its alert."""
    items = stream(seed=3, burst=volume_burst())
    before = [it for it in items if it.at < BURST_START - timedelta(hours=1)]
    with transaction(session_factory) as session:
        write_items(before, session=session)
    check_alerts(RULES, session_factory)  # first run: evaluates only the watermark
    assert alerts(session_factory) == []
    with transaction(session_factory) as session:
        write_items([it for it in items if it not in before], session=session)
    result = check_alerts(RULES.model_copy(update={"step_minutes": 10}), session_factory)

    [earnings] = alerts(session_factory, "Earnings")
    assert BURST_START < earnings.opened_at <= BURST_START + timedelta(minutes=30)
    assert earnings.status == "resolved" and earnings.resolved_at > BURST_END
    assert {a.scope for a in result.opened} == {"Earnings", ALL_TOPICS}


def test_first_run_without_checkpoint_evaluates_from_the_first_event(session_factory):
    """A backfilled history checked for the first time: every step from the first stored event is
    evaluated, not only the latest window (which here is quiet)."""
    with transaction(session_factory) as session:
        write_items(stream(seed=3, burst=volume_burst()), session=session)
    result = check_alerts(RULES, session_factory)
    assert result.evaluated_from <= T0 and result.steps >= 20 * 6
    [earnings] = alerts(session_factory, "Earnings")
    assert BURST_START < earnings.opened_at <= BURST_START + timedelta(minutes=30)
    assert earnings.status == "resolved" and earnings.resolved_at > BURST_END


def test_burst_in_a_topic_without_history_is_judged_against_all_topics(session_factory):
    """A topic that hardly ever appears has no baseline of its own; a sudden run of negative news in it
    is exactly what should alert, so it is compared with the baseline of all topics together."""
    rare = "IPO"
    burst = [Item(BURST_START + timedelta(minutes=2 * i), rare, "negative", f"IPO pulled {i}") for i in range(30)]
    at_open = []
    rules = RULES.model_copy(update={"baseline_minutes": 6 * 60})  # data covers the baseline by the burst
    replay(stream(seed=4, burst=burst), session_factory, rules, every=timedelta(minutes=10),
           on_check=lambda r: at_open.extend((a.baseline_count, a.baseline_share, a.observed_share)
                                             for a in r.opened if a.scope == rare))
    [ipo] = alerts(session_factory, rare)
    assert BURST_START < ipo.opened_at <= BURST_START + timedelta(minutes=40)
    [(baseline_count, baseline_share, observed_share)] = at_open
    assert baseline_count >= RULES.min_baseline_count  # the all-topics baseline, not IPO's (empty) one
    assert baseline_share < 0.2 and observed_share > 0.9
