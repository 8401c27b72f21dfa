"""Helpers for the worker's integration tests: fast group settings, producing, reading back."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition
from sqlalchemy import Engine, text

from monitor.settings import Settings
from monitor.store import make_session_factory
from monitor.stream import StaticModelSource, StreamWorker, build_worker

from .fakes import FakePredictor

# Tansu completes a rebalance only after the rebalance timeout (= max poll interval); keep it short.
FAST_GROUP = {"session_timeout_ms": 3000, "heartbeat_interval_ms": 500, "max_poll_interval_ms": 4000}


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    for name, value in FAST_GROUP.items():
        setattr(settings.kafka, name, value)
    settings.stream.backoff_initial_seconds = 0.2
    settings.stream.backoff_max_seconds = 1.0
    settings.stream.max_batch_size = 16
    settings.stream.max_wait_ms = 50
    settings.metrics.heartbeat_seconds = 0.5
    return settings


def send(bootstrap: str, topic: str, values: list[bytes], keys: list[bytes | None] | None = None) -> dict:
    """Produce ``values``; returns ``{value_index: (partition, offset)}``."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    keys = keys or [None] * len(values)
    futures = [producer.send(topic, key=k, value=v) for k, v in zip(keys, values, strict=True)]
    producer.flush()
    where = {}
    for i, f in enumerate(futures):
        meta = f.get(timeout=30)
        where[i] = (meta.partition, meta.offset)
    producer.close()
    return where


def news(n: int, prefix: str = "headline") -> list[bytes]:
    return [json.dumps({"text": f"{prefix} {i}: shares rise on results"}).encode() for i in range(n)]


def stored(engine: Engine) -> list[tuple]:
    """(kafka_partition, kafka_offset, external_id, text, predictions) of every stored article."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "select a.kafka_partition, a.kafka_offset, a.external_id, a.text, count(p.id) "
                    "from articles a left join predictions p on p.article_id = a.id "
                    "group by a.id order by a.kafka_partition, a.kafka_offset"
                )
            )
        )


def count_stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("select count(*) from articles")).scalar_one()


def wait_until(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 20.0) -> list[Any]:
    """Every record of ``topic`` (no group), waiting until at least ``expected`` arrived."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=500,
    )
    try:
        partitions = wait_until(lambda: consumer.partitions_for_topic(topic), timeout, f"topic {topic}")
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        got: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=300).values():
                got.extend(batch)
        # A little longer, so that extra (duplicate) records would show up too.
        for batch in consumer.poll(timeout_ms=500).values():
            got.extend(batch)
        return got
    finally:
        consumer.close()


def committed_offsets(bootstrap: str, group: str, topic: str, partitions: int = 3) -> dict[int, int]:
    """The group's committed offsets (without joining the group)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        found = {p: consumer.committed(TopicPartition(topic, p)) for p in range(partitions)}
    finally:
        consumer.close(autocommit=False)
    return {p: o for p, o in found.items() if o is not None}


def expected_commits(where: dict[int, tuple[int, int]]) -> dict[int, int]:
    ends: dict[int, int] = {}
    for partition, offset in where.values():
        ends[partition] = max(ends.get(partition, 0), offset + 1)
    return ends


class WorkerThread:
    """A real worker (real consumer, Postgres sink, dead-letter producer) running in a thread."""

    def __init__(self, settings: Settings, engine: Engine, predictor: Any = None) -> None:
        self.predictor = predictor or FakePredictor()
        self.worker: StreamWorker = build_worker(
            settings, StaticModelSource(self.predictor), make_session_factory(engine)
        )
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.worker.run()
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    def start(self) -> WorkerThread:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self.worker.stop()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the worker did not stop"
        if self.error is not None:
            raise self.error


@pytest.fixture
def start_worker(fast_settings: Settings, clean_db: Engine) -> Iterator[Callable[..., WorkerThread]]:
    started: list[WorkerThread] = []

    def start(predictor: Any = None, settings: Settings | None = None, engine: Engine | None = None):
        w = WorkerThread(settings or fast_settings, engine or clean_db, predictor).start()
        started.append(w)
        return w

    yield start
    for w in started:
        if w._thread.is_alive():
            w.stop()
