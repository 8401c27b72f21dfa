"""The detector's watermark on a real Postgres: the scheduled check judges no window before every partition still
receiving data has stored past it (partition progress written by the real sink and the heartbeat's backlog)."""

from __future__ import annotations

import logging
import random
import re
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text, update

from monitor.alerts import backfill_alerts, check_alerts, replay_alerts
from monitor.alerts.detector import BackfillOverlap, get_checkpoint
from monitor.alerts.status import Progress
from monitor.alerts.watermark import JUST_BEFORE, PartitionState, Watermark, grid_ceil, grid_floor
from monitor.model.prediction import TextPrediction
from monitor.store import transaction
from monitor.store.orm import Alert, Article, Base, PartitionProgress
from monitor.stream.heartbeat import HeartbeatReporter
from monitor.stream.message import NewsMessage
from monitor.stream.sink import PostgresSink, ScoredArticle

from .streams import LABEL_RULES, T0, TOPICS, Item, decisions, grouping, stream, volume_burst

pytestmark = pytest.mark.integration

RULES = LABEL_RULES
STEP = timedelta(minutes=RULES.step_minutes)
PROBS = {"negative": (0.9, 0.05, 0.05), "neutral": (0.1, 0.8, 0.1), "positive": (0.05, 0.05, 0.9)}


class Feed:
    """Stores items as the worker does (real sink: articles, predictions and partition progress in one
    transaction), each partition's items in event-time order with its own offsets."""

    def __init__(self, factory, topic: str = "news") -> None:
        self.sink = PostgresSink(factory)
        self.topic = topic
        self.offsets: dict[int, int] = {}

    def store(self, partition: int, items: list[Item]) -> None:
        rows = []
        for it in items:
            offset = self.offsets.get(partition, 0)
            self.offsets[partition] = offset + 1
            n, neu, pos = PROBS[it.sentiment]
            prediction = TextPrediction(it.topic, 0.9, it.sentiment, 0.9, n, neu, pos)
            rows.append(ScoredArticle(self.topic, partition, offset, NewsMessage(text=it.text, published_at=it.at),
                                      prediction, it.at))
        if rows:
            self.sink.write(rows, "test-1")


def progress(factory) -> dict[int, PartitionProgress]:
    with transaction(factory) as session:
        rows = session.scalars(select(PartitionProgress)).all()
        session.expunge_all()
    return {r.partition: r for r in rows}


def age(factory, *, stored: float = 0, advanced: float = 0, lag: float = 0, partition: int | None = None) -> None:
    """Move a partition's (or every partition's) wall-clock stamps into the past by that many seconds."""
    with transaction(factory) as session:
        stmt = update(PartitionProgress).values(
            stored_at=PartitionProgress.stored_at - timedelta(seconds=stored),
            advanced_at=PartitionProgress.advanced_at - timedelta(seconds=advanced),
            lag_at=PartitionProgress.lag_at - timedelta(seconds=lag),
            announced_at=PartitionProgress.announced_at - timedelta(seconds=advanced),
            created_at=PartitionProgress.created_at - timedelta(seconds=advanced),
        )
        if partition is not None:
            stmt = stmt.where(PartitionProgress.partition == partition)
        session.execute(stmt)


def checkpoint(factory) -> datetime | None:
    with transaction(factory) as session:
        return get_checkpoint(session=session)


def on_grid(t: datetime) -> datetime:
    return grid_floor(t, STEP)


def split(items: list[Item], partitions: int) -> dict[int, list[Item]]:
    """Items spread over partitions round-robin in event-time order (each partition in order)."""
    ordered = sorted(items, key=lambda it: it.at)
    return {p: ordered[p::partitions] for p in range(partitions)}


# -- the pure rule ------------------------------------------------------------------------------


def test_the_limit_is_the_slowest_counting_partition_and_nothing_while_one_has_stored_nothing():
    latest = T0 + timedelta(hours=5)
    a = PartitionState("news", 0, T0 + timedelta(hours=4), None)
    b = PartitionState("news", 1, T0 + timedelta(hours=2), 7)
    assert Watermark().limit(latest) == latest and Watermark().holders(latest) == []
    # Just before the slowest partition's newest event: another article with that very time may follow it.
    assert Watermark([a, b]).limit(latest) == T0 + timedelta(hours=2) - JUST_BEFORE
    assert Watermark([a, b]).holders(latest) == [b]
    ahead = PartitionState("news", 2, T0 + timedelta(hours=9), None)  # a future-dated row cannot lift the limit
    assert Watermark([ahead]).limit(latest) == latest and Watermark([ahead]).holders(latest) == []
    level = PartitionState("news", 2, latest, None)  # caught up: holds nothing back, judges up to just before
    assert Watermark([level]).limit(latest) == latest - JUST_BEFORE and Watermark([level]).holders(latest) == []
    empty = PartitionState("news", 3, None, None, backlog_unknown=True)
    assert Watermark([a, empty]).limit(latest) is None
    assert Watermark([a, empty]).holders(latest) == [empty]
    assert "backlog not known yet" in empty.describe() and "nothing stored yet" in empty.describe()
    assert "7 message(s) behind" in b.describe()


def test_steps_end_on_one_grid_from_the_epoch_and_a_quiet_feed_is_judged_to_its_latest_step_not_past_the_clock():
    step = timedelta(minutes=10)
    t = datetime(2024, 3, 1, 8, 57, 3, tzinfo=T0.tzinfo)
    assert grid_floor(t, step) == t.replace(minute=50, second=0) and grid_ceil(t, step) == t.replace(hour=9, minute=0,
                                                                                                        second=0)
    on = t.replace(minute=50, second=0)
    assert grid_floor(on, step) == on == grid_ceil(on, step)
    assert grid_floor(on - JUST_BEFORE, step) == on - step  # an event exactly at a step end belongs to that step
    odd = timedelta(minutes=7)  # any step: its multiples since the epoch
    assert (grid_floor(t, odd) - datetime(1970, 1, 1, tzinfo=T0.tzinfo)) % odd == timedelta(0)
    # Nothing counts (a quiet feed, or no progress reported): the latest event's step, whole, unless the clock is
    # still inside it (a real-time feed's current step is not over).
    assert Watermark().judge_until(t, t + timedelta(days=1), step) == t.replace(hour=9, minute=0, second=0)
    assert Watermark().judge_until(t, t + timedelta(minutes=1), step) == on
    # A partition counts: the last step end before it (it may still get articles at its newest event's time).
    level = PartitionState("news", 0, on, None)
    assert Watermark([level]).judge_until(t, t + timedelta(days=1), step) == on - step
    assert Watermark([PartitionState("news", 0, None, None, True)]).judge_until(t, t, step) is None


def test_the_status_line_says_how_far_the_next_check_will_judge():
    latest = T0 + timedelta(hours=5, minutes=3)
    ahead = Progress(T0 + timedelta(hours=4), latest, T0 + timedelta(hours=5), ["news[1] (…)"], [])
    assert ahead.line().endswith(f"latest event {latest.isoformat()}; the next check judges up to "
                                 f"{(T0 + timedelta(hours=5)).isoformat()}, held by news[1] (…)")
    level = Progress(T0 + timedelta(hours=5), latest, T0 + timedelta(hours=5), [], ["news[3] (…)"])
    assert "the next check waits for the next step's end; going on without news[3] (…) (not moving)" in level.line()
    assert Progress(None, latest, None, ["news[2] (…)"], []).line() == (
        f"detector not run yet; latest event {latest.isoformat()}; the next check waits at its checkpoint, "
        "held by news[2] (…)")


# -- what the worker writes ---------------------------------------------------------------------


def test_a_batch_moves_its_partitions_progress_in_its_own_transaction(session_factory):
    feed = Feed(session_factory)
    t = [T0 + timedelta(minutes=m) for m in range(6)]
    feed.sink.write([
        ScoredArticle("news", 0, 0, NewsMessage(text="a", published_at=t[1]), _prediction(), t[1]),
        ScoredArticle("news", 0, 1, NewsMessage(text="b", published_at=t[3]), _prediction(), t[3]),
        ScoredArticle("news", 1, 0, NewsMessage(text="c", published_at=t[2]), _prediction(), t[2]),
    ], "test-1")
    first = progress(session_factory)
    assert {p: (r.event_time, r.stored_offset) for p, r in first.items()} == {0: (t[3], 1), 1: (t[2], 0)}
    assert all(r.stored_at is not None and r.advanced_at == r.stored_at for r in first.values())

    # A late article (dated before the partition's newest) and a duplicate: stored_at moves, the time does not.
    age(session_factory, stored=30, advanced=30)
    feed.sink.write([
        ScoredArticle("news", 0, 2, NewsMessage(text="late", published_at=t[0]), _prediction(), t[0]),
        ScoredArticle("news", 1, 0, NewsMessage(text="c", published_at=t[2]), _prediction(), t[2]),
    ], "test-1")
    second = progress(session_factory)
    assert second[0].event_time == t[3] and second[0].stored_offset == 2
    assert second[1].event_time == t[2] and second[1].stored_offset == 0
    for p in (0, 1):
        assert second[p].stored_at > first[p].stored_at  # still receiving
        assert second[p].advanced_at < second[p].stored_at  # but not moving forward
    # A newer article moves it forward again.
    feed.sink.write([ScoredArticle("news", 1, 1, NewsMessage(text="d", published_at=t[5]), _prediction(), t[5])],
                    "test-1")
    third = progress(session_factory)
    assert third[1].event_time == t[5] and third[1].advanced_at == third[1].stored_at


def test_a_refused_batch_moves_no_progress(session_factory):
    feed = Feed(session_factory)
    bad = ScoredArticle("news", 0, 0, NewsMessage(text="x", external_id="x" * 600, published_at=T0), _prediction(), T0)
    with pytest.raises(Exception):  # noqa: B017 - the sink's typed refusal; what matters is nothing moved
        feed.sink.write_encoded([feed.sink.encode(bad, "test-1", 0)])
    assert progress(session_factory) == {}


def test_the_heartbeat_reports_each_partitions_backlog_without_touching_its_progress(session_factory):
    Feed(session_factory).store(0, [Item(T0, "Macro", "neutral")])
    reporter = HeartbeatReporter("w-1", session_factory, interval=5)
    reporter.report_backlog({("news", 0): 4, ("news", 1): None})
    rows = progress(session_factory)
    assert (rows[0].lag, rows[0].worker_id, rows[0].event_time) == (4, "w-1", T0)
    assert rows[1].lag is None and rows[1].lag_at is not None and rows[1].event_time is None


# -- what the check does with it ----------------------------------------------------------------


def test_the_check_stops_where_the_slowest_partition_has_got_to_and_goes_on_once_it_catches_up(session_factory):
    items = stream(seed=21, burst=volume_burst())
    parts = split(items, 3)
    feed = Feed(session_factory)
    behind = T0 + timedelta(hours=9)
    feed.store(0, parts[0])
    feed.store(1, parts[1])
    feed.store(2, [it for it in parts[2] if it.at <= behind])
    held = check_alerts(RULES, session_factory)
    slowest = max(it.at for it in parts[2] if it.at <= behind)
    assert held.now == on_grid(slowest - JUST_BEFORE) == checkpoint(session_factory)
    assert held.latest == max(it.at for it in items) > held.now
    assert len(held.held_by) == 1 and held.held_by[0].startswith(f"news[2] ({slowest.isoformat()}")

    feed.store(2, [it for it in parts[2] if it.at > behind])
    caught_up = check_alerts(RULES, session_factory)
    assert caught_up.now == on_grid(min(q[-1].at for q in parts.values()) - JUST_BEFORE)  # each may get more
    assert caught_up.evaluated_from <= held.now  # nothing between the two runs goes unjudged
    age(session_factory, stored=RULES.partition_idle_seconds + 1)  # the stream ended: the partitions go quiet
    final = check_alerts(RULES, session_factory)
    assert final.latest == max(it.at for it in items) and final.held_by == []
    assert final.now == grid_ceil(final.latest, STEP)  # the step holding the latest event is judged whole


def test_an_idle_partition_holds_nothing_back_but_a_backlog_does(session_factory):
    feed = Feed(session_factory)
    feed.store(0, [Item(T0 + timedelta(minutes=m), "Macro", "neutral") for m in range(0, 600, 5)])
    feed.store(1, [Item(T0 + timedelta(minutes=m), "Macro", "neutral") for m in range(0, 120, 5)])
    age(session_factory, stored=RULES.partition_idle_seconds + 5, advanced=RULES.partition_idle_seconds + 5,
        partition=1)
    assert check_alerts(RULES, session_factory).held_by == []  # partition 1 went quiet: a sparse feed
    assert checkpoint(session_factory) == T0 + timedelta(minutes=590)  # the step ending at 600 may still get more

    # Its worker now reports a backlog there: the check waits for it (nothing new is judged meanwhile).
    feed.store(0, [Item(T0 + timedelta(minutes=m), "Macro", "neutral") for m in range(600, 700, 5)])
    HeartbeatReporter("w-1", session_factory, interval=5).report_backlog({("news", 1): 250})
    result = check_alerts(RULES, session_factory)
    assert result.steps == 0 and checkpoint(session_factory) == T0 + timedelta(minutes=590)
    assert result.held_by == [f"news[1] ({(T0 + timedelta(minutes=115)).isoformat()}, 250 message(s) behind)"]

    # Its worker then goes silent (paused by a database outage, or gone before another took the partition):
    # the backlog it last reported still counts, up to the maximum hold, and no longer after it.
    age(session_factory, lag=RULES.partition_max_hold_seconds - 60, partition=1)
    assert check_alerts(RULES, session_factory).steps == 0
    age(session_factory, lag=120, advanced=RULES.partition_max_hold_seconds + 60, partition=1)
    assert check_alerts(RULES, session_factory).now == T0 + timedelta(minutes=690)

    # A backlog of 0, reported fresh, with nothing stored lately: not holding either.
    feed.store(0, [Item(T0 + timedelta(minutes=m), "Macro", "neutral") for m in range(700, 800, 5)])
    HeartbeatReporter("w-1", session_factory, interval=5).report_backlog({("news", 1): 0})
    assert check_alerts(RULES, session_factory).now == T0 + timedelta(minutes=790)


def test_a_partition_just_assigned_holds_everything_until_it_stores_or_knows_its_end(session_factory):
    feed = Feed(session_factory)
    feed.store(0, [Item(T0 + timedelta(minutes=m), "Macro", "neutral") for m in range(0, 300, 5)])
    HeartbeatReporter("w-2", session_factory, interval=5).report_backlog({("news", 1): None})
    first = check_alerts(RULES, session_factory)
    assert first.steps == 0 and checkpoint(session_factory) is None
    assert first.held_by == ["news[1] (nothing stored yet, backlog not known yet)"]
    with pytest.raises(BackfillOverlap, match=r"nothing to evaluate yet: news\[1\].*--until"):
        backfill_alerts(RULES, session_factory)
    # An explicit --until is the operator's call.
    done = backfill_alerts(RULES, session_factory, until=T0 + timedelta(minutes=100))
    assert done.now == T0 + timedelta(minutes=100) == checkpoint(session_factory)


def test_a_partition_that_stops_moving_forward_is_left_out_after_the_maximum_hold(session_factory, caplog):
    feed = Feed(session_factory)
    feed.store(0, [Item(T0 + timedelta(minutes=m), "Macro", "neutral") for m in range(0, 600, 5)])
    feed.store(1, [Item(T0 + timedelta(minutes=m), "Macro", "neutral") for m in range(0, 60, 5)])
    assert check_alerts(RULES, session_factory).now == T0 + timedelta(minutes=50)
    # Partition 1 keeps storing (old, re-sent articles) but has not moved forward for longer than the hold.
    age(session_factory, advanced=RULES.partition_max_hold_seconds + 1, partition=1)
    feed.store(1, [Item(T0 + timedelta(minutes=1), "Macro", "neutral")])
    with caplog.at_level(logging.WARNING, logger="monitor.alerts.watermark"):
        result = check_alerts(RULES, session_factory)
    assert result.now == T0 + timedelta(minutes=590) and result.held_by == []
    assert any("goes on without news[1]" in r.getMessage() for r in caplog.records)


def test_a_worker_resuming_after_an_outage_is_waited_for_although_nothing_moved_during_it(session_factory):
    """A long database outage: nothing moved anywhere for longer than the maximum hold. The worker that resumes
    first must not let the check judge past the partitions another worker is about to resume."""
    feed = Feed(session_factory)
    for p in (0, 1):
        feed.store(p, [Item(T0 + timedelta(minutes=m), "Macro", "neutral") for m in range(0, 300, 5)])
    HeartbeatReporter("w-0", session_factory, interval=5).report_backlog({("news", 0): 0})
    HeartbeatReporter("w-1", session_factory, interval=5).report_backlog({("news", 1): 40})
    age(session_factory, stored=1800, advanced=1800, lag=1800)  # half an hour without the database
    assert check_alerts(RULES, session_factory).held_by == []  # nothing known to be on its way: judged to the end
    # w-1 resumes and announces its backlog before storing; w-0 stores at once.
    HeartbeatReporter("w-1", session_factory, interval=5).report_backlog({("news", 1): 40})
    feed.store(0, [Item(T0 + timedelta(minutes=m), "Macro", "neutral") for m in range(300, 400, 5)])
    result = check_alerts(RULES, session_factory)
    assert result.steps == 0 and result.held_by == [f"news[1] ({(T0 + timedelta(minutes=295)).isoformat()}, "
                                                    "40 message(s) behind)"]


def test_the_watermark_can_be_turned_off_and_an_explicit_now_ignores_it(session_factory):
    feed = Feed(session_factory)
    feed.store(0, [Item(T0 + timedelta(minutes=m), "Macro", "neutral") for m in range(0, 600, 5)])
    feed.store(1, [Item(T0 + timedelta(minutes=m), "Macro", "neutral") for m in range(0, 60, 5)])
    at = T0 + timedelta(minutes=400)
    assert check_alerts(RULES, session_factory, now=at).now == at
    off = RULES.model_copy(update={"partition_idle_seconds": 0})
    assert check_alerts(off, session_factory).now == T0 + timedelta(minutes=600)  # the latest event's step, whole


def test_a_backfill_stops_at_the_watermark_unless_told_where_to_stop(session_factory):
    parts = split(stream(seed=22), 2)
    feed = Feed(session_factory)
    feed.store(0, parts[0])
    feed.store(1, parts[1][: len(parts[1]) // 2])
    slowest = parts[1][len(parts[1]) // 2 - 1].at
    result = backfill_alerts(RULES, session_factory)
    judged = on_grid(slowest - JUST_BEFORE)
    assert result.now == judged == checkpoint(session_factory) and result.held_by
    with pytest.raises(BackfillOverlap, match=r"news\[1\] \(.*\) is stored only up to .*wait for the workers"):
        backfill_alerts(RULES, session_factory, since=judged)
    feed.store(1, parts[1][len(parts[1]) // 2:])
    end = min(parts[0][-1].at, parts[1][-1].at)
    assert backfill_alerts(RULES, session_factory, since=judged).now == on_grid(end - JUST_BEFORE)


def test_an_explicit_until_judges_to_the_last_step_end_before_it_and_a_stretch_without_one_is_refused(
        session_factory):
    Feed(session_factory).store(0, [Item(T0 + timedelta(minutes=m), "Macro", "neutral") for m in range(0, 600, 5)])
    nope = r"steps end every 10 minutes on a grid and none ends after \S*:41:00\S* and at or before \S*:45:00\S* "
    nxt = re.escape(f"(the next at {(T0 + timedelta(minutes=110)).isoformat()}")
    with pytest.raises(BackfillOverlap, match=nope + nxt):
        backfill_alerts(RULES, session_factory, since=T0 + timedelta(minutes=101), until=T0 + timedelta(minutes=105))
    done = backfill_alerts(RULES, session_factory, until=T0 + timedelta(minutes=137))
    assert done.now == T0 + timedelta(minutes=130) == checkpoint(session_factory)
    later = backfill_alerts(RULES, session_factory, since=done.now, until=T0 + timedelta(days=30))
    assert later.now == T0 + timedelta(minutes=600)  # not past the latest event's step
    assert later.steps == 47


def test_without_the_watermark_a_check_judges_windows_a_slower_partition_fills_later(session_factory):
    """The failure the watermark exists for (and the property below would catch): partition 0 stored ahead."""
    parts = split(stream(seed=23), 2)
    feed = Feed(session_factory)
    off = RULES.model_copy(update={"partition_idle_seconds": 0})
    feed.store(0, parts[0])
    feed.store(1, parts[1][:10])
    judged = check_alerts(off, session_factory).now
    assert sum(it.at <= judged for it in parts[1][10:]) > 100  # stored after its windows were judged


# -- property: deliveries in any interleaving never land in a judged window ---------------------


def _truncate(factory) -> None:
    with transaction(factory) as session:
        session.execute(text(f"TRUNCATE {', '.join(t.name for t in Base.metadata.sorted_tables)} "
                             "RESTART IDENTITY CASCADE"))


@st.composite
def deliveries(draw, *, burst: bool | None = None):
    """A stream over 1-4 partitions (each in event-time order, ties allowed) and an interleaving of chunks of them."""
    n_partitions = draw(st.integers(1, 4))
    hours = draw(st.integers(4, 30))
    per_hour = draw(st.integers(2, 12))
    seed = draw(st.integers(0, 10_000))
    items = list(_background(hours, per_hour, seed))
    if draw(st.booleans()) if burst is None else burst:
        items += volume_burst()
    if draw(st.booleans()):  # a feed dated to the hour: several articles share a time, in one partition too
        items = [Item(it.at.replace(minute=0, second=0), it.topic, it.sentiment, it.text) for it in items]
    rng = random.Random(draw(st.integers(0, 10_000)))
    owner = [rng.randrange(n_partitions) for _ in items]
    ordered = sorted(items, key=lambda it: it.at)
    queues = {p: [it for it, o in zip(ordered, owner, strict=True) if o == p] for p in range(n_partitions)}
    schedule = []
    left = {p: len(q) for p, q in queues.items()}
    while any(left.values()):
        p = draw(st.sampled_from([p for p, n in left.items() if n]))
        take = draw(st.integers(1, max(1, left[p])))
        schedule.append((p, take, draw(st.booleans())))  # (partition, chunk, run a check after it)
        left[p] -= take
    return queues, schedule


def _background(hours: int, per_hour: int, seed: int):
    from .streams import background

    return background(T0 + timedelta(hours=12) - timedelta(hours=hours), hours + 8, TOPICS[:2],
                      per_hour=per_hour, negative=0.1, seed=seed)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=deliveries())
def test_no_article_is_stored_into_a_window_already_judged(session_factory, case):
    """Partitions delivered in any interleaving (the worker registers its partitions' backlog on assignment, as
    ``ConsumerEngine`` does): every article arrives dated after the checkpoint of every check before it, and once
    the partitions go quiet the check reaches the latest event."""
    queues, schedule = case
    _truncate(session_factory)
    feed = Feed(session_factory)
    HeartbeatReporter("w", session_factory, interval=5).report_backlog({("news", p): len(q) for p, q in queues.items()})
    done = {p: 0 for p in queues}
    for partition, take, check in schedule:
        chunk = queues[partition][done[partition]: done[partition] + take]
        judged = checkpoint(session_factory)
        assert judged is None or min(it.at for it in chunk) > judged, "an article arrived in a judged window"
        feed.store(partition, chunk)
        done[partition] += take
        if check:
            check_alerts(RULES, session_factory)
    HeartbeatReporter("w", session_factory, interval=5).report_backlog({("news", p): 0 for p in queues})
    age(session_factory, stored=RULES.partition_idle_seconds + 1)
    final = check_alerts(RULES, session_factory)
    assert final.latest == max(it.at for q in queues.values() for it in q) and final.held_by == []
    assert final.now == grid_ceil(final.latest, STEP)
    with transaction(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Article)) == sum(len(q) for q in queues.values())


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=deliveries(burst=True), signal=st.sampled_from(["label", "reading"]))
def test_checks_run_at_any_moments_decide_what_one_replay_of_the_whole_stream_decides(session_factory, case, signal):
    """Live checks between deliveries in any interleaving open, follow and resolve the same alerts with the same
    figures, in the same groups, as one replay over the complete stream: steps end on a grid, not where each
    check's watermark happened to stand (a replayed stream's outcome does not depend on how its fetches fell)."""
    queues, schedule = case
    rules = RULES.model_copy(update={"signal": signal})
    _truncate(session_factory)
    feed = Feed(session_factory)
    HeartbeatReporter("w", session_factory, interval=5).report_backlog({("news", p): len(q) for p, q in queues.items()})
    done = {p: 0 for p in queues}
    for partition, take, check in schedule:
        feed.store(partition, queues[partition][done[partition]: done[partition] + take])
        done[partition] += take
        if check:
            check_alerts(rules, session_factory)
    HeartbeatReporter("w", session_factory, interval=5).report_backlog({("news", p): 0 for p in queues})
    age(session_factory, stored=rules.partition_idle_seconds + 1)
    check_alerts(rules, session_factory)
    with transaction(session_factory) as session:
        live = list(session.scalars(select(Alert)))
        session.expunge_all()
    replayed = replay_alerts(rules, session_factory).alerts
    assert decisions(live) == decisions(replayed)
    assert grouping(live) == grouping(replayed)


def test_the_replay_property_has_alerts_to_compare(session_factory):
    """The stream the property above draws from does raise alerts (else it would compare empty lists)."""
    Feed(session_factory).store(0, sorted(list(_background(20, 6, 3)) + volume_burst(), key=lambda it: it.at))
    assert any(a.scope == "Earnings" for a in replay_alerts(RULES, session_factory).alerts)


def _prediction() -> TextPrediction:
    return TextPrediction("Macro", 0.9, "neutral", 0.9, *PROBS["neutral"])


def test_a_hold_is_logged_only_when_it_is_a_step_or_more(session_factory, caplog, monkeypatch):
    from monitor.alerts import detector

    monkeypatch.setattr(detector, "_HOLDS", detector.HoldNotices())  # no INFO line left over from another test
    feed = Feed(session_factory)
    feed.store(0, [Item(T0 + timedelta(minutes=m), "Macro", "neutral") for m in range(0, 300, 5)])
    feed.store(1, [Item(T0 + timedelta(minutes=m, seconds=30), "Macro", "neutral") for m in range(0, 295, 5)])
    with caplog.at_level(logging.INFO, logger="monitor.alerts.detector"):
        near = check_alerts(RULES, session_factory)  # partition 1 four and a half minutes behind: routine
        feed.store(0, [Item(T0 + timedelta(minutes=m), "Macro", "neutral") for m in range(300, 400, 5)])
        far = check_alerts(RULES, session_factory)  # now 95 minutes behind
    assert near.held_by and far.held_by
    held = [r.getMessage() for r in caplog.records if "held at" in r.getMessage()]
    assert len(held) == 1 and f"held at {(T0 + timedelta(minutes=290, seconds=30) - JUST_BEFORE).isoformat()}" \
        in held[0]


def test_a_lasting_hold_is_one_info_line_not_one_per_check(session_factory, caplog, monkeypatch):
    """The scheduler checks every few seconds; a stream replayed faster than real time stays held far behind at every
    check. Its INFO line comes when the hold starts, not at every check (those are DEBUG)."""
    from monitor.alerts import detector

    monkeypatch.setattr(detector, "_HOLDS", detector.HoldNotices())  # no hold left over from another test
    feed = Feed(session_factory)
    feed.store(0, [Item(T0 + timedelta(minutes=m), "Macro", "neutral") for m in range(0, 400, 5)])
    feed.store(1, [Item(T0 + timedelta(minutes=m, seconds=30), "Macro", "neutral") for m in range(0, 100, 5)])
    with caplog.at_level(logging.DEBUG, logger="monitor.alerts.detector"):
        for _ in range(5):
            assert check_alerts(RULES, session_factory).held_by
    held = [r for r in caplog.records if "held at" in r.getMessage()]
    assert len(held) == 5 and [r.levelno for r in held] == [logging.INFO] + [logging.DEBUG] * 4


def test_hold_notices_are_info_at_most_once_a_minute_whichever_partitions_hold():
    from monitor.alerts.detector import HoldNotices

    now = [0.0]
    notices = HoldNotices(every_s=60, clock=lambda: now[0])
    seen = []
    for t, far in [(0, False), (1, True), (5, True), (20, False), (30, True), (60, True), (61, True), (62, False),
                   (200, False), (201, True), (202, True)]:
        now[0] = t
        seen.append(notices.level(far))
    info, debug = logging.INFO, logging.DEBUG
    assert seen == [debug, info, debug, debug, debug, debug, info, debug, debug, info, debug]
