"""The systemic-failure breaker: a broken model or store stops the worker; poison messages never do."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Sequence

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from monitor.local.postgres import create_database, drop_database
from monitor.settings import DatabaseSettings, Settings
from monitor.store import make_engine
from monitor.stream.errors import SystemicFailure

from .conftest import committed_offsets, count_stored, news, read_topic, send, wait_until
from .fakes import FakePredictor
from .test_outages import worker_process

pytestmark = pytest.mark.integration


class BrokenModel:
    """A model that raises on everything, as a corrupt checkpoint or a lost GPU would."""

    version = "broken-1"

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, texts: Sequence[str]) -> list:
        self.calls += 1
        raise RuntimeError("CUDA error: an illegal memory access was encountered")


def test_a_model_that_always_raises_stops_the_worker_with_nothing_committed_or_dead_lettered(
    fast_settings: Settings, clean_db: Engine, start_worker, broker
) -> None:
    fast_settings.stream.breaker_batches = 3
    topic, group = fast_settings.kafka.input_topic, fast_settings.kafka.consumer_group
    send(broker.bootstrap_servers, topic, news(40))
    model = BrokenModel()
    worker = start_worker(model)
    wait_until(lambda: worker.error is not None, 60, "the breaker to stop the worker")

    assert isinstance(worker.error, SystemicFailure)
    assert "3 consecutive batches" in str(worker.error) and "broken-1" in str(worker.error)
    metrics = worker.worker.metrics.registry
    assert metrics.get_sample_value("monitor_worker_breaker_open") == 1
    assert metrics.get_sample_value("monitor_worker_batch_failures_total") == 3
    assert committed_offsets(broker.bootstrap_servers, group, topic) == {}
    assert read_topic(broker.bootstrap_servers, fast_settings.kafka.dead_letter_topic, 1, timeout=3) == []
    assert count_stored(clean_db) == 0


def test_a_flood_of_poison_messages_is_dead_lettered_and_never_trips_the_breaker(
    fast_settings: Settings, clean_db: Engine, start_worker, broker
) -> None:
    """Every message of many consecutive batches fails, but a known-good text does not: it is the data."""
    fast_settings.stream.breaker_batches = 2
    values = [json.dumps({"text": f"POISON {i}"}).encode() for i in range(64)] + news(8)
    send(broker.bootstrap_servers, fast_settings.kafka.input_topic, values)
    worker = start_worker(FakePredictor(poison="POISON"))
    wait_until(lambda: count_stored(clean_db) == 8, 60, "the valid messages after the flood")
    dead = read_topic(broker.bootstrap_servers, fast_settings.kafka.dead_letter_topic, 64)
    worker.stop()
    reasons = Counter(dict(r.headers)["dlq.reason"].decode() for r in dead)
    assert reasons == {"inference_failed": 64}
    assert worker.worker.metrics.registry.get_sample_value("monitor_worker_breaker_open") == 0


@pytest.fixture
def unmigrated_database(pg_admin_url: str) -> str:
    name = f"monitor_empty_{uuid.uuid4().hex[:10]}"
    url = create_database(pg_admin_url, name)
    yield url
    drop_database(pg_admin_url, name)


def test_a_store_without_its_schema_stops_the_worker_not_the_stream_into_the_dead_letter_topic(
    fast_settings: Settings, clean_db: Engine, start_worker, broker, unmigrated_database: str
) -> None:
    fast_settings.stream.breaker_batches = 2
    send(broker.bootstrap_servers, fast_settings.kafka.input_topic, news(20))
    engine = make_engine(DatabaseSettings(url=unmigrated_database))
    try:
        worker = start_worker(engine=engine)
        wait_until(lambda: worker.error is not None, 60, "the breaker to stop the worker")
    finally:
        engine.dispose()
    assert isinstance(worker.error, SystemicFailure)
    assert "known-good" in str(worker.error)
    assert read_topic(broker.bootstrap_servers, fast_settings.kafka.dead_letter_topic, 1, timeout=3) == []


@pytest.mark.slow
def test_monitor_worker_exits_non_zero_when_the_breaker_trips(
    fast_settings: Settings, broker, unmigrated_database: str, tmp_path
) -> None:
    from monitor.model.testing import make_tiny_model

    model_dir = make_tiny_model(tmp_path / "tiny", version="tiny-breaker")
    send(broker.bootstrap_servers, fast_settings.kafka.input_topic, news(20))
    fast_settings.database.url = SecretStr(unmigrated_database)  # the schema was never created: every write fails
    log_path = tmp_path / "worker.log"
    proc = worker_process(fast_settings, model_dir, log_path, tmp_path, {"MONITOR_STREAM__BREAKER_BATCHES": "2"})
    try:
        code = proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = log_path.read_text()
    assert code == 2, output[-3000:]
    assert "consecutive batches failed as a whole" in output
    assert "Traceback" not in output
