"""The consumer engine every Kafka consumer of the service runs: poll → batch → handle → dead letters → commit.

Commit order, fixed for every batch and every consumer (news, label events):

1. the handler writes what it accepted in one Postgres transaction, which commits;
2. the batch's dead letters are published and acknowledged by the broker;
3. the Kafka offsets of every record in the batch (accepted or not) are committed.

A crash between any two steps re-delivers the whole batch: step 1 is idempotent (unique keys),
step 2 is at-least-once (a repeated dead letter names its original offset in its headers).
When a step refuses (:class:`Backpressure`), nothing is committed: the engine seeks back to the
batch's first offsets, pauses its partitions, waits with a capped exponential backoff and resumes.
A batch that fails as a whole for a reason no message can cause (:class:`BatchFailure`) is given
back the same way; after ``breaker_batches`` of them in a row the engine stops with
:class:`SystemicFailure`, its offsets uncommitted, instead of dead-lettering the whole stream.

Overlap: a handler in two stages (``prepare`` on the consumer thread: validate, infer; ``write`` on the
store thread: the transaction) lets the engine poll and prepare batch n+1 while batch n is written.
At most one batch is in the store and one prepared behind it. Every Kafka call stays on the consumer
thread: a written batch comes back through a queue, and its dead letters and offsets go out there,
strictly in batch order. When a batch fails, the batches behind it are dropped with it and every
partition is rewound to its earliest uncommitted offset.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kafka import ConsumerRebalanceListener
from kafka.errors import CommitFailedError, IllegalStateError, KafkaError, RebalanceInProgressError
from kafka.structs import OffsetAndMetadata, TopicPartition

from monitor.stream.backoff import Backoff
from monitor.stream.batching import RecordBatch, first_offsets, next_offsets, partition_of
from monitor.stream.clients import quiet_kafka
from monitor.stream.deadletter import DeadLetter, DeadLetterQueue
from monitor.stream.errors import Backpressure, BatchFailure, SystemicFailure
from monitor.stream.heartbeat import HeartbeatReporter
from monitor.stream.metrics import WorkerMetrics
from monitor.stream.pipeline import InFlight, Stage, StageSeconds, StoreStage

log = logging.getLogger(__name__)

IDLE_POLL_MS = 500
"""Longest a poll blocks, so a stop request or a heartbeat is never far away."""

BUSY_POLL_MS = 10
"""Longest a poll blocks while a batch is in the store, so its commit is not held back by an idle topic."""

STORE_CLOSE_SECONDS = 30.0
"""How long ``close()`` lets a write in progress end before leaving its thread behind."""

REBALANCE_ERRORS = (CommitFailedError, RebalanceInProgressError, IllegalStateError)


@dataclass
class BatchOutcome:
    """What a handler did with one batch: rows new and already stored, and the records it refused."""

    new: int = 0
    duplicates: int = 0
    letters: list[DeadLetter] = field(default_factory=list)


class BatchHandler(Protocol):
    """The part of a consumer that knows its messages: parse, (infer,) store in one transaction."""

    def handle(self, records: Sequence[Any]) -> BatchOutcome:
        """Store what is valid and return the dead letters; raise Backpressure or BatchFailure to give back."""

    def available(self) -> bool:
        """Whether a write has a chance now (a cheap probe used while backing off)."""

    def between_batches(self) -> None:
        """Housekeeping between batches (the news handler swaps in a new champion model here)."""

    def describe(self) -> str | None:
        """What the heartbeat row reports as the handler's version (the model version), if anything."""


class StagedHandler(BatchHandler, Protocol):
    """A handler the engine can overlap: ``handle(records)`` is ``write(prepare(records))``."""

    def prepare(self, records: Sequence[Any]) -> Any:
        """The consumer thread's half (validate, infer); may raise BatchFailure or Backpressure."""

    def write(self, prepared: Any) -> BatchOutcome:
        """The store thread's half: one transaction; may raise Backpressure or BatchFailure. No Kafka calls."""


def stages(handler: BatchHandler) -> tuple[Callable[[Sequence[Any]], Any], Callable[[Any], BatchOutcome]]:
    """``prepare`` and ``write`` of a handler; one with ``handle`` only does all its work in the store stage."""
    prepare, write = getattr(handler, "prepare", None), getattr(handler, "write", None)
    if prepare is not None and write is not None:
        return prepare, write
    return list, handler.handle


class ConsumerEngine:
    """One consumer-group member running a :class:`BatchHandler`; ``run()`` loops until ``stop()``."""

    def __init__(
        self,
        *,
        consumer: Any,
        topic: str,
        batch: RecordBatch,
        handler: BatchHandler,
        dead_letters: DeadLetterQueue,
        backoff: Backoff,
        metrics: WorkerMetrics | None = None,
        heartbeat: HeartbeatReporter | None = None,
        breaker_batches: int = 3,
        clock: Callable[[], float] = time.monotonic,
        name: str = "consumer",
        overlap: bool = True,
    ) -> None:
        self.name = name
        self.overlap = overlap
        self._consumer = consumer
        self.topic = topic
        self._batch = batch
        self._handler = handler
        self._dead_letters = dead_letters
        self._backoff = backoff
        self.metrics = metrics or WorkerMetrics()
        self._heartbeat = heartbeat
        self._breaker_batches = breaker_batches
        self._clock = clock
        self._stop = threading.Event()
        self._paused = False
        self._announce_due = False
        self._failed_batches = 0
        self._subscribed = False
        self._prepare, write = stages(handler)
        self._store = StoreStage(write, name)
        self._inflight: deque[InFlight] = deque()  # oldest first: at most one writing, one prepared
        self._rewind: dict[TopicPartition, int] = {}  # kept partitions of batches a revoke dropped
        self.seconds = StageSeconds()

    # -- life cycle -------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish its batch, commit and exit; only flips a flag."""
        self._stop.set()

    @property
    def store_seconds(self) -> float:
        """Time the store thread spent writing (``seconds`` holds the consumer thread's)."""
        return self._store.seconds

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        self.subscribe()
        log.info(
            "%s consuming %s (batch %d / %.0f ms)",
            self.name,
            self.topic,
            self._batch.policy.max_size,
            self._batch.policy.max_wait_seconds * 1000,
        )
        try:
            while not self.stopping:
                self.pump() if self.overlap else self.step()
            self.flush()
        finally:
            self.close()

    def subscribe(self) -> None:
        """Join the group for ``topic`` (once; ``run()`` calls it, a caller that drives ``step()`` calls it first)."""
        if not self._subscribed:
            self._consumer.subscribe([self.topic], listener=_RebalanceListener(self))
            self._subscribed = True

    def step(self) -> int:
        """One poll; flush when the batch policy says so; housekeeping. Returns records polled.

        Whatever batch it takes is written and committed (or given back) before it returns, so a caller
        driving ``step()`` sees each batch finished; ``run()`` uses :meth:`pump` and overlaps them.
        """
        count = self.pump()
        self._advance(until=0)
        return count

    def pump(self) -> int:
        """One poll; finish written batches; prepare and queue the batch when due, without waiting for it."""
        polled = self._consumer.poll(timeout_ms=self._poll_timeout_ms(), max_records=max(1, self._batch.room))
        count = 0
        for tp, records in polled.items():
            if tp in self._rewind:  # behind a batch a revoke dropped: read again from there
                continue
            for record in records:
                self._batch.add(record)
                count += 1
        self._apply_rewind()
        self._announce_assignment()
        if count:
            self.metrics.count_in(count)
        self._advance()
        if self._batch.is_due():
            self._dispatch()
        self._between_batches()
        return count

    def _poll_timeout_ms(self) -> int:
        longest = BUSY_POLL_MS if self._inflight else IDLE_POLL_MS
        if not len(self._batch):
            return longest
        return min(longest, int(self._batch.seconds_left() * 1000))

    def close(self) -> None:
        self._drop_in_flight()
        try:
            self._store.close(STORE_CLOSE_SECONDS)
            # kafka-python 3 may log a traceback for a socket it is closing itself (a read racing the close)
            with quiet_kafka(getattr(self._consumer, "config", {}).get("client_id")):
                self._consumer.close(autocommit=False)
        finally:
            self._dead_letters.close()
        t = self.metrics.totals
        log.info("%s stopped (%d stored, %d duplicates, %d dead letters)",
                 self.name, t.stored, t.duplicates, t.dead_lettered)

    # -- one batch --------------------------------------------------------------------------

    def flush(self) -> None:
        """Handle whatever the batch holds now and every batch in flight, each with the fixed commit order."""
        self._dispatch()
        self._advance(until=0)

    def _dispatch(self) -> None:
        """Prepare the batch on this thread and queue it for the store (behind at most one batch)."""
        self._advance(until=1)  # one in the store and one prepared: the next one waits
        if len(self._batch):  # announced while the batch still counts in the backlog
            self._announce_assignment(before_store=True)
        records = self._batch.take()
        if not records:
            return
        item = InFlight(records, self._clock())
        self._inflight.append(item)
        started = time.perf_counter()
        try:
            item.prepared = self._prepare(records)
        except (Backpressure, BatchFailure) as exc:
            item.stage, item.error = Stage.FAILED, exc
        self.seconds.prepare += time.perf_counter() - started
        self._advance(until=None if self.overlap else 0)

    def _advance(self, *, until: int | None = None) -> None:
        """Finish written batches in order: dead letters, then offsets; hand the next prepared one to the store.

        Blocks until at most ``until`` batches are in flight (None: never blocks). A batch that failed
        takes every batch behind it down with it (:meth:`_fail`).
        """
        while self._inflight:
            head = self._inflight[0]
            block = until is not None and len(self._inflight) > until
            if head.stage is Stage.PREPARED:
                if not self._store_free(block):
                    return
                self._store.submit(head)
            if head.stage is Stage.WRITING and not self._collect(head, block):
                return
            if head.error is not None:
                self._fail(head.error)
                return
            behind = self._inflight[1] if len(self._inflight) > 1 else None
            if behind is not None and behind.stage is Stage.PREPARED:
                self._store.submit(behind)  # its transaction may commit before these offsets do; never its offsets
            try:
                self._finish(head)
            except Backpressure as exc:
                self._fail(exc)
                return
            self._inflight.popleft()
            self._backoff.reset()
            self._failed_batches = 0

    def _store_free(self, block: bool) -> bool:
        """Whether the store can take a batch; a dropped batch still being written is waited out first."""
        if not self._store.busy:
            return True
        return self._wait(block) is not None

    def _collect(self, head: InFlight, block: bool) -> bool:
        done = self._wait(block)
        if done is None:
            return False
        if done is not head:  # the store writes in submission order, one at a time
            raise RuntimeError("the store stage returned batches out of order")
        return True

    def _wait(self, block: bool) -> InFlight | None:
        if not block:
            return self._store.collect(0)
        started = time.perf_counter()
        done = self._store.collect(None)
        self.seconds.waiting += time.perf_counter() - started
        return done

    def _finish(self, item: InFlight) -> None:
        started = time.perf_counter()
        outcome = item.outcome
        self._dead_letters.publish(outcome.letters)
        self._commit(next_offsets(item.records))
        self.seconds.finish += time.perf_counter() - started
        self._account(item.records, outcome, self._clock() - item.started)

    def _fail(self, exc: BaseException) -> None:
        """Drop every batch in flight and what the batch holds; give them all back (or trip the breaker)."""
        records = self._drop_in_flight() + self._batch.take()
        if isinstance(exc, BatchFailure):
            self._batch_failed(records, exc)
        elif isinstance(exc, Backpressure):
            self._give_back(records, exc)
        else:
            raise exc

    def _drop_in_flight(self) -> list[Any]:
        """Forget the batches in flight (none of them will be committed); returns their records."""
        if self._store.busy:
            self._wait(block=True)  # let the write in progress end before anything is read again
        records = [r for item in self._inflight for r in item.records]
        self._inflight.clear()
        return records

    def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        try:
            self._consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()})
        except REBALANCE_ERRORS as exc:
            # The rows are stored; whoever owns these partitions next re-reads them and finds duplicates.
            log.warning("offsets %s not committed, the group is rebalancing (%s)", where(offsets), exc)
        except KafkaError as exc:
            raise Backpressure(f"cannot commit offsets {where(offsets)}: {exc}") from exc

    def _account(self, records: Sequence[Any], outcome: BatchOutcome, secs: float) -> None:
        self.metrics.count_written(outcome.new, outcome.duplicates)
        for letter in outcome.letters:
            self.metrics.count_dead_letter(letter.reason)
        self.metrics.batch_size.observe(len(records))
        self.metrics.batch_seconds.observe(secs)
        log.debug("batch of %d up to %s: %d new, %d duplicates, %d dead letters in %.3fs",
                  len(records), where(next_offsets(records)), outcome.new, outcome.duplicates,
                  len(outcome.letters), secs)

    # -- backpressure and whole-batch failures ------------------------------------------------

    def _batch_failed(self, records: Sequence[Any], exc: BatchFailure) -> None:
        """Retry a batch that failed as a whole; after ``breaker_batches`` in a row, stop consuming."""
        self._failed_batches += 1
        self.metrics.batch_failures.inc()
        at = where(first_offsets(records))
        if self._failed_batches < self._breaker_batches:
            log.error("batch from %s failed as a whole (%d of %d before stopping): %s",
                      at, self._failed_batches, self._breaker_batches, exc)
            self._give_back(records, exc)
            return
        self.metrics.breaker_open.set(1)
        log.critical("stopping: %d batches in a row failed as a whole; offsets from %s stay uncommitted (%s)",
                     self._failed_batches, at, exc)
        raise SystemicFailure(
            f"stopped after {self._failed_batches} consecutive batches failed as a whole, "
            f"offsets from {at} uncommitted: {exc}. Fix the model or the database, then restart"
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
        log.warning("%s; paused %d partitions at %s, retrying in %.1fs", exc, len(assigned), where(firsts), delay)
        while not self.stopping:
            self._idle(delay)
            self._beat()  # fails fast (the answer deadline) when the database is the problem
            if self.stopping or self._handler.available():
                break
            delay = self._backoff.next()
            log.warning("the store is still unavailable; next try in %.1fs", delay)
        self._resume()
        log.info("resumed after %.1fs paused; re-reading from %s", self._clock() - paused_at, where(firsts))

    def _pause(self, partitions: Any) -> None:
        self._paused = True
        self.metrics.paused.set(1)
        if partitions:
            self._consumer.pause(*partitions)

    def _resume(self) -> None:
        self._paused = False
        self._announce_due = True
        if self._heartbeat is not None:
            self._heartbeat.answered()
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
        self._handler.between_batches()
        self._beat()

    def _beat(self) -> None:
        if self._heartbeat is not None and self._heartbeat.due():
            behind = self._behind()
            lag = {key: n for key, n in behind.items() if n is not None}
            self.metrics.set_lag(lag)
            self._heartbeat.beat(self.metrics.totals, self._handler.describe(), lag, self.backlog(behind))

    def _announce_assignment(self, *, before_store: bool = False) -> None:
        """After a rebalance gave this member partitions, or it resumed them after a pause, say so before any of
        their batches can be stored, so the detector's watermark waits for them (``partition_progress``; an
        unknown backlog counts as one). One that fails is tried again, with the heartbeat's back-off, and always
        right before a batch goes to the store (``before_store``)."""
        if not self._announce_due:
            return
        if self._heartbeat is None:
            self._announce_due = False
        elif before_store or self._heartbeat.may_write():
            self._announce_due = not self._heartbeat.report_backlog(self.backlog())

    def backlog(self, behind: dict[tuple[str, int], int | None] | None = None) -> dict[tuple[str, int], int | None]:
        """Per assigned partition, messages not stored yet: the consumer's lag (``behind``, else read now) plus
        those polled and waiting in the batch or in flight; None while the end or the position is unknown."""
        waiting = Counter((r.topic, r.partition) for r in self._batch.records)
        waiting.update((r.topic, r.partition) for item in self._inflight for r in item.records)
        behind = self._behind() if behind is None else behind
        return {key: None if n is None else n + waiting[key] for key, n in behind.items()}

    def assignment(self) -> set[TopicPartition]:
        """The partitions this member owns now."""
        return set(self._consumer.assignment())

    def lag(self) -> dict[tuple[str, int], int]:
        """Per assigned partition, messages between the position and the last known end (where both are known)."""
        return {key: n for key, n in self._behind().items() if n is not None}

    def _behind(self) -> dict[tuple[str, int], int | None]:
        """Per assigned partition, messages between the position and the last known end; None where unknown."""
        behind: dict[tuple[str, int], int | None] = {}
        for tp in self._consumer.assignment():
            try:
                end, position = self._consumer.highwater(tp), self._consumer.position(tp, timeout_ms=200)
            except KafkaError:
                end = position = None
            behind[(tp.topic, tp.partition)] = None if end is None or position is None else max(0, end - position)
        return behind

    # -- rebalances -------------------------------------------------------------------------

    def on_revoked(self, partitions: Any) -> None:
        """Runs while the consumer thread waits in ``poll()`` (kafka-python 3 calls it on its IO thread).

        No consumer call may block here (commit would raise), so batches in flight are dropped, not
        committed: this member commits nothing of them afterwards, and their next owner re-reads them
        (their rows are found as duplicates). A write already in the store ends on its own.
        """
        if self._inflight:
            for item in self._inflight:
                item.dropped = True
            records = [r for item in self._inflight for r in item.records] + self._batch.take()
            self._inflight.clear()
            gone = set(partitions)
            kept = [r for r in records if partition_of(r) not in gone]
            self._rewind = first_offsets(kept)
            log.info("dropped %d uncommitted messages in flight at a revoke of %s; they are read again",
                     len(records), sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions))
            return
        dropped = self._batch.drop_partitions(partitions)
        if dropped:
            log.info("dropped %d uncommitted messages of revoked %s; their next owner re-reads them",
                     dropped, sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions))

    def _apply_rewind(self) -> None:
        """Seek partitions this member kept back to the batches a revoke dropped (on the consumer thread)."""
        rewind, self._rewind = self._rewind, {}
        assigned = self._consumer.assignment() if rewind else ()
        for tp, offset in rewind.items():
            if tp in assigned:
                self._consumer.seek(tp, offset)

    def on_assigned(self, partitions: Any) -> None:
        log.info("assigned %s", sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing")
        self._announce_due = self._announce_due or bool(partitions)  # reported by the consumer thread after this poll
        if self._paused and partitions:
            self._consumer.pause(*partitions)


class _RebalanceListener(ConsumerRebalanceListener):
    def __init__(self, engine: ConsumerEngine) -> None:
        self._engine = engine

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._engine.on_revoked(revoked)

    def on_partitions_assigned(self, assigned: Any) -> None:
        self._engine.on_assigned(assigned)


def where(offsets: dict[TopicPartition, int]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]@{o}" for tp, o in sorted(offsets.items()))
