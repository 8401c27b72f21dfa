"""The pipeline ceiling (``throughput.py --null-model``): the worker with a predictor that costs nothing,
beside raw kafka-python consume and raw Postgres COPY rates measured in the same run.

This is the CPU-side proxy for "can the path around the model feed a GPU": whatever the worker commits
per second here is the most it can ever commit, however fast the model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer
from kafka.structs import TopicPartition
from sqlalchemy import Engine

from monitor.model.prediction import TextPrediction
from monitor.settings import settings_env

NULL_PREDICTION = TextPrediction("Macro", 0.9, "neutral", 0.8, 0.1, 0.8, 0.1)


class NullPredictor:
    """Costs nothing: the same prediction for every text, so only the path around the model is timed."""

    version = "null-model"

    def predict(self, texts: Sequence[str]) -> list[TextPrediction]:
        return [NULL_PREDICTION] * len(texts)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def crc_path() -> str:
    """Which CRC32C kafka-python checks records with: the C extension or its pure-Python fallback."""
    from kafka.record import util

    fn = util.calc_crc32c.__defaults__[0]
    return f"{getattr(fn, '__module__', None) or 'builtin'}.{fn.__name__}"


def raw_consume(bootstrap: str, topic: str, n: int, options: dict[str, Any], check_crcs: bool = True) -> float:
    """Messages/s of a bare kafka-python consumer (no group, no processing) reading ``n`` records."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, check_crcs=check_crcs, **options
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        got, started = 0, time.perf_counter()
        while got < n and time.perf_counter() - started < 120:
            for records in consumer.poll(timeout_ms=500).values():
                got += len(records)
        return got / (time.perf_counter() - started)
    finally:
        consumer.close(autocommit=False)


def raw_copy(engine: Engine, texts: Sequence[str]) -> float:
    """Rows/s of a bare COPY of article rows into a temporary copy of ``articles`` (rolled back)."""
    now = datetime.now(UTC)
    rows = [
        (f"copy-{i}", t, '["AAPL"]', now, now, "bench", 0, i) for i, t in enumerate(texts)
    ]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("create temp table copy_bench (like articles including defaults) on commit drop")
        started = time.perf_counter()
        columns = "external_id, text, tickers, received_at, event_time, kafka_topic, kafka_partition, kafka_offset"
        with cur.copy(f"copy copy_bench ({columns}) from stdin") as copy:
            for row in rows:
                copy.write_row(row)
        rate = len(rows) / (time.perf_counter() - started)
        raw.rollback()
        return rate
    finally:
        raw.close()


def null_worker_main() -> None:
    """A child of ``--null-model --processes N``: one worker with the null model, settings from MONITOR_*."""
    from monitor.settings import Settings
    from monitor.store import make_engine, make_session_factory
    from monitor.stream import StaticModelSource, build_worker, run_worker

    settings = Settings()
    engine = make_engine(settings.database)
    try:
        run_worker(build_worker(settings, StaticModelSource(NullPredictor()), make_session_factory(engine)))
    finally:
        engine.dispose()


def drain_processes(bench: Any, name: str, texts: Sequence[str], flush: int, n: int) -> dict[str, Any]:
    """Produce everything, start ``n`` null-model worker processes (one group), time first to last row."""
    import sys

    from sqlalchemy import text

    from monitor.local.supervisor import WorkerProcesses, child_envs

    topic = bench.topic(name)
    bench.produce(topic, texts)
    env = settings_env(bench.settings(topic, flush)) | {"MONITOR_LOG_LEVEL": "WARNING"}
    command = [sys.executable, __file__.replace("ceiling.py", "throughput.py"), "--null-worker"]
    group = WorkerProcesses([command] * n, [env | e for e in child_envs(n, None, 0)], grace=30).start()
    count = text("select count(*), min(received_at), max(received_at) from articles where kafka_topic = :t")
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with bench.engine.connect() as conn:
                stored, first, last = conn.execute(count, {"t": topic}).one()
            if stored >= len(texts):
                break
            time.sleep(0.2)
    finally:
        group.stop()
    wall = (last - first).total_seconds()
    return {"processes": n, "stored": stored, "texts_per_s": stored / wall, "first_to_last_row_s": wall}
