"""The worker against the real broker and the real Postgres: valid rows once, bad ones dead-lettered."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlalchemy import Engine, text

from monitor.settings import Settings
from monitor.stream.deadletter import HEADER_PREFIX

from .conftest import (
    committed_offsets,
    count_stored,
    expected_commits,
    news,
    read_topic,
    send,
    stored,
    wait_until,
)
from .fakes import FakePredictor, fake_prediction

pytestmark = pytest.mark.integration

BAD = {
    b"this is not json": "not_json",
    json.dumps([{"text": "inside an array"}]).encode(): "not_object",
    json.dumps({"text": ""}).encode(): "no_text",
    json.dumps({"text": "x" * 30_000}).encode(): "text_too_long",
    json.dumps({"text": "y" * 70_000}).encode(): "message_too_large",
    json.dumps({"text": "ok", "published_at": "last tuesday"}).encode(): "bad_timestamp",
    b'{"text": "caf\xe9 au lait"}': "invalid_utf8",
    json.dumps({"text": "tickers as a string", "tickers": "AAPL"}).encode(): "bad_field_type",
    json.dumps({"text": "the POISON headline"}).encode(): "inference_failed",
}


def headers_of(record) -> dict[str, str]:
    return {k[len(HEADER_PREFIX) :]: v.decode() for k, v in record.headers if k.startswith(HEADER_PREFIX)}


def test_malformed_mix_valid_stored_once_bad_dead_lettered_offsets_committed(
    fast_settings: Settings, clean_db: Engine, start_worker, broker
) -> None:
    good = news(60)
    good += [json.dumps({"id": "dup-1", "text": "same article sent twice"}).encode()] * 2
    good += [
        json.dumps(
            {
                "title": "Oil jumps",
                "body": "Brent up 4%",
                "desk": "energy",
                "published_at": "2024-05-01T09:00:00Z",
            }
        ).encode()
    ]
    values = good[:30] + list(BAD) + good[30:]
    where = send(broker.bootstrap_servers, fast_settings.kafka.input_topic, values)

    worker = start_worker(FakePredictor(poison="POISON"))
    wait_until(lambda: count_stored(clean_db) >= len(good) - 1, 60, "the valid messages to be stored")
    dead = read_topic(broker.bootstrap_servers, fast_settings.kafka.dead_letter_topic, len(BAD))
    wait_until(
        lambda: (
            committed_offsets(
                broker.bootstrap_servers, fast_settings.kafka.consumer_group, fast_settings.kafka.input_topic
            )
            == expected_commits(where)
        ),
        30,
        "every offset to be committed",
    )
    worker.stop()

    rows = stored(clean_db)
    assert len(rows) == len(good) - 1  # the resent article (same id) is stored once
    assert all(n_predictions == 1 for *_, n_predictions in rows)
    assert Counter(r[3] for r in rows)["same article sent twice"] == 1
    texts = {r[3] for r in rows}
    assert {json.loads(v)["text"] for v in news(60)} <= texts
    assert "Oil jumps\n\nBrent up 4%" in texts

    by_value = {r.value: headers_of(r) for r in dead}
    assert len(dead) == len(BAD)
    for value, reason in BAD.items():
        h = by_value[value]
        index = values.index(value)
        assert h["reason"] == reason
        assert (h["original.topic"], int(h["original.partition"]), int(h["original.offset"])) == (
            fast_settings.kafka.input_topic,
            *where[index],
        )
        assert h["error.class"]

    totals = worker.worker.metrics.totals
    assert (totals.stored, totals.duplicates, totals.dead_lettered) == (len(good) - 1, 1, len(BAD))


def test_predictions_and_article_fields_are_stored(
    fast_settings: Settings, clean_db: Engine, start_worker, broker
) -> None:
    msg = {
        "id": "a-1",
        "text": "Apple shares plunge after results miss",
        "source": "wire",
        "lang": "en",
        "url": "https://example.com/a-1",
        "tickers": ["AAPL"],
        "published_at": "2024-05-01T09:00:00+02:00",
        "desk": "tech",
    }
    send(broker.bootstrap_servers, fast_settings.kafka.input_topic, [json.dumps(msg).encode()])
    worker = start_worker()
    wait_until(lambda: count_stored(clean_db) == 1, 60, "the article")
    worker.stop()
    with clean_db.connect() as conn:
        a = conn.execute(text("select * from articles")).mappings().one()
        p = conn.execute(text("select * from predictions")).mappings().one()
    assert (a["external_id"], a["source"], a["lang"], a["tickers"], a["extra"]) == (
        "a-1",
        "wire",
        "en",
        ["AAPL"],
        {"desk": "tech"},
    )
    assert a["published_at"].isoformat() == "2024-05-01T07:00:00+00:00"
    assert a["event_time"] == a["published_at"]
    expected = fake_prediction(msg["text"])
    assert (p["model_version"], p["topic"], p["sentiment"]) == ("fake-1", expected.topic, expected.sentiment)
    assert p["p_negative"] == pytest.approx(expected.p_negative)


def test_end_to_end_with_the_tiny_real_model_metrics_and_heartbeat(
    fast_settings: Settings, clean_db: Engine, start_worker, broker, tmp_path
) -> None:
    import httpx

    from monitor.local.broker import free_port
    from monitor.model.predictor import Predictor
    from monitor.model.testing import make_tiny_model

    predictor = Predictor.from_directory(make_tiny_model(tmp_path / "tiny", version="tiny-e2e"), device="cpu")
    values = news(40) + [b"not json"]
    send(broker.bootstrap_servers, fast_settings.kafka.input_topic, values)
    worker = start_worker(predictor)
    port = free_port()
    worker.worker.metrics.serve(port)
    try:
        wait_until(lambda: count_stored(clean_db) == 40, 60, "40 articles")
        wait_until(lambda: worker.worker.metrics.totals.dead_lettered == 1, 10, "the dead letter")
        with clean_db.connect() as conn:
            versions = conn.execute(text("select distinct model_version from predictions")).scalars().all()
            n_predictions = conn.execute(text("select count(*) from predictions")).scalar_one()
            beat = wait_until(
                lambda: (
                    conn.execute(text("select * from worker_heartbeats where messages_stored = 40"))
                    .mappings()
                    .first()
                ),
                10,
                "a heartbeat with the final count",
            )
        body = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        worker.stop()
        worker.worker.metrics.close()
    assert versions == ["tiny-e2e"] and n_predictions == 40
    assert beat["model_version"] == "tiny-e2e" and beat["messages_dead_lettered"] == 1
    assert isinstance(beat["lag"], dict)
    assert "monitor_worker_messages_stored_total 40.0" in body
    assert 'monitor_worker_messages_dead_lettered_total{reason="not_json"} 1.0' in body
    assert 'monitor_worker_model_info{version="tiny-e2e"} 1.0' in body
    assert "monitor_worker_batch_size_count" in body and "monitor_worker_inference_seconds_sum" in body
    assert "monitor_worker_consumer_lag{" in body


def test_two_workers_in_one_group_split_partitions_and_store_each_message_once(
    fast_settings: Settings, clean_db: Engine, start_worker, broker
) -> None:
    first, second = start_worker(), start_worker()
    owned = (first.worker.assignment, second.worker.assignment)
    wait_until(
        lambda: len(owned[0]()) + len(owned[1]()) == 3 and owned[0]() and owned[1](),
        60,
        "both workers to own partitions",
    )
    values = news(300)
    send(
        broker.bootstrap_servers,
        fast_settings.kafka.input_topic,
        values,
        keys=[str(i).encode() for i in range(len(values))],
    )
    wait_until(lambda: count_stored(clean_db) >= 300, 60, "all 300 articles")
    first.stop()
    second.stop()
    rows = stored(clean_db)
    assert len(rows) == 300 and len({(r[0], r[1]) for r in rows}) == 300
    assert all(n == 1 for *_, n in rows)
    a, b = first.worker.metrics.totals, second.worker.metrics.totals
    assert a.stored > 0 and b.stored > 0 and a.stored + b.stored == 300
