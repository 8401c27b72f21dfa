"""kafka-python clients built from settings, with one-line errors when the brokers can't be reached."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaConnectionError, KafkaTimeoutError, TopicAlreadyExistsError

from monitor.errors import BrokerUnavailable
from monitor.settings import KafkaSettings

BOOTSTRAP_SETTING = "MONITOR_KAFKA__BOOTSTRAP_SERVERS"

TYPICAL_MESSAGE_BYTES = 1024
"""Headlines and tweets with their JSON envelope; full wire stories are larger but rarer."""
MIN_PARTITION_FETCH_BYTES = 1024 * 1024
FETCH_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_FETCH_MAX_WAIT_MS = 500  # kafka-python's


@contextmanager
def quiet_kafka() -> Iterator[None]:
    """kafka-python's own log below CRITICAL is silenced meanwhile: what it says about sockets then is expected."""
    kafka_log = logging.getLogger("kafka")
    level = kafka_log.level
    kafka_log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        kafka_log.setLevel(level)


@contextmanager
def broker_errors(settings: KafkaSettings) -> Iterator[None]:
    """Turn "no broker answered" into a one-line :class:`BrokerUnavailable` naming the setting.

    While bootstrapping, kafka-python logs every refused connection; the one line replaces them.
    """
    try:
        with quiet_kafka():
            yield
    except (KafkaConnectionError, KafkaTimeoutError) as exc:
        raise BrokerUnavailable(
            f"cannot reach Kafka at {settings.bootstrap_servers} ({exc}); "
            f"check {BOOTSTRAP_SETTING} and that the broker is running"
        ) from None


def _base(settings: KafkaSettings, role: str) -> dict[str, Any]:
    return {
        **settings.client_options(),
        "client_id": f"{settings.client_id}-{role}",
        "bootstrap_timeout_ms": settings.connect_timeout_ms,
    }


def fetch_options(flush_size: int, max_wait_ms: int | None = None) -> dict[str, Any]:
    """Fetch sizes that fill a flush of ``flush_size`` messages from one partition's fetch response.

    One poll hands over at most ``max_poll_records``, so it is the flush size; a fetch response
    carries at most ``max_partition_fetch_bytes`` per partition, so one partition's share holds a
    whole flush of typical messages (a larger message is still returned, alone, by the broker).
    ``max_wait_ms`` (the batch policy's) caps how long the broker may hold an empty fetch: kafka-python's
    default, 500 ms, would let a fetch outlast the flush deadline on a quiet topic.
    """
    partition_bytes = max(MIN_PARTITION_FETCH_BYTES, flush_size * TYPICAL_MESSAGE_BYTES)
    options = {
        "max_poll_records": flush_size,
        "max_partition_fetch_bytes": partition_bytes,
        "fetch_max_bytes": max(FETCH_MAX_BYTES, partition_bytes),
    }
    if max_wait_ms is not None:
        options["fetch_max_wait_ms"] = max(1, min(DEFAULT_FETCH_MAX_WAIT_MS, max_wait_ms))
    return options


def make_consumer(
    settings: KafkaSettings, flush_size: int = 1024, max_wait_ms: int | None = None, **overrides: Any
) -> KafkaConsumer:
    """A group member with auto-commit off: the worker commits offsets itself, after the database.

    Records are CRC-checked by kafka-python with the ``crc32c`` C extension (a dependency): its
    pure-Python fallback costs about 0.3 ms per record, more than the rest of the pipeline.
    """
    options = {
        **_base(settings, "worker"),
        **fetch_options(flush_size, max_wait_ms),
        "group_id": settings.consumer_group,
        "enable_auto_commit": False,
        "auto_offset_reset": settings.auto_offset_reset,
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": settings.heartbeat_interval_ms,
        "max_poll_interval_ms": settings.max_poll_interval_ms,
        **overrides,
    }
    with broker_errors(settings):
        return KafkaConsumer(**options)


def make_producer(settings: KafkaSettings, role: str = "producer", **overrides: Any) -> KafkaProducer:
    options = {**_base(settings, role), "acks": "all", "linger_ms": 5, **overrides}
    with broker_errors(settings):
        return KafkaProducer(**options)


def ensure_topic(settings: KafkaSettings, topic: str, partitions: int) -> bool:
    """Create ``topic`` when it is missing; True when it was created."""
    with broker_errors(settings):
        admin = KafkaAdminClient(**_base(settings, "admin"))
        try:
            if topic in admin.list_topics():
                return False
            admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
            return True
        except TopicAlreadyExistsError:
            return False
        finally:
            admin.close()
