"""Every poison kind found so far, between valid messages, through the real broker and one real worker.

Before the fixes, several of these crashed the worker on the same batch over and over (a crash loop
that stalls every partition it owns). Now: every valid message stored once, every poison message in
the dead-letter topic with its reason, the worker never restarts and never backs off.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlalchemy import Engine

from monitor.settings import Settings

from .conftest import committed_offsets, count_stored, expected_commits, read_topic, send, stored, wait_until
from .fakes import FakePredictor

pytestmark = pytest.mark.integration


def nested(depth: int) -> bytes:
    return b'{"text": "deep", "x": ' + b"[" * depth + b"]" * depth + b"}"


def escaped(message: dict) -> bytes:
    """JSON with its non-ASCII as \\u escapes: how a lone surrogate travels in valid UTF-8."""
    return json.dumps(message, ensure_ascii=True).encode()


POISON: list[tuple[bytes | None, str]] = [
    (nested(5000), "too_deep"),
    (nested(970), "too_deep"),  # parses in Python, but psycopg's jsonb encoder recursed too deep
    (b'{"text": "a", "meta": ' + b'{"k": ' * 200 + b"1" + b"}" * 200 + b"}", "too_deep"),
    (escaped({"text": "a", "source": "wire\ud800"}), "lone_surrogate"),
    (escaped({"text": "a", "title": "t\udfff"}), "lone_surrogate"),
    (escaped({"text": "a", "id": "id-\ud83d"}), "lone_surrogate"),
    (escaped({"text": "lone \udc80 in text"}), "lone_surrogate"),
    (escaped({"text": "a", "k\ud800": 1}), "lone_surrogate"),
    ('{"text": "raw \ud800 bytes"}'.encode("utf-8", "surrogatepass"), "invalid_utf8"),
    (json.dumps({"text": "a", "published_at": "9999-12-31T23:59:59-14:00"}).encode(), "timestamp_out_of_range"),
    (json.dumps({"text": "a", "published_at": "0001-01-01T00:00:00+14:00"}).encode(), "timestamp_out_of_range"),
    (json.dumps({"text": "a", "published_at": "2999-01-01T00:00:00Z"}).encode(), "timestamp_out_of_range"),
    (b'{"text": "a", "x": NaN}', "bad_number"),
    (b'{"text": "a", "x": 1e400}', "bad_number"),
    (b'{"text": "a", "x": ' + b"9" * 5000 + b"}", "not_json"),
    (b'{"text": "nul \\u0000 here"}', "nul_character"),
    (json.dumps({"text": "a", "id": "x" * 600}).encode(), "field_too_long"),
    (b'\xef\xbb\xbf{"text": "byte order mark"}', "not_json"),
    (None, "not_json"),  # a tombstone
    (b"\x00\x01\x02", "not_json"),
    (json.dumps({"text": "the POISON headline"}).encode(), "inference_failed"),
]


def test_a_topic_of_every_poison_kind_is_drained_without_a_restart(
    fast_settings: Settings, clean_db: Engine, start_worker, broker
) -> None:
    valid = [json.dumps({"id": f"v{i}", "text": f"valid {i}: shares rise"}).encode() for i in range(len(POISON) + 1)]
    values: list[bytes | None] = []
    for i, (poison, _) in enumerate(POISON):
        values += [valid[i], poison]
    values.append(valid[-1])
    k = fast_settings.kafka
    keys = [b"tombstone" if v is None else None for v in values]  # Kafka needs a key or a value
    where = send(broker.bootstrap_servers, k.input_topic, values, keys)

    worker = start_worker(FakePredictor(poison="POISON"))
    wait_until(lambda: count_stored(clean_db) == len(valid), 90, "every valid message to be stored")
    dead = read_topic(broker.bootstrap_servers, k.dead_letter_topic, len(POISON))
    wait_until(
        lambda: committed_offsets(broker.bootstrap_servers, k.consumer_group, k.input_topic) == expected_commits(where),
        30,
        "every offset to be committed",
    )
    metrics = worker.worker.metrics.registry
    assert worker.error is None and worker._thread.is_alive(), "the worker crashed"
    assert metrics.get_sample_value("monitor_worker_backpressure_total") == 0
    assert metrics.get_sample_value("monitor_worker_batch_failures_total") == 0
    worker.stop()

    rows = stored(clean_db)
    assert sorted(r[2] for r in rows) == sorted(f"v{i}" for i in range(len(valid)))
    assert all(n == 1 for *_, n in rows)
    got = Counter((r.value, dict(r.headers)["dlq.reason"].decode()) for r in dead)
    assert got == Counter(POISON), "each poison message dead-lettered once, with its reason"
