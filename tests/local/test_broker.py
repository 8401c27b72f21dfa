"""The embedded Tansu broker speaks Kafka: kafka-python produces to and consumes from it."""

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

pytestmark = pytest.mark.integration


def test_produce_and_consume_through_kafka_python(broker, kafka_topic):
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
    sent = {f"k{i}".encode(): f"message {i}".encode() for i in range(30)}
    for key, value in sent.items():
        producer.send(kafka_topic, key=key, value=value)
    producer.flush()
    producer.close()

    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap_servers, enable_auto_commit=False,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    partitions = [TopicPartition(kafka_topic, p) for p in consumer.partitions_for_topic(kafka_topic)]
    consumer.assign(partitions)
    received = {m.key: m.value for m in consumer}
    consumer.close()
    assert received == sent
