"""A worker streaming from the real broker into the real Postgres switches to a newly promoted model
between batches: later predictions carry the new version, and no message is lost or stored twice."""

from __future__ import annotations

import json
import threading
import time

import pytest
from kafka import KafkaProducer
from sqlalchemy import text

from monitor.learning import promote_version, register_version
from monitor.learning.serving import RegistryModelSource
from monitor.model.testing import make_tiny_model
from monitor.store import transaction
from monitor.stream import build_worker

pytestmark = pytest.mark.integration

FAST_GROUP = {"session_timeout_ms": 3000, "heartbeat_interval_ms": 500, "max_poll_interval_ms": 4000}


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def stored(engine) -> list[tuple]:
    """(partition, offset, text, [model versions]) of every stored article, in partition/offset order."""
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "select a.kafka_partition, a.kafka_offset, a.text, array_agg(p.model_version) "
            "from articles a left join predictions p on p.article_id = a.id "
            "group by a.id order by a.kafka_partition, a.kafka_offset"))]


def produce(producer: KafkaProducer, topic: str, start: int, n: int) -> None:
    for i in range(start, start + n):
        value = json.dumps({"text": f"headline {i}: shares move"}).encode()
        producer.send(topic, key=str(i).encode(), value=value)
    producer.flush()


def test_worker_switches_to_a_promoted_model_mid_stream(settings, session_factory, clean_db, tmp_path):
    for name, value in FAST_GROUP.items():
        setattr(settings.kafka, name, value)
    settings.stream.max_batch_size, settings.stream.max_wait_ms, settings.model.device = 16, 50, "cpu"
    settings.metrics.heartbeat_seconds = 0.5
    old = make_tiny_model(tmp_path / "old", version="tiny-old")
    new = make_tiny_model(tmp_path / "new", version="tiny-new", seed=1)
    with transaction(session_factory) as s:
        register_version("tiny-old", str(old), session=s, status="champion")
        register_version("tiny-new", str(new), session=s)

    source = RegistryModelSource(settings, session_factory, check_seconds=0.2)
    worker = build_worker(settings, source, session_factory)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all", linger_ms=5)
    topic = settings.kafka.input_topic
    try:
        produce(producer, topic, 0, 120)
        wait_until(lambda: len(stored(clean_db)) >= 60, 90, "the first messages to be stored")
        with transaction(session_factory) as s:  # what `monitor models promote` and the retrain job do
            promote_version("tiny-new", session=s)
        # The stream goes on while the worker notices: a fixed number of messages could all be stored
        # before its next registry check (the overlapped worker drains 120 in well under 0.2 s).
        sent = 120
        deadline = time.monotonic() + 60
        while not any("tiny-new" in r[3] for r in stored(clean_db)):
            assert time.monotonic() < deadline, "timed out after 60s waiting for the new model to serve"
            produce(producer, topic, sent, 10)
            sent += 10
            time.sleep(0.05)
        switched_at = sent
        produce(producer, topic, sent, 60)  # sent after the switch was seen
        sent += 60
        wait_until(lambda: len(stored(clean_db)) >= sent, 90, "every message to be stored")
        time.sleep(1.0)  # duplicates, if any, would land now
    finally:
        producer.close()
        worker.stop()
        thread.join(30)
    assert not thread.is_alive()

    rows = stored(clean_db)
    texts = [r[2] for r in rows]
    assert len(rows) == sent and len(set(texts)) == sent  # nothing lost, nothing doubled
    assert all(len(r[3]) == 1 for r in rows)  # one prediction per article: no batch reprocessed
    versions = {r[2]: r[3][0] for r in rows}
    assert {versions[f"headline {i}: shares move"] for i in range(switched_at, sent)} == {"tiny-new"}
    assert "tiny-old" in versions.values()
    for partition in {r[0] for r in rows}:  # per partition: old model, then the new one, never back
        sequence = [r[3][0] for r in rows if r[0] == partition]
        switched = sequence.index("tiny-new") if "tiny-new" in sequence else len(sequence)
        assert set(sequence[switched:]) <= {"tiny-new"}, sequence
