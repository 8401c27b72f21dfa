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

from monitor.model.predictor import Prediction

NULL_PREDICTION = Prediction("Macro", 0.9, "neutral", 0.8, 0.1, 0.8, 0.1)


class NullPredictor:
    """Costs nothing: the same prediction for every text, so only the path around the model is timed."""

    version = "null-model"

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
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
