"""Label events from Kafka: the consumer engine running the label handler (parse → store labels).

The engine (``monitor.stream.engine``) gives label events the news worker's guarantees: one
transaction per batch, then dead letters (``MONITOR_KAFKA__LABEL_DEAD_LETTER_TOPIC``, the same
``dlq.*`` headers), then offsets; a database outage pauses, seeks back and retries with backoff.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from monitor.learning.labels import NewLabel, insert_labels, unlink_unknown_articles
from monitor.learning.records import BadLabel, parse_label_record
from monitor.settings import Settings
from monitor.stream.batching import BatchPolicy, RecordBatch
from monitor.stream.clients import make_consumer, make_producer
from monitor.stream.deadletter import DeadLetterQueue
from monitor.stream.engine import BatchOutcome, ConsumerEngine
from monitor.stream.errors import InvalidMessage, StoreRejected
from monitor.stream.isolation import run_isolating
from monitor.stream.message import MessageLimits, Reason, decode_object
from monitor.stream.runner import ensure_dead_letter_topic, message_limits, stream_backoff
from monitor.stream.sink import database_answers, store_transaction
from monitor.stream.triage import dead_letter_for, split_records

log = logging.getLogger(__name__)

INVALID_LABEL = "invalid_label"
"""Dead-letter reason of a label event that is well-formed JSON but not a usable label."""


def label_consumer_group(settings: Settings) -> str:
    return f"{settings.kafka.consumer_group}.labels"


def parse_label_event(value: bytes | None, limits: MessageLimits) -> NewLabel:
    """One Kafka message value -> a label; :class:`InvalidMessage` says why it can't be one.

    The bytes go through the news messages' decoder (size, UTF-8, JSON, depth, U+0000, surrogates).
    """
    event = decode_object(value, limits)
    try:
        return parse_label_record(event, origin="kafka", max_text_chars=limits.max_text_chars)
    except BadLabel as exc:
        raise InvalidMessage(INVALID_LABEL, str(exc)) from None


class LabelHandler:
    """Stores the valid label events of a batch in one transaction; refused rows are isolated."""

    def __init__(self, session_factory: sessionmaker[Session], limits: MessageLimits) -> None:
        self._factory = session_factory
        self._limits = limits

    def handle(self, records: Sequence[Any]) -> BatchOutcome:
        parsed, letters = split_records(records, lambda value: parse_label_event(value, self._limits))
        new: list[int] = []

        def write(items: Sequence[tuple[Any, NewLabel]]) -> list[None]:
            labels = [label for _, label in items]
            new.append(store_transaction(self._factory, lambda s: self._insert(labels, s)))
            return [None] * len(items)

        result = run_isolating(parsed, write, isolate=(StoreRejected,))
        letters += [dead_letter_for(r, Reason.STORE_REJECTED, exc) for (r, _), exc in result.failed]
        stored = sum(new)
        return BatchOutcome(stored, len(result.ok) - stored, letters)

    @staticmethod
    def _insert(labels: list[NewLabel], session: Session) -> int:
        return insert_labels(unlink_unknown_articles(labels, session=session), session=session)

    def available(self) -> bool:
        return database_answers(self._factory)

    def between_batches(self) -> None:
        pass

    def describe(self) -> str | None:
        return None


def build_label_consumer(
    settings: Settings, session_factory: sessionmaker[Session], *, consumer_options: dict[str, Any] | None = None
) -> ConsumerEngine:
    """The label-event consumer, wired to Kafka and Postgres (nothing is consumed until it polls)."""
    k = settings.kafka
    ensure_dead_letter_topic(k, k.label_dead_letter_topic)
    consumer = make_consumer(k, group_id=label_consumer_group(settings), client_id=f"{k.client_id}-labels",
                             **(consumer_options or {}))
    try:
        producer = make_producer(k, role="labels-dlq")
    except BaseException:
        consumer.close(autocommit=False)
        raise
    limits = message_limits(settings.stream)
    engine = ConsumerEngine(
        consumer=consumer,
        topic=k.label_topic,
        batch=RecordBatch(BatchPolicy(max_size=500, max_wait_seconds=0.5)),
        handler=LabelHandler(session_factory, limits),
        dead_letters=DeadLetterQueue(producer, k.label_dead_letter_topic, k.request_timeout_ms / 1000),
        backoff=stream_backoff(settings.stream),
        name="label consumer",
    )
    return engine


def consume_until_idle(engine: ConsumerEngine, idle_seconds: float, max_seconds: float = float("inf")) -> int:
    """Drain what is there (tests, ``--until-idle``), then flush; returns the number of new labels.

    ``engine.stop()`` (a signal handler) ends it early, after the batch in hand is stored and committed.
    """
    engine.subscribe()
    before = engine.metrics.totals.stored
    deadline = time.monotonic() + max_seconds
    idle_since = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - idle_since < idle_seconds and not engine.stopping:
        if engine.step() or not engine.assignment():  # still joining the group: not idle
            idle_since = time.monotonic()
    engine.flush()
    return engine.metrics.totals.stored - before
