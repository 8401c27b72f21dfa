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


@contextmanager
def broker_errors(settings: KafkaSettings) -> Iterator[None]:
    """Turn "no broker answered" into a one-line :class:`BrokerUnavailable` naming the setting.

    While bootstrapping, kafka-python logs every refused connection; the one line replaces them.
    """
    kafka_log = logging.getLogger("kafka")
    level = kafka_log.level
    kafka_log.setLevel(logging.CRITICAL)
    try:
        yield
    except (KafkaConnectionError, KafkaTimeoutError) as exc:
        raise BrokerUnavailable(
            f"cannot reach Kafka at {settings.bootstrap_servers} ({exc}); "
            f"check {BOOTSTRAP_SETTING} and that the broker is running"
        ) from None
    finally:
        kafka_log.setLevel(level)


def _base(settings: KafkaSettings, role: str) -> dict[str, Any]:
    return {
        **settings.client_options(),
        "client_id": f"{settings.client_id}-{role}",
        "bootstrap_timeout_ms": settings.connect_timeout_ms,
    }


def make_consumer(settings: KafkaSettings, **overrides: Any) -> KafkaConsumer:
    """A group member with auto-commit off: the worker commits offsets itself, after the database."""
    options = {
        **_base(settings, "worker"),
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
