"""The news worker: the consumer engine running the news handler (validate → infer → store).

The engine (``monitor.stream.engine``) owns polling, batching, the commit order, backpressure,
the breaker and rebalances; this module owns what is particular to news messages.

A message either is stored once or goes to the dead-letter topic with a reason. The one exception
is a failure no message can cause: when the model (or the store) fails on every message of a batch
*and* on a known-good one, the batch is given back like backpressure (:class:`BatchFailure`); after
``breaker_batches`` such batches in a row the worker stops with :class:`SystemicFailure`, its offsets
uncommitted, instead of dead-lettering the whole stream.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from monitor.stream.backoff import Backoff
from monitor.stream.batching import RecordBatch
from monitor.stream.deadletter import DeadLetter, DeadLetterQueue
from monitor.stream.engine import BatchOutcome, ConsumerEngine
from monitor.stream.errors import BatchFailure, StoreRejected
from monitor.stream.heartbeat import HeartbeatReporter
from monitor.stream.isolation import run_isolating
from monitor.stream.message import MessageLimits, Reason
from monitor.stream.metrics import WorkerMetrics
from monitor.stream.model_source import ModelSource, PredictorLike
from monitor.stream.sink import ArticleSink, EncodedArticle, ScoredArticle
from monitor.stream.triage import dead_letter_for, triage

log = logging.getLogger(__name__)

CANARY_TEXT = "Markets were little changed today."
"""A text any working model classifies: tells a broken model from a batch of poison messages."""


@dataclass(frozen=True)
class ScoredBatch:
    """A batch after the consumer thread's half: its rows as COPY sends them, and what was refused so far."""

    rows: list[tuple[Any, EncodedArticle]]
    letters: list[DeadLetter]
    unsendable: list[DeadLetter]  # rows no transaction could take (the store's refusals, found early)


class NewsHandler:
    """Validate a batch, run the current model over the valid messages, store them in one transaction.

    In two stages for the engine's overlap: :meth:`prepare` (validate, infer, build the rows COPY sends)
    on the consumer thread, where torch runs fastest, and :meth:`write` (one transaction: database round
    trips only) on the store thread.
    """

    def __init__(
        self,
        *,
        limits: MessageLimits,
        models: ModelSource,
        sink: ArticleSink,
        metrics: WorkerMetrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = limits
        self._models = models
        self._sink = sink
        self._metrics = metrics
        self._clock = clock

    def handle(self, records: Sequence[Any]) -> BatchOutcome:
        return self.write(self.prepare(records))

    def prepare(self, records: Sequence[Any]) -> ScoredBatch:
        predictor = self._models.current()
        valid, letters = triage(records, self._limits)
        scored, failed = self._infer(predictor, valid)
        if failed and not scored:
            self._check_model(predictor, failed[0])
        rows, unsendable = self._encode(scored, predictor.version)
        return ScoredBatch(rows, letters + failed, unsendable)

    def write(self, batch: ScoredBatch) -> BatchOutcome:
        new, duplicates, refused = self._store(batch.rows)
        rejected = batch.unsendable + refused
        if rejected and len(refused) == len(batch.rows):
            self._check_store(rejected[0])
        return BatchOutcome(new, duplicates, batch.letters + rejected)

    def available(self) -> bool:
        return self._sink.available()

    def between_batches(self) -> None:
        if self._models.refresh():
            self.announce_model()

    def describe(self) -> str | None:
        return self._models.current().version

    def announce_model(self) -> None:
        version = self._models.current().version
        self._metrics.set_model(version)
        log.info("model version in use: %s", version)

    def _infer(
        self, predictor: PredictorLike, valid: list[tuple[Any, Any]]
    ) -> tuple[list[tuple[Any, ScoredArticle]], list[DeadLetter]]:
        started, received = self._clock(), datetime.now(UTC)
        result = run_isolating(
            valid, lambda items: predictor.predict([m.text for _, m in items]), isolate=(Exception,)
        )
        self._metrics.inference_seconds.observe(self._clock() - started)
        scored = [
            (r, ScoredArticle(r.topic, r.partition, r.offset, m, p, received)) for (r, m), p in result.ok
        ]
        failed = [dead_letter_for(r, Reason.INFERENCE_FAILED, exc) for (r, _), exc in result.failed]
        return scored, failed

    def _encode(
        self, scored: list[tuple[Any, ScoredArticle]], version: str
    ) -> tuple[list[tuple[Any, EncodedArticle]], list[DeadLetter]]:
        """Each row as COPY sends it; a row with a value the driver cannot adapt is refused on its own."""
        rows: list[tuple[Any, EncodedArticle]] = []
        unsendable: list[DeadLetter] = []
        for position, (record, item) in enumerate(scored):
            try:
                rows.append((record, self._sink.encode(item, version, position)))
            except StoreRejected as exc:
                unsendable.append(dead_letter_for(record, Reason.STORE_REJECTED, exc))
        return rows, unsendable

    def _store(self, rows: list[tuple[Any, EncodedArticle]]) -> tuple[int, int, list[DeadLetter]]:
        """One transaction for the batch; rows Postgres refuses are isolated by splitting."""
        result = run_isolating(
            rows, lambda items: self._sink.write_encoded([e for _, e in items]), isolate=(StoreRejected,)
        )
        new = sum(1 for _, is_new in result.ok if is_new)
        rejected = [dead_letter_for(r, Reason.STORE_REJECTED, exc) for (r, _), exc in result.failed]
        return new, len(result.ok) - new, rejected

    def _check_model(self, predictor: PredictorLike, example: DeadLetter) -> None:
        """Every message failed inference: if a known-good text fails too, the model is at fault."""
        try:
            if len(predictor.predict([CANARY_TEXT])) == 1:
                return
            problem = "it returned the wrong number of results"
        except Exception as exc:  # noqa: BLE001 - any failure of the canary is the answer
            problem = f"{type(exc).__name__}: {exc}"
        raise BatchFailure(
            f"model {predictor.version} failed on every message and on a known-good text ({problem}); "
            f"first message error: {example.detail}"
        )

    def _check_store(self, example: DeadLetter) -> None:
        """Every row was refused: if a known-good row is refused too, the store (schema, code) is at fault."""
        if not self._sink.accepts_known_good():
            raise BatchFailure(f"the store refused every row and a known-good one: {example.detail}")


class StreamWorker(ConsumerEngine):
    """One member of the news consumer group. ``run()`` loops until ``stop()`` (safe from a signal handler)."""

    def __init__(
        self,
        *,
        consumer: Any,
        topic: str,
        batch: RecordBatch,
        limits: MessageLimits,
        models: ModelSource,
        sink: ArticleSink,
        dead_letters: DeadLetterQueue,
        backoff: Backoff,
        metrics: WorkerMetrics | None = None,
        heartbeat: HeartbeatReporter | None = None,
        breaker_batches: int = 3,
        clock: Callable[[], float] = time.monotonic,
        overlap: bool = True,
    ) -> None:
        metrics = metrics or WorkerMetrics()
        self.news = NewsHandler(limits=limits, models=models, sink=sink, metrics=metrics, clock=clock)
        super().__init__(
            consumer=consumer, topic=topic, batch=batch, handler=self.news, dead_letters=dead_letters,
            backoff=backoff, metrics=metrics, heartbeat=heartbeat, breaker_batches=breaker_batches, clock=clock,
            name="worker", overlap=overlap,
        )

    def run(self) -> None:
        self.news.announce_model()
        super().run()
