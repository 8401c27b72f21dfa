"""The worker's side of the detector's watermark, through the real broker and Postgres: each stored batch moves its
partitions' progress, the worker reports every assigned partition's backlog, and checks run while it reads three
partitions unevenly never judge a window before its articles are stored."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from kafka import KafkaProducer
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from monitor.alerts import replay_alerts
from monitor.alerts.detector import NegativeShareDetector, get_checkpoint
from monitor.settings import AlertSettings, Settings
from monitor.store.orm import Alert, Article
from tests.alerts.streams import decisions, grouping

from .conftest import wait_until
from .fakes import FakePredictor

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 1, tzinfo=UTC)
RULES = AlertSettings(signal="label", window_scales_minutes=[60, 360], baseline_minutes=720, min_count=5,
                      min_baseline_count=10)


BURST = (T0 + timedelta(hours=15), T0 + timedelta(hours=18))  # every headline falls: the all-topics scope alerts


def produce(bootstrap: str, topic: str, per_partition: dict[int, list[datetime]]) -> None:
    """Each partition's messages in event-time order, sent to that partition; a quarter negative, all in BURST."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    for partition, times in per_partition.items():
        for i, at in enumerate(times):
            falls = i % 4 == 0 or BURST[0] < at <= BURST[1]
            body = {"text": f"p{partition} headline {i}: shares {'falls' if falls else 'rises'}",
                    "published_at": at.isoformat()}
            producer.send(topic, value=json.dumps(body).encode(), partition=partition)
    producer.flush()
    producer.close()


def progress_rows(engine: Engine) -> dict[int, dict]:
    with engine.connect() as conn:
        rows = conn.execute(text("select * from partition_progress")).mappings().all()
    return {r["partition"]: dict(r) for r in rows}


@dataclass
class SlowPredictor(FakePredictor):
    """Takes a while per batch, so a run of checks sees the partitions at many stages."""

    seconds: float = 0.02

    def predict(self, texts):
        time.sleep(self.seconds)
        return super().predict(texts)


def test_the_worker_moves_each_partitions_progress_and_reports_its_backlog(
    fast_settings: Settings, clean_db: Engine, start_worker, broker
) -> None:
    topic = fast_settings.kafka.input_topic
    times = {p: [T0 + timedelta(minutes=10 * i + p) for i in range(20 + 5 * p)] for p in range(3)}
    produce(broker.bootstrap_servers, topic, times)
    worker = start_worker()
    wait_until(lambda: _count(clean_db) == 75, 60, "75 articles")
    rows = wait_until(lambda: (r := progress_rows(clean_db)) and all(x["lag"] == 0 for x in r.values()) and r,
                      20, "a heartbeat reporting no backlog on the three partitions")
    worker.stop()
    assert sorted(rows) == [0, 1, 2]
    for p, row in rows.items():
        assert row["topic"] == topic
        assert row["event_time"] == times[p][-1] and row["stored_offset"] == len(times[p]) - 1
        assert row["stored_at"] is not None and row["lag_at"] is not None and row["worker_id"]


def check_while_stored(engine: Engine, total: int, timeout: float,
                       between: Callable[[int], None] = lambda stored: None) -> list[tuple[datetime, int]]:
    """Run the detector in a loop until ``total`` articles are stored; after each check, in the same snapshot, count
    the articles at or before its checkpoint. ``between(stored)`` runs after each check."""
    repeatable = engine.execution_options(isolation_level="REPEATABLE READ")
    seen: list[tuple[datetime, int]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Session(repeatable) as session, session.begin():
            NegativeShareDetector(RULES).check(session=session)
            judged = get_checkpoint(session=session)
            stored = session.scalar(select(func.count()).select_from(Article))
            if judged is not None:
                seen.append((judged, session.scalar(select(func.count()).where(Article.event_time <= judged))))
        between(stored)
        if stored == total:
            break
        time.sleep(0.01)
    assert _count(engine) == total
    return seen


def judged_early(seen: list[tuple[datetime, int]], times: dict[int, list[datetime]]) -> list[tuple]:
    """The checks whose judged stretch later got articles: (checkpoint, articles then, articles in the end)."""
    everything = [t for ts in times.values() for t in ts]
    final = [(c, n, sum(t <= c for t in everything)) for c, n in seen]
    return [x for x in final if x[1] != x[2]]


def test_checks_during_an_uneven_read_of_three_partitions_never_judge_a_window_early(
    fast_settings: Settings, clean_db: Engine, start_worker, broker
) -> None:
    """One worker, three partitions filled before it starts (as a replay, or a worker back from an outage): it
    stores them in whatever order its fetches bring. A check runs in a loop meanwhile; in the same snapshot as
    each check, the articles at or before its checkpoint are counted. Articles stored later never add to that
    count: no window was judged before all of its articles were in."""
    times = {p: [T0 + timedelta(minutes=10 * i + 3 * p) for i in range(150)] for p in range(3)}
    produce(broker.bootstrap_servers, fast_settings.kafka.input_topic, times)
    worker = start_worker(SlowPredictor())
    seen = check_while_stored(clean_db, 450, timeout=90)
    assert len({c for c, _ in seen}) >= 3, f"too few distinct checkpoints to test anything: {seen[:5]}"
    late = judged_early(seen, times)
    assert late == [], f"{len(late)} check(s) judged windows that later got articles: {late[:3]}"
    decided_as_a_replay_would(clean_db, [worker])


def test_checks_while_a_second_worker_joins_mid_stream_never_judge_a_window_early(
    fast_settings: Settings, clean_db: Engine, start_worker, broker
) -> None:
    """A rebalance in the middle: the second member is given partitions the first had half read (the first drops
    what it had polled of them); it announces them before storing any of their batches."""
    times = {p: [T0 + timedelta(minutes=10 * i + 3 * p) for i in range(300)] for p in range(3)}
    produce(broker.bootstrap_servers, fast_settings.kafka.input_topic, times)

    def member(name: str) -> Settings:
        own = fast_settings.model_copy(deep=True)
        own.metrics.worker_id = name
        return own

    first = start_worker(SlowPredictor(seconds=0.3), settings=member("first"))
    joined = []

    def join_once(stored: int) -> None:
        if not joined and stored >= 100:
            joined.append(start_worker(SlowPredictor(seconds=0.3), settings=member("second")))

    seen = check_while_stored(clean_db, 900, timeout=120, between=join_once)
    with clean_db.connect() as conn:
        owners = set(conn.execute(text("select worker_id from partition_progress")).scalars())
    assert owners == {"first", "second"}, f"the second worker never took a partition over: {owners}"
    late = judged_early(seen, times)
    assert late == [], f"{len(late)} check(s) judged windows that later got articles: {late[:3]}"
    decided_as_a_replay_would(clean_db, [first, *joined])


def decided_as_a_replay_would(engine: Engine, workers: list) -> None:
    """Once the stream is stored and the partitions go quiet, the alerts the checks decided while it was being
    read are those one replay of the stored stream decides, figures and groups included (steps on one grid)."""
    for worker in workers:
        worker.stop()
    with engine.begin() as conn:  # the partitions went quiet a while ago
        conn.execute(text("update partition_progress set stored_at = stored_at - interval '1 hour', lag = 0"))
    with Session(engine) as session, session.begin():
        NegativeShareDetector(RULES).check(session=session)
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session:
        live = list(session.scalars(select(Alert)))
    replayed = replay_alerts(RULES, factory).alerts
    assert any(a.opened_at > BURST[0] for a in live), "the burst raised no alert: nothing to compare"
    assert decisions(live) == decisions(replayed)
    assert grouping(live) == grouping(replayed)


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("select count(*) from articles")).scalar_one()
