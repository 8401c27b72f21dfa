"""Label events from Kafka: stored once, bad ones dead-lettered with a reason, offsets committed after."""

import json

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from sqlalchemy import select

from monitor.learning.events import LabelEventConsumer, consume_until_idle, dead_letter_topic
from monitor.store import transaction
from monitor.store.orm import Label

pytestmark = pytest.mark.integration

FAST_GROUP = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 500, "max_poll_interval_ms": 10000}


def create_topics(bootstrap: str, *names: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(n, num_partitions=2, replication_factor=1) for n in names])
    finally:
        admin.close()


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


def test_events_are_stored_once_and_bad_ones_dead_lettered(settings, session_factory):
    bootstrap, topic = settings.kafka.bootstrap_servers, settings.kafka.label_topic
    create_topics(bootstrap, topic, dead_letter_topic(topic))
    events = [
        json.dumps({"text": "Fed hikes rates", "topic": "fed | central banks", "author": "ana"}).encode(),
        json.dumps({"text": "Oil slides", "sentiment": "Bearish", "article_id": 424242}).encode(),
        b"{not json",
        json.dumps({"text": "Gold up", "sentiment": "meh"}).encode(),
        json.dumps({"text": "Fed hikes rates", "topic": "Fed | Central Banks"}).encode(),  # a repeat
        json.dumps({"text": "Dividend raised", "topic": "Dividend", "sentiment": "positive"}).encode(),
    ]
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for i, value in enumerate(events):
        producer.send(topic, value=value, key=str(i).encode())
    producer.flush()
    producer.close()

    consumer = LabelEventConsumer(settings, session_factory, consumer_options=FAST_GROUP)
    try:
        new = consume_until_idle(consumer, idle_seconds=3, max_seconds=90)
        committed = sum(consumer.consumer.committed(TopicPartition(topic, p)) or 0 for p in (0, 1))
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
    assert committed == len(events)  # every event's offset committed, bad ones included

    dead = read_all(bootstrap, dead_letter_topic(topic), expected=2)
    by_value = {r.value: dict(r.headers) for r in dead}
    assert set(by_value) == {b"{not json", events[3]}
    assert by_value[b"{not json"]["reason"].startswith(b"not JSON")
    assert b"unknown sentiment 'meh'" in by_value[events[3]]["reason"]
    assert by_value[b"{not json"]["source"].startswith(topic.encode() + b"[")
