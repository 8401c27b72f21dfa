"""The worker's side of the detector's watermark, through the real broker and Postgres: each stored batch moves its
partitions' progress, the worker reports every assigned partition's backlog, and checks run while it reads three
partitions unevenly never judge a window before its articles are stored."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from kafka import KafkaProducer
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from monitor.alerts.detector import NegativeShareDetector, get_checkpoint
from monitor.settings import AlertSettings, Settings
from monitor.store.orm import Article

from .conftest import wait_until
from .fakes import FakePredictor

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 1, tzinfo=UTC)
RULES = AlertSettings(signal="label", window_scales_minutes=[60, 360], baseline_minutes=720, min_count=5,
                      min_baseline_count=10)


def produce(bootstrap: str, topic: str, per_partition: dict[int, list[datetime]]) -> None:
    """Each partition's messages in event-time order, sent to that partition."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    for partition, times in per_partition.items():
        for i, at in enumerate(times):
            body = {"text": f"p{partition} headline {i}: shares {'falls' if i % 4 == 0 else 'rises'}",
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


def test_checks_during_an_uneven_read_of_three_partitions_never_judge_a_window_early(
    fast_settings: Settings, clean_db: Engine, start_worker, broker
) -> None:
    """One worker, three partitions filled before it starts (as a replay, or a worker back from an outage): it
    stores them in whatever order its fetches bring. A check runs in a loop meanwhile; in the same snapshot as
    each check, the articles at or before its checkpoint are counted. Articles stored later never add to that
    count: no window was judged before all of its articles were in."""
    topic = fast_settings.kafka.input_topic
    per_partition = 150
    times = {p: [T0 + timedelta(minutes=10 * i + 3 * p) for i in range(per_partition)] for p in range(3)}
    produce(broker.bootstrap_servers, topic, times)
    repeatable = clean_db.execution_options(isolation_level="REPEATABLE READ")
    start_worker(SlowPredictor())
    seen: list[tuple[datetime, int]] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with Session(repeatable) as session, session.begin():
            NegativeShareDetector(RULES).check(session=session)
            judged = get_checkpoint(session=session)
            stored = session.scalar(select(func.count()).select_from(Article))
            if judged is not None:
                seen.append((judged, session.scalar(select(func.count()).where(Article.event_time <= judged))))
        if stored == 3 * per_partition:
            break
        time.sleep(0.01)
    assert _count(clean_db) == 3 * per_partition
    assert len({c for c, _ in seen}) >= 3, f"too few distinct checkpoints to test anything: {seen[:5]}"
    everything = [t for ts in times.values() for t in ts]
    late = [(c, n, sum(t <= c for t in everything)) for c, n in seen if sum(t <= c for t in everything) != n]
    assert late == [], f"{len(late)} check(s) judged windows that later got articles: {late[:3]}"


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("select count(*) from articles")).scalar_one()


def test_checks_while_a_second_worker_joins_mid_stream_never_judge_a_window_early(
    fast_settings: Settings, clean_db: Engine, start_worker, broker
) -> None:
    """A rebalance in the middle: the second member is given partitions the first had half read (the first drops
    what it had polled of them); it announces them before storing any of their batches."""
    topic = fast_settings.kafka.input_topic
    per_partition = 300
    times = {p: [T0 + timedelta(minutes=10 * i + 3 * p) for i in range(per_partition)] for p in range(3)}
    produce(broker.bootstrap_servers, topic, times)
    repeatable = clean_db.execution_options(isolation_level="REPEATABLE READ")

    def member(name: str) -> Settings:
        own = fast_settings.model_copy(deep=True)
        own.metrics.worker_id = name
        return own

    first = start_worker(SlowPredictor(seconds=0.3), settings=member("first"))
    second = None
    seen: list[tuple[datetime, int]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with Session(repeatable) as session, session.begin():
            NegativeShareDetector(RULES).check(session=session)
            judged = get_checkpoint(session=session)
            stored = session.scalar(select(func.count()).select_from(Article))
            if judged is not None:
                seen.append((judged, session.scalar(select(func.count()).where(Article.event_time <= judged))))
        if second is None and stored >= 100:
            second = start_worker(SlowPredictor(seconds=0.3), settings=member("second"))
        if stored == 3 * per_partition:
            break
        time.sleep(0.01)
    assert second is not None and _count(clean_db) == 3 * per_partition
    with clean_db.connect() as conn:
        owners = set(conn.execute(text("select worker_id from partition_progress")).scalars())
    assert owners == {"first", "second"}, f"the second worker never took a partition over: {owners}"
    everything = [t for ts in times.values() for t in ts]
    late = [(c, n, sum(t <= c for t in everything)) for c, n in seen if sum(t <= c for t in everything) != n]
    assert late == [], f"{len(late)} check(s) judged windows that later got articles: {late[:3]}"
    first.stop()
    second.stop()
