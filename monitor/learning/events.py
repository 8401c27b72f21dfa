"""Consume label events from Kafka: good ones stored once, bad ones to ``<label_topic>.dlq``.

Commit order is fixed: dead letters flushed, labels committed to Postgres, then Kafka offsets.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka.errors import KafkaError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from monitor.errors import DatabaseUnavailable
from monitor.learning.labels import NewLabel, insert_labels, unlink_unknown_articles
from monitor.learning.records import BadLabel, parse_label_record
from monitor.settings import Settings
from monitor.store import transaction

log = logging.getLogger(__name__)

REASON_HEADER = "reason"
SOURCE_HEADER = "source"


def dead_letter_topic(label_topic: str) -> str:
    return f"{label_topic}.dlq"


def label_consumer_group(settings: Settings) -> str:
    return f"{settings.kafka.consumer_group}.labels"


def parse_label_event(value: bytes | None, *, max_bytes: int, max_text_chars: int) -> NewLabel:
    """One Kafka message value -> a label; :class:`BadLabel` says why it can't be one."""
    if value is None:
        raise BadLabel("empty message (tombstone)")
    if len(value) > max_bytes:
        raise BadLabel(f"message is {len(value)} bytes, over the limit of {max_bytes}")
    try:
        event = json.loads(value.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadLabel("not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise BadLabel(f"not JSON ({exc.msg})") from None
    if not isinstance(event, dict):
        raise BadLabel("not a JSON object")
    return parse_label_record(event, origin="kafka", max_text_chars=max_text_chars)


@dataclass(frozen=True)
class BatchResult:
    received: int
    new: int
    dead_lettered: int


class LabelEventConsumer:
    """Reads the label topic in one consumer group; ``poll_once`` handles one batch end to end."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        *,
        consumer: Any | None = None,
        producer: Any | None = None,
        consumer_options: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.topic = settings.kafka.label_topic
        self.dlq = dead_letter_topic(self.topic)
        self.consumer = consumer or self._make_consumer(consumer_options or {})
        self.producer = producer or self._make_producer()

    def _make_consumer(self, extra: dict[str, Any]) -> Any:
        from monitor.stream.clients import make_consumer

        kafka = self.settings.kafka
        consumer = make_consumer(kafka, group_id=label_consumer_group(self.settings),
                                 client_id=f"{kafka.client_id}-labels", **extra)
        consumer.subscribe([self.topic])
        return consumer

    def _make_producer(self) -> Any:
        from monitor.stream.clients import make_producer

        return make_producer(self.settings.kafka, role="labels-dlq")

    def poll_once(self, timeout_ms: int = 1000, max_records: int = 500) -> BatchResult:
        batches = self.consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        records = [r for part in batches.values() for r in part]
        if not records:
            return BatchResult(0, 0, 0)
        try:
            labels, dead_letters = self._split(records)
            self._confirm(dead_letters)
            new = self._store(labels)
        except Exception:
            self._rewind(batches)
            raise
        self.consumer.commit()
        result = BatchResult(len(records), new, len(dead_letters))
        log.info("label batch: %d events, %d new labels, %d dead-lettered", *vars(result).values())
        return result

    def _split(self, records: list[Any]) -> tuple[list[NewLabel], list[Any]]:
        labels: list[NewLabel] = []
        sent = []
        kafka = self.settings.kafka
        for rec in records:
            try:
                labels.append(parse_label_event(
                    rec.value, max_bytes=kafka.max_message_bytes, max_text_chars=kafka.max_text_chars
                ))
            except BadLabel as exc:
                sent.append(self._dead_letter(rec, str(exc)))
        return labels, sent

    def _dead_letter(self, rec: Any, reason: str) -> Any:
        source = f"{rec.topic}[{rec.partition}]@{rec.offset}"
        log.warning("label event %s dead-lettered: %s", source, reason)
        headers = [(REASON_HEADER, reason.encode()), (SOURCE_HEADER, source.encode())]
        return self.producer.send(self.dlq, value=rec.value, key=rec.key, headers=headers)

    def _confirm(self, sent: list[Any]) -> None:
        # flush() does not raise for failed sends; each future does. Unconfirmed means not committed.
        if not sent:
            return
        self.producer.flush()
        for future in sent:
            future.get(timeout=self.settings.kafka.request_timeout_ms / 1000)

    def _store(self, labels: list[NewLabel]) -> int:
        try:
            with transaction(self.session_factory) as session:
                return insert_labels(unlink_unknown_articles(labels, session=session), session=session)
        except OperationalError as exc:
            raise DatabaseUnavailable(f"cannot store labels: {str(exc.orig or exc).strip()}") from None

    def _rewind(self, batches: dict[Any, list[Any]]) -> None:
        # Nothing of this batch was committed: read it again rather than skip it.
        for tp, part in batches.items():
            self.consumer.seek(tp, part[0].offset)

    def run(self, stop: threading.Event, *, on_batch: Callable[[BatchResult], None] | None = None) -> None:
        """Consume until ``stop`` is set; a database outage pauses and retries with backoff."""
        delay = 1.0
        while not stop.is_set():
            try:
                result = self.poll_once()
            except (DatabaseUnavailable, KafkaError) as exc:
                log.warning("label batch not stored (%s); retrying in %.0f s", exc, delay)
                stop.wait(delay)
                delay = min(delay * 2, 60.0)
                continue
            delay = 1.0
            if on_batch is not None:
                on_batch(result)

    def close(self) -> None:
        self.producer.flush()
        self.producer.close()
        self.consumer.close()


def consume_until_idle(
    consumer: LabelEventConsumer,
    idle_seconds: float,
    max_seconds: float = float("inf"),
    stop: threading.Event | None = None,
) -> int:
    """Drain what is there (tests, ``--until-idle``); returns the number of new labels."""
    new = 0
    deadline = time.monotonic() + max_seconds
    idle_since = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - idle_since < idle_seconds:
        if stop is not None and stop.is_set():
            break
        result = consumer.poll_once(timeout_ms=500)
        new += result.new
        if result.received or not consumer.consumer.assignment():  # still joining the group: not idle
            idle_since = time.monotonic()
    return new
