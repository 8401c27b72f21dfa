"""kafka-python clients built from settings, with one-line errors when the brokers can't be reached."""

from __future__ import annotations

import logging
import threading
from collections import Counter
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


class _QuietThreads(logging.Filter):
    """Drops kafka-python's records below CRITICAL that come from the threads being quieted, and no others."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.idents: Counter[int] = Counter()
        self.names: Counter[str] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.CRITICAL or not (self.idents[record.thread or 0] > 0
                                                          or self.names[record.threadName or ""] > 0)


_QUIET = _QuietThreads()


def _kafka_loggers() -> Iterator[logging.Logger]:
    # A logger's filters see only the records made on it, not its children's: each of kafka-python's module
    # loggers (``kafka.net.connection``, ``kafka.net.selector``, ...) gets the filter, at every quiet, so a module
    # imported since the last one gets it too.
    yield logging.getLogger("kafka")
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if name.startswith("kafka.") and isinstance(logger, logging.Logger):
            yield logger


@contextmanager
def quiet_kafka(client_id: str | None = None) -> Iterator[None]:
    """kafka-python's log below CRITICAL is silenced meanwhile, for this thread and the background threads of the
    client ``client_id`` (kafka-python 3 names its I/O thread ``kafka-io-<client_id>`` and a producer's sender
    ``<client_id>-network-thread``): what they say about sockets then is expected. Other clients' and threads'
    records still show (two clients of one process with the same ``client_id`` share those thread names). A
    kafka-python module logger first made while a quiet is in effect is covered from the next one on."""
    for logger in _kafka_loggers():
        if _QUIET not in logger.filters:
            logger.addFilter(_QUIET)
    ident = threading.get_ident()
    names = [f"kafka-io-{client_id}", f"{client_id}-network-thread"] if client_id else []
    with _QUIET.lock:
        _QUIET.idents[ident] += 1
        _QUIET.names.update(names)
    try:
        yield
    finally:
        with _QUIET.lock:
            _QUIET.idents.subtract([ident])
            _QUIET.names.subtract(names)
            for counter in (_QUIET.idents, _QUIET.names):
                for key in [k for k, n in counter.items() if n <= 0]:
                    del counter[key]


@contextmanager
def broker_errors(settings: KafkaSettings, client_id: str | None = None) -> Iterator[None]:
    """Turn "no broker answered" into a one-line :class:`BrokerUnavailable` naming the setting.

    While bootstrapping, kafka-python logs every refused connection; the one line replaces them.
    """
    try:
        with quiet_kafka(client_id):
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
    with broker_errors(settings, options["client_id"]):
        return KafkaConsumer(**options)


def make_producer(settings: KafkaSettings, role: str = "producer", **overrides: Any) -> KafkaProducer:
    options = {**_base(settings, role), "acks": "all", "linger_ms": 5, **overrides}
    with broker_errors(settings, options["client_id"]):
        return KafkaProducer(**options)


def ensure_topic(settings: KafkaSettings, topic: str, partitions: int) -> bool:
    """Create ``topic`` when it is missing; True when it was created."""
    options = _base(settings, "admin")
    with broker_errors(settings, options["client_id"]):
        admin = KafkaAdminClient(**options)
        try:
            if topic in admin.list_topics():
                return False
            admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
            return True
        except TopicAlreadyExistsError:
            return False
        finally:
            admin.close()
