"""Assemble a worker from settings and run it until SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, timedelta
from typing import Any

from kafka.errors import KafkaError
from sqlalchemy.orm import Session, sessionmaker

from monitor.settings import KafkaSettings, ModelSettings, Settings, StreamSettings
from monitor.stream.backoff import Backoff
from monitor.stream.batching import BatchPolicy, RecordBatch
from monitor.stream.clients import ensure_topic, make_consumer, make_producer
from monitor.stream.deadletter import DeadLetterQueue
from monitor.stream.heartbeat import HeartbeatReporter, default_worker_id
from monitor.stream.message import MessageLimits
from monitor.stream.metrics import WorkerMetrics
from monitor.stream.model_source import ModelSource
from monitor.stream.sink import PostgresSink
from monitor.stream.worker import StreamWorker

log = logging.getLogger(__name__)

# The dead-letter copy carries our headers on top of the original message, which may already be at
# the input topic's size limit; leave room for them.
DEAD_LETTER_MAX_REQUEST_BYTES = 2 * 1024 * 1024


def batch_policy(stream: StreamSettings, model: ModelSettings) -> BatchPolicy:
    """Flush on count or time; an ``auto`` count is the serving device's (1024 on CUDA, 128 on CPU)."""
    from monitor.model.devices import resolve_batching

    flush = resolve_batching(model, flush=stream.max_batch_size).flush_size
    return BatchPolicy(flush, stream.max_wait_ms / 1000)


def build_worker(
    settings: Settings,
    models: ModelSource,
    session_factory: sessionmaker[Session],
    *,
    consumer_options: dict[str, Any] | None = None,
) -> StreamWorker:
    """A worker wired to Kafka and Postgres as configured (nothing is consumed until ``run()``)."""
    k, stream = settings.kafka, settings.stream
    policy = batch_policy(stream, settings.model)
    ensure_dead_letter_topic(k)
    consumer = make_consumer(k, flush_size=policy.max_size, max_wait_ms=round(policy.max_wait_seconds * 1000),
                             **(consumer_options or {}))
    try:
        producer = make_producer(k, role="dead-letters", max_request_size=DEAD_LETTER_MAX_REQUEST_BYTES)
    except BaseException:
        consumer.close(autocommit=False)
        raise
    worker_id = settings.metrics.worker_id or default_worker_id()
    return StreamWorker(
        consumer=consumer,
        topic=k.input_topic,
        batch=RecordBatch(policy),
        limits=message_limits(stream),
        models=models,
        sink=PostgresSink(session_factory),
        dead_letters=DeadLetterQueue(producer, k.dead_letter_topic, k.request_timeout_ms / 1000),
        backoff=stream_backoff(stream),
        metrics=WorkerMetrics(),
        heartbeat=HeartbeatReporter(worker_id, session_factory, settings.metrics.heartbeat_seconds),
        breaker_batches=stream.breaker_batches,
        overlap=stream.overlap,
    )


def stream_backoff(stream: StreamSettings) -> Backoff:
    return Backoff(stream.backoff_initial_seconds, stream.backoff_max_seconds)


def message_limits(stream: StreamSettings) -> MessageLimits:
    earliest = stream.earliest_published_at  # a date given without an offset is UTC, as in messages
    return MessageLimits(
        max_message_bytes=stream.max_message_bytes,
        max_text_chars=stream.max_text_chars,
        max_json_depth=stream.max_json_depth,
        earliest_published_at=earliest if earliest.tzinfo else earliest.replace(tzinfo=UTC),
        max_future_skew=timedelta(hours=stream.max_future_skew_hours),
    )


def ensure_dead_letter_topic(settings: KafkaSettings, topic: str | None = None) -> None:
    """Create a dead-letter topic (default: the news one) up front: brokers that don't auto-create topics
    would refuse the first dead letter."""
    topic = topic or settings.dead_letter_topic
    try:
        if ensure_topic(settings, topic, partitions=1):
            log.info("created the dead-letter topic %s", topic)
    except KafkaError as exc:  # e.g. not authorized to create topics: assume an operator made it
        log.warning("could not check the dead-letter topic %s (%s)", topic, exc)


def run_worker(worker: StreamWorker, *, metrics_port: int = 0, metrics_host: str = "127.0.0.1") -> None:
    """Serve metrics, stop on SIGINT/SIGTERM (the handlers only flip the stop flag), run to the end."""
    worker.metrics.serve(metrics_port, metrics_host)
    restore = _stop_on_signals(worker)
    try:
        worker.run()
    finally:
        restore()
        worker.metrics.close()


def _stop_on_signals(worker: StreamWorker) -> Any:
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handle(signum: int, _frame: Any) -> None:
        log.info("received %s; finishing the current batch", signal.Signals(signum).name)
        worker.stop()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    return lambda: [signal.signal(sig, handler) for sig, handler in previous.items()]
