"""The streaming worker: poll → validate → micro-batch → infer → store → commit offsets.

Commit order, fixed for every batch:

1. articles and predictions are written in one Postgres transaction, which commits;
2. the batch's dead letters are published and acknowledged by the broker;
3. the Kafka offsets of every record in the batch (valid or not) are committed.

A crash between any two steps re-delivers the whole batch: step 1 is idempotent (unique keys),
step 2 is at-least-once (a repeated dead letter names its original offset in its headers).
When a step refuses (:class:`Backpressure`), nothing is committed: the worker seeks back to the
batch's first offsets, pauses its partitions, waits with a capped exponential backoff and resumes.

A message either is stored once or goes to the dead-letter topic with a reason. The one exception
is a failure no message can cause: when the model (or the store) fails on every message of a batch
*and* on a known-good one, the batch is given back like backpressure (:class:`BatchFailure`); after
``breaker_batches`` such batches in a row the worker stops with :class:`SystemicFailure`, its offsets
uncommitted, instead of dead-lettering the whole stream.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from kafka import ConsumerRebalanceListener
from kafka.errors import CommitFailedError, IllegalStateError, KafkaError, RebalanceInProgressError
from kafka.structs import OffsetAndMetadata, TopicPartition

from monitor.stream.backoff import Backoff
from monitor.stream.batching import RecordBatch, first_offsets, next_offsets
from monitor.stream.deadletter import DeadLetter, DeadLetterQueue
from monitor.stream.errors import Backpressure, BatchFailure, StoreRejected, SystemicFailure
from monitor.stream.heartbeat import HeartbeatReporter
from monitor.stream.isolation import run_isolating
from monitor.stream.message import MessageLimits, Reason
from monitor.stream.metrics import WorkerMetrics
from monitor.stream.model_source import ModelSource, PredictorLike
from monitor.stream.sink import ArticleSink, ScoredArticle
from monitor.stream.triage import dead_letter_for, triage

log = logging.getLogger(__name__)

IDLE_POLL_MS = 500
"""Longest a poll blocks, so a stop request or a heartbeat is never far away."""

REBALANCE_ERRORS = (CommitFailedError, RebalanceInProgressError, IllegalStateError)

CANARY_TEXT = "Markets were little changed today."
"""A text any working model classifies: tells a broken model from a batch of poison messages."""


class StreamWorker:
    """One consumer-group member. ``run()`` loops until ``stop()`` (safe from a signal handler)."""

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
    ) -> None:
        self._consumer = consumer
        self.topic = topic
        self._batch = batch
        self._limits = limits
        self._models = models
        self._sink = sink
        self._dead_letters = dead_letters
        self._backoff = backoff
        self.metrics = metrics or WorkerMetrics()
        self._heartbeat = heartbeat
        self._clock = clock
        self._stop = threading.Event()
        self._paused = False
        self._breaker_batches = breaker_batches
        self._failed_batches = 0

    # -- life cycle -------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish its batch, commit and exit; only flips a flag."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        self._consumer.subscribe([self.topic], listener=_RebalanceListener(self))
        self._announce_model()
        log.info(
            "worker consuming %s (batch %d / %.0f ms)",
            self.topic,
            self._batch.policy.max_size,
            self._batch.policy.max_wait_seconds * 1000,
        )
        try:
            while not self.stopping:
                self.step()
            self._flush()
        finally:
            self._close()

    def step(self) -> None:
        """One poll; flush when the batch policy says so; housekeeping between batches."""
        polled = self._consumer.poll(timeout_ms=self._poll_timeout_ms(), max_records=max(1, self._batch.room))
        count = 0
        for records in polled.values():
            for record in records:
                self._batch.add(record)
                count += 1
        if count:
            self.metrics.count_in(count)
        if self._batch.is_due():
            self._flush()
        self._between_batches()

    def _poll_timeout_ms(self) -> int:
        if not len(self._batch):
            return IDLE_POLL_MS
        return min(IDLE_POLL_MS, int(self._batch.seconds_left() * 1000))

    def _close(self) -> None:
        try:
            self._consumer.close(autocommit=False)
        finally:
            self._dead_letters.close()
        log.info(
            "worker stopped (%d stored, %d duplicates, %d dead letters)",
            self.metrics.totals.stored,
            self.metrics.totals.duplicates,
            self.metrics.totals.dead_lettered,
        )

    # -- one batch --------------------------------------------------------------------------

    def _flush(self) -> None:
        records = self._batch.take()
        if not records:
            return
        try:
            self._process(records)
        except Backpressure as exc:
            self._give_back(records, exc)
        except BatchFailure as exc:
            self._batch_failed(records, exc)
        else:
            self._backoff.reset()
            self._failed_batches = 0

    def _process(self, records: Sequence[Any]) -> None:
        started = self._clock()
        predictor = self._models.current()
        valid, letters = triage(records, self._limits)
        scored, failed = self._infer(predictor, valid)
        if failed and not scored:
            self._check_model(predictor, failed[0])
        letters += failed
        new, duplicates, rejected = self._store(scored, predictor.version)
        if rejected and len(rejected) == len(scored):
            self._check_store(rejected[0])
        letters += rejected
        self._dead_letters.publish(letters)
        self._commit(next_offsets(records))
        self._account(records, new, duplicates, letters, self._clock() - started)

    def _infer(
        self, predictor: PredictorLike, valid: list[tuple[Any, Any]]
    ) -> tuple[list[tuple[Any, ScoredArticle]], list[DeadLetter]]:
        started, received = self._clock(), datetime.now(UTC)
        result = run_isolating(
            valid, lambda items: predictor.predict([m.text for _, m in items]), isolate=(Exception,)
        )
        self.metrics.inference_seconds.observe(self._clock() - started)
        scored = [
            (r, ScoredArticle(r.topic, r.partition, r.offset, m, p, received)) for (r, m), p in result.ok
        ]
        failed = [dead_letter_for(r, Reason.INFERENCE_FAILED, exc) for (r, _), exc in result.failed]
        return scored, failed

    def _store(
        self, scored: list[tuple[Any, ScoredArticle]], version: str
    ) -> tuple[int, int, list[DeadLetter]]:
        """One transaction for the batch; rows Postgres refuses are isolated by splitting."""
        result = run_isolating(
            scored, lambda items: self._sink.write([s for _, s in items], version), isolate=(StoreRejected,)
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

    def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        try:
            self._consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()})
        except REBALANCE_ERRORS as exc:
            # The rows are stored; whoever owns these partitions next re-reads them and finds duplicates.
            log.warning("offsets %s not committed, the group is rebalancing (%s)", _where(offsets), exc)
        except KafkaError as exc:
            raise Backpressure(f"cannot commit offsets {_where(offsets)}: {exc}") from exc

    def _account(
        self, records: Sequence[Any], new: int, dup: int, letters: list[DeadLetter], secs: float
    ) -> None:
        self.metrics.count_written(new, dup)
        for letter in letters:
            self.metrics.count_dead_letter(letter.reason)
        self.metrics.batch_size.observe(len(records))
        self.metrics.batch_seconds.observe(secs)
        log.debug(
            "batch of %d up to %s: %d new, %d duplicates, %d dead letters in %.3fs",
            len(records),
            _where(next_offsets(records)),
            new,
            dup,
            len(letters),
            secs,
        )

    # -- backpressure and whole-batch failures ------------------------------------------------

    def _batch_failed(self, records: Sequence[Any], exc: BatchFailure) -> None:
        """Retry a batch that failed as a whole; after ``breaker_batches`` in a row, stop the worker."""
        self._failed_batches += 1
        self.metrics.batch_failures.inc()
        where = _where(first_offsets(records))
        if self._failed_batches < self._breaker_batches:
            log.error("batch from %s failed as a whole (%d of %d before stopping): %s",
                      where, self._failed_batches, self._breaker_batches, exc)
            self._give_back(records, exc)
            return
        self.metrics.breaker_open.set(1)
        log.critical("stopping: %d batches in a row failed as a whole; offsets from %s stay uncommitted (%s)",
                     self._failed_batches, where, exc)
        raise SystemicFailure(
            f"the worker stopped after {self._failed_batches} consecutive batches failed as a whole, "
            f"offsets from {where} uncommitted: {exc}. Fix the model or the database, then restart it"
        ) from exc

    def _give_back(self, records: Sequence[Any], exc: Exception) -> None:
        """Seek back to the batch's first offsets, pause, wait until the store answers, resume."""
        if isinstance(exc, Backpressure):
            self.metrics.backpressure.inc()
        firsts = first_offsets(records)
        assigned = self._consumer.assignment()
        for tp, offset in firsts.items():
            if tp in assigned:
                self._consumer.seek(tp, offset)
        self._pause(assigned)
        paused_at, delay = self._clock(), self._backoff.next()
        log.warning(
            "%s; paused %d partitions at %s, retrying in %.1fs", exc, len(assigned), _where(firsts), delay
        )
        while not self.stopping:
            self._idle(delay)
            self._beat()  # fails fast (the answer deadline) when the database is the problem
            if self.stopping or self._sink.available():
                break
            delay = self._backoff.next()
            log.warning("the store is still unavailable; next try in %.1fs", delay)
        self._resume()
        log.info("resumed after %.1fs paused; re-reading from %s", self._clock() - paused_at, _where(firsts))

    def _pause(self, partitions: Any) -> None:
        self._paused = True
        self.metrics.paused.set(1)
        if partitions:
            self._consumer.pause(*partitions)

    def _resume(self) -> None:
        self._paused = False
        self.metrics.paused.set(0)
        paused = self._consumer.paused()
        if paused:
            self._consumer.resume(*paused)

    def _idle(self, seconds: float) -> None:
        """Keep polling the paused consumer (group membership stays alive) until ``seconds`` pass."""
        deadline = self._clock() + seconds
        while not self.stopping and (left := deadline - self._clock()) > 0:
            polled = self._consumer.poll(timeout_ms=max(1, int(min(left, IDLE_POLL_MS / 1000) * 1000)))
            for tp, records in polled.items():
                # Nothing should arrive while paused; if it does, rewind rather than lose it.
                self._consumer.seek(tp, min(r.offset for r in records))

    # -- between batches --------------------------------------------------------------------

    def _between_batches(self) -> None:
        if self._models.refresh():
            self._announce_model()
        self._beat()

    def _beat(self) -> None:
        if self._heartbeat is not None and self._heartbeat.due():
            lag = self.lag()
            self.metrics.set_lag(lag)
            self._heartbeat.beat(self.metrics.totals, self._models.current().version, lag)

    def _announce_model(self) -> None:
        version = self._models.current().version
        self.metrics.set_model(version)
        log.info("model version in use: %s", version)

    def assignment(self) -> set[TopicPartition]:
        """The partitions this worker owns now."""
        return set(self._consumer.assignment())

    def lag(self) -> dict[tuple[str, int], int]:
        """Per assigned partition, messages between the position and the last known end."""
        lag: dict[tuple[str, int], int] = {}
        for tp in self._consumer.assignment():
            try:
                end, position = self._consumer.highwater(tp), self._consumer.position(tp, timeout_ms=200)
            except KafkaError:
                continue
            if end is not None and position is not None:
                lag[(tp.topic, tp.partition)] = max(0, end - position)
        return lag

    # -- rebalances -------------------------------------------------------------------------

    def on_revoked(self, partitions: Any) -> None:
        dropped = self._batch.drop_partitions(partitions)
        if dropped:
            log.info(
                "dropped %d uncommitted messages of revoked %s; their next owner re-reads them",
                dropped,
                sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions),
            )

    def on_assigned(self, partitions: Any) -> None:
        log.info("assigned %s", sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing")
        if self._paused and partitions:
            self._consumer.pause(*partitions)


class _RebalanceListener(ConsumerRebalanceListener):
    def __init__(self, worker: StreamWorker) -> None:
        self._worker = worker

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._worker.on_revoked(revoked)

    def on_partitions_assigned(self, assigned: Any) -> None:
        self._worker.on_assigned(assigned)


def _where(offsets: dict[TopicPartition, int]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]@{o}" for tp, o in sorted(offsets.items()))
