"""Label events through the shared consumer engine: stored once, bad ones dead-lettered with the dlq.*
headers every consumer uses, offsets committed only after Postgres, and a database outage loses nothing."""

import json
import threading
import time

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from monitor.learning.events import build_label_consumer, consume_until_idle, label_consumer_group
from monitor.settings import DatabaseSettings, Settings
from monitor.store import make_engine, make_session_factory, transaction
from monitor.store.orm import Label
from tests.stream.proxy import TcpProxy

pytestmark = pytest.mark.integration

FAST_GROUP = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 500, "max_poll_interval_ms": 10000}


def create_topics(bootstrap: str, *names: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(n, num_partitions=2, replication_factor=1) for n in names])
    finally:
        admin.close()


def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for i, value in enumerate(values):
        producer.send(topic, value=value, key=str(i).encode())
    producer.flush()
    producer.close()


def read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 20.0) -> list:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             auto_offset_reset="earliest", consumer_timeout_ms=int(timeout_s * 1000))
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    records = []
    for record in consumer:
        records.append(record)
        if len(records) >= expected:
            break
    consumer.close()
    return records


def committed(settings: Settings) -> int:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers,
                             group_id=label_consumer_group(settings), enable_auto_commit=False)
    try:
        return sum(consumer.committed(TopicPartition(settings.kafka.label_topic, p)) or 0 for p in (0, 1))
    finally:
        consumer.close(autocommit=False)


def label_texts(session_factory) -> list[str]:
    with transaction(session_factory) as s:
        return list(s.scalars(select(Label.text).order_by(Label.text)))


def test_events_are_stored_once_and_bad_ones_dead_lettered(settings, session_factory):
    bootstrap, topic = settings.kafka.bootstrap_servers, settings.kafka.label_topic
    create_topics(bootstrap, topic)  # the consumer creates its dead-letter topic itself
    events = [
        json.dumps({"text": "Fed hikes rates", "topic": "fed | central banks", "author": "ana"}).encode(),
        json.dumps({"text": "Oil slides", "sentiment": "Bearish", "article_id": 424242}).encode(),
        b"{not json",
        json.dumps({"text": "Gold up", "sentiment": "meh"}).encode(),
        json.dumps({"text": "Fed hikes rates", "topic": "Fed | Central Banks"}).encode(),  # a repeat
        json.dumps({"text": "Dividend raised", "topic": "Dividend", "sentiment": "positive"}).encode(),
        b'{"text": "Bad \\ud800 surrogate", "sentiment": "negative"}',  # valid JSON Postgres cannot store
        b"[" * 5000 + b"]" * 5000,  # nesting the parser would recurse into
    ]
    produce(bootstrap, topic, events)

    consumer = build_label_consumer(settings, session_factory, consumer_options=FAST_GROUP)
    try:
        new = consume_until_idle(consumer, idle_seconds=3, max_seconds=90)
    finally:
        consumer.close()

    assert new == 3
    with transaction(session_factory) as s:
        rows = s.execute(select(Label.text, Label.topic, Label.sentiment, Label.origin, Label.article_id)
                         .order_by(Label.text)).all()
    assert [tuple(r) for r in rows] == [
        ("Dividend raised", "Dividend", "positive", "kafka", None),
        ("Fed hikes rates", "Fed | Central Banks", None, "kafka", None),
        ("Oil slides", None, "negative", "kafka", None),  # unknown article: label kept, link dropped
    ]
    assert committed(settings) == len(events)  # every event's offset committed, bad ones included

    dead = read_all(bootstrap, settings.kafka.label_dead_letter_topic, expected=4)
    by_value = {r.value: dict(r.headers) for r in dead}
    assert set(by_value) == {b"{not json", events[3], events[6], events[7]}
    assert by_value[b"{not json"]["dlq.reason"] == b"not_json"
    assert by_value[events[3]]["dlq.reason"] == b"invalid_label"
    assert b"unknown sentiment 'meh'" in by_value[events[3]]["dlq.error.message"]
    assert by_value[events[6]]["dlq.reason"] == b"lone_surrogate"
    assert by_value[events[7]]["dlq.reason"] == b"too_deep"
    headers = by_value[b"{not json"]
    assert headers["dlq.original.topic"] == topic.encode() and headers["dlq.original.offset"].isdigit()


def test_a_database_outage_pauses_and_loses_nothing(settings, session_factory, database_url):
    """Postgres becomes unreachable mid-stream: nothing is committed, and once it is back every label is
    stored exactly once."""
    bootstrap, topic = settings.kafka.bootstrap_servers, settings.kafka.label_topic
    create_topics(bootstrap, topic, settings.kafka.label_dead_letter_topic)
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    settings.stream.backoff_initial_seconds, settings.stream.backoff_max_seconds = 0.2, 1.0
    engine = make_engine(DatabaseSettings(url=proxied, connect_timeout_seconds=2))
    consumer = build_label_consumer(settings, make_session_factory(engine), consumer_options=FAST_GROUP)
    first = [json.dumps({"text": f"first {i}", "sentiment": "negative"}).encode() for i in range(20)]
    second = [json.dumps({"text": f"second {i}", "topic": "Earnings"}).encode() for i in range(20)]
    runner = threading.Thread(target=consumer.run, daemon=True)
    try:
        produce(bootstrap, topic, first)
        runner.start()
        deadline = time.monotonic() + 60
        while len(label_texts(session_factory)) < 20 and time.monotonic() < deadline:
            time.sleep(0.2)
        proxy.cut()
        produce(bootstrap, topic, second)
        time.sleep(3)  # the consumer polls them, fails to store, pauses and backs off
        assert consumer.metrics.registry.get_sample_value("monitor_worker_backpressure_total") >= 1
        assert committed(settings) == 20
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        proxy.port = make_url(proxied).port
        proxy.start()
        deadline = time.monotonic() + 60
        while len(label_texts(session_factory)) < 40 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        consumer.stop()
        runner.join(timeout=30)
        proxy.cut()
        engine.dispose()
    texts = label_texts(session_factory)
    assert len(texts) == 40 and len(set(texts)) == 40
    with transaction(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(Label).where(Label.origin == "kafka")) == 40
    assert committed(settings) == 40
