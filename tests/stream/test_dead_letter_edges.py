"""Dead letters the producer would refuse as they are: each still reaches the topic, never stalls the batch."""

from __future__ import annotations

import pytest
from kafka import KafkaProducer

from monitor.stream.deadletter import HEADER_PREFIX, DeadLetter, DeadLetterQueue

from .conftest import read_topic
from .fakes import FakeRecord

pytestmark = pytest.mark.integration


def headers_of(record) -> dict[str, bytes]:
    return dict(record.headers)


@pytest.fixture
def dlq_topic(kafka_topic: str) -> str:
    return f"{kafka_topic}.dlq"


def queue(broker, topic: str, **options) -> DeadLetterQueue:
    return DeadLetterQueue(KafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all", **options), topic)


def test_a_null_header_value_from_another_client_does_not_stop_the_dead_letter(broker, dlq_topic: str) -> None:
    """Kafka allows null header values; kafka-python's producer refuses them (TypeError, not KafkaError)."""
    record = FakeRecord("news", 0, 7, b"not json", headers=[("trace", None), ("tenant", b"a")])
    dlq = queue(broker, dlq_topic)
    try:
        dlq.publish([DeadLetter(record, "not_json", "Expecting value", "InvalidMessage")])
    finally:
        dlq.close()
    [got] = read_topic(broker.bootstrap_servers, dlq_topic, 1)
    headers = headers_of(got)
    assert got.value == b"not json"
    assert headers["tenant"] == b"a" and headers["trace"] == b""
    assert headers[HEADER_PREFIX + "reason"] == b"not_json"


def test_a_letter_larger_than_the_producer_allows_goes_without_its_value(broker, dlq_topic: str) -> None:
    big = FakeRecord("news", 1, 9, b"x" * 5000, key=b"k")
    small = FakeRecord("news", 1, 10, b"tiny")
    dlq = queue(broker, dlq_topic, max_request_size=2000)
    try:
        dlq.publish([DeadLetter(big, "message_too_large", "5000 bytes > 1000", "InvalidMessage"),
                     DeadLetter(small, "not_json", "Expecting value", "InvalidMessage")])
    finally:
        dlq.close()
    got = {int(headers_of(r)[HEADER_PREFIX + "original.offset"]): r for r in read_topic(broker.bootstrap_servers,
                                                                                          dlq_topic, 2)}
    assert sorted(got) == [9, 10]
    assert got[9].value == b"" and got[9].key == b"k"
    assert headers_of(got[9])[HEADER_PREFIX + "value.dropped"] == b"5000"
    assert headers_of(got[9])[HEADER_PREFIX + "reason"] == b"message_too_large"
    assert got[10].value == b"tiny"
