"""The engine's overlap (prepare batch n+1 while batch n is written) against an honest in-memory consumer.

The fake consumer keeps positions, committed offsets, pauses and the group's revoke/assign cycle the
way kafka-python does, and records the thread of every call: every Kafka call must come from the
consumer thread (here: the test's thread, which drives ``step()``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from kafka.structs import TopicPartition

from monitor.stream.backoff import Backoff
from monitor.stream.batching import BatchPolicy, RecordBatch, next_offsets
from monitor.stream.deadletter import DeadLetter
from monitor.stream.engine import BatchOutcome, ConsumerEngine
from monitor.stream.errors import Backpressure, BatchFailure, SystemicFailure

from .fakes import FakeRecord

TOPIC = "news"


def tp(partition: int) -> TopicPartition:
    return TopicPartition(TOPIC, partition)


class FakeConsumer:
    """Positions, commits, pause/resume, seek and an eager rebalance, as kafka-python keeps them."""

    def __init__(self, log: list, partitions: dict[int, list[bytes]]) -> None:
        self.log = log
        self.data = {tp(p): [FakeRecord(TOPIC, p, i, v) for i, v in enumerate(vs)] for p, vs in partitions.items()}
        self.positions = dict.fromkeys(self.data, 0)
        self.committed: dict[TopicPartition, int] = {}
        self.assigned: set[TopicPartition] = set()
        self.paused_set: set[TopicPartition] = set()
        self.listener: Any = None
        self.threads: set[int] = set()
        self.rebalance_at_next_poll = False
        self.closed = False

    def _call(self) -> None:
        self.threads.add(threading.get_ident())

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self._call()
        self.listener = listener

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict:
        self._call()
        if not self.assigned or self.rebalance_at_next_poll:
            self._rebalance()
        out: dict[TopicPartition, list] = {}
        room = max_records or 10**9
        for part in sorted(self.assigned - self.paused_set, key=lambda t: t.partition):
            got = self.data[part][self.positions[part] : self.positions[part] + room]
            if got:
                out[part] = got
                self.positions[part] += len(got)
                room -= len(got)
        if not out:
            time.sleep(min(timeout_ms, 5) / 1000)
        return out

    def _rebalance(self) -> None:
        """Eager: everything is revoked, then (this being the only member) assigned again at committed offsets."""
        self.rebalance_at_next_poll = False
        if self.assigned:
            self.listener.on_partitions_revoked(set(self.assigned))
            self.log.append(("revoked",))
        self.assigned = set(self.data)
        for part in self.assigned:
            self.positions[part] = self.committed.get(part, 0)
        self.listener.on_partitions_assigned(set(self.assigned))

    def commit(self, offsets: dict) -> None:
        self._call()
        got = {part: o.offset for part, o in offsets.items()}
        for part, offset in got.items():
            assert offset >= self.committed.get(part, 0), "an offset went backwards"
        self.committed.update(got)
        self.log.append(("commit", {p.partition: o for p, o in got.items()}))

    def seek(self, part: TopicPartition, offset: int) -> None:
        self._call()
        self.positions[part] = offset

    def assignment(self) -> set[TopicPartition]:
        self._call()
        return set(self.assigned)

    def pause(self, *parts: TopicPartition) -> None:
        self._call()
        self.paused_set |= set(parts)

    def resume(self, *parts: TopicPartition) -> None:
        self._call()
        self.paused_set -= set(parts)

    def paused(self) -> set[TopicPartition]:
        self._call()
        return set(self.paused_set)

    def highwater(self, part: TopicPartition) -> int:
        return len(self.data[part])

    def position(self, part: TopicPartition, timeout_ms: int = 0) -> int:
        return self.positions[part]

    def close(self, autocommit: bool = False) -> None:
        self._call()
        self.closed = True
        self.log.append(("close",))


class FakeDeadLetters:
    def __init__(self, log: list) -> None:
        self.log = log

    def publish(self, letters: Sequence[DeadLetter]) -> None:
        if letters:  # as the real queue: nothing to publish, nothing sent
            self.log.append(("dlq", sorted((d.record.partition, d.record.offset) for d in letters)))

    def close(self) -> None:
        pass


def key(records: Sequence[Any]) -> dict[int, int]:
    return {part.partition: o for part, o in next_offsets(records).items()}


class StagedFake:
    """prepare on the consumer thread; write on the store thread into an idempotent 'table'."""

    def __init__(self, log: list) -> None:
        self.log = log
        self.table: dict[tuple[int, int], bytes] = {}
        self.writes = 0
        self.hooks: list[Callable[[list], None]] = []  # run before the nth write (may block or raise)
        self.prepare_threads: set[int] = set()
        self.write_threads: set[int] = set()

    def prepare(self, records: Sequence[Any]) -> list:
        self.prepare_threads.add(threading.get_ident())
        self.log.append(("prepare", key(records)))
        return list(records)

    def write(self, records: list) -> BatchOutcome:
        self.write_threads.add(threading.get_ident())
        hook = self.hooks[self.writes] if self.writes < len(self.hooks) else None
        self.writes += 1
        if hook is not None:
            hook(records)
        good = [r for r in records if r.value != b"bad"]
        new = [r for r in good if (r.partition, r.offset) not in self.table]
        self.table.update({(r.partition, r.offset): r.value for r in good})
        self.log.append(("db", key(records)))
        letters = [DeadLetter(r, "no_text", "bad", "InvalidMessage") for r in records if r.value == b"bad"]
        return BatchOutcome(len(new), len(good) - len(new), letters)

    def handle(self, records: Sequence[Any]) -> BatchOutcome:
        return self.write(self.prepare(records))

    def available(self) -> bool:
        return True

    def between_batches(self) -> None:
        pass

    def describe(self) -> str | None:
        return None


def make(partitions: dict[int, list[bytes]], size: int = 4, breaker: int = 3):
    log: list = []
    consumer = FakeConsumer(log, partitions)
    handler = StagedFake(log)
    engine = ConsumerEngine(
        consumer=consumer,
        topic=TOPIC,
        batch=RecordBatch(BatchPolicy(size, 0.05)),
        handler=handler,
        dead_letters=FakeDeadLetters(log),
        backoff=Backoff(0.01, 0.02),
        breaker_batches=breaker,
    )
    engine.subscribe()
    return engine, consumer, handler, log


def values(n: int, bad: Sequence[int] = ()) -> list[bytes]:
    return [b"bad" if i in bad else f"m{i}".encode() for i in range(n)]


def pump_until(engine: ConsumerEngine, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        engine.pump()


def assert_commit_order(log: list) -> None:
    """Per batch: db, then dead letters, then offsets; offsets of batch n+1 never before batch n's."""
    dbs = [i for i, e in enumerate(log) if e[0] == "db"]
    commits = [i for i, e in enumerate(log) if e[0] == "commit"]
    for i in commits:
        offsets = log[i][1]
        db = max(j for j in dbs if j < i and log[j][1] == offsets)  # this batch's transaction came first
        dlq = [j for j in range(db, i) if log[j][0] == "dlq"]
        assert len(dlq) <= 1
        assert not [j for j in range(db + 1, i) if log[j][0] == "commit"], "another batch committed in between"


def test_batch_n_plus_1_is_prepared_while_batch_n_is_written_and_commits_keep_batch_order() -> None:
    engine, consumer, handler, log = make({0: values(12, bad=[1, 6])})
    release = threading.Event()
    handler.hooks = [lambda _: release.wait(10)]
    engine.pump()  # batch 1 (offsets 0-3) prepared and handed to the store, which blocks
    pump_until(engine, lambda: ("prepare", {0: 8}) in log)  # batch 2 prepared meanwhile
    assert ("db", {0: 4}) not in log and not [e for e in log if e[0] == "commit"]
    release.set()
    pump_until(engine, lambda: consumer.committed.get(tp(0)) == 12)
    engine.flush()

    assert handler.prepare_threads == {threading.get_ident()}
    assert handler.write_threads and threading.get_ident() not in handler.write_threads
    assert consumer.threads == {threading.get_ident()}, "a Kafka call left the consumer thread"
    assert [e[1] for e in log if e[0] == "commit"] == [{0: 4}, {0: 8}, {0: 12}]
    assert [e[1] for e in log if e[0] == "dlq"] == [[(0, 1)], [(0, 6)]]
    assert_commit_order(log)
    assert len(handler.table) == 10 and engine.metrics.totals.stored == 10


def test_backpressure_in_the_store_while_n_plus_1_is_prepared_commits_neither_and_rereads_both() -> None:
    engine, consumer, handler, log = make({0: values(8), 1: values(8)})
    release = threading.Event()

    def refuse(_: list) -> None:
        release.wait(10)
        raise Backpressure("Postgres is unavailable: connection refused")

    handler.hooks = [refuse]
    engine.pump()  # batch 1 (partition 0 @0-3) in the store
    pump_until(engine, lambda: len([e for e in log if e[0] == "prepare"]) == 2)  # batch 2 prepared behind it
    release.set()
    pump_until(engine, lambda: engine.metrics.backpressure._value.get() == 1)
    assert not [e for e in log if e[0] == "commit"], "nothing of batch n or n+1 may be committed"
    assert not consumer.paused_set  # resumed after the backoff
    pump_until(engine, lambda: consumer.committed == {tp(0): 8, tp(1): 8})
    engine.flush()

    assert sorted(handler.table) == [(p, o) for p in (0, 1) for o in range(8)]  # none lost
    totals = engine.metrics.totals
    assert totals.stored == 16  # none stored twice: the refused batch wrote nothing
    prepared = [e[1] for e in log if e[0] == "prepare"]
    assert prepared[0] in prepared[2:] and prepared[1] in prepared[2:], "both batches were read again"
    assert_commit_order(log)
    assert consumer.threads == {threading.get_ident()}


def test_a_batch_failure_while_preparing_lets_the_batch_in_the_store_commit_first() -> None:
    engine, consumer, handler, log = make({0: values(8)}, breaker=2)
    release = threading.Event()
    handler.hooks = [lambda _: release.wait(10)]
    calls = {"n": 0}
    prepare = handler.prepare

    def broken_second(records: Sequence[Any]) -> list:
        calls["n"] += 1
        if calls["n"] >= 2:
            raise BatchFailure("the model is broken")
        return prepare(records)

    engine._prepare = broken_second  # the engine's view of the handler's first stage
    engine.pump()
    pump_until(engine, lambda: calls["n"] == 2)
    assert not [e for e in log if e[0] == "commit"]
    release.set()
    with pytest.raises(SystemicFailure):
        pump_until(engine, lambda: False)
    assert consumer.committed == {tp(0): 4}, "the batch written before the failure is committed, nothing after"
    assert [e[1] for e in log if e[0] == "commit"] == [{0: 4}]


def test_a_rebalance_with_batches_in_flight_commits_nothing_of_them_afterwards() -> None:
    engine, consumer, handler, log = make({0: values(12), 1: values(12)})
    release = threading.Event()
    handler.hooks = [lambda _: release.wait(10)]
    engine.pump()  # batch 1 in the store (blocked)
    pump_until(engine, lambda: len([e for e in log if e[0] == "prepare"]) == 2)  # batch 2 prepared
    consumer.rebalance_at_next_poll = True
    engine.pump()  # the revoke runs inside this poll
    revoked_at = log.index(("revoked",))
    release.set()
    pump_until(engine, lambda: consumer.committed == {tp(0): 12, tp(1): 12})
    engine.flush()

    first_two = [e[1] for e in log[:revoked_at] if e[0] == "prepare"]
    assert not [e for e in log[:revoked_at] if e[0] == "commit"]
    first_commit = next(i for i, e in enumerate(log) if e[0] == "commit")
    reread = [e[1] for e in log[revoked_at:first_commit] if e[0] == "prepare"]
    assert first_two[0] in reread, "the dropped batch is read again before anything is committed"
    assert sorted(handler.table) == [(p, o) for p in (0, 1) for o in range(12)]  # none lost
    totals = engine.metrics.totals
    # the dropped batch's write still ended; read again, its rows are duplicates, never stored twice
    assert totals.stored + totals.duplicates == 24 and totals.duplicates == 4
    assert_commit_order(log)
    assert consumer.threads == {threading.get_ident()}


def test_stop_with_batches_in_flight_writes_and_commits_them_then_closes() -> None:
    engine, consumer, handler, log = make({0: values(8)})
    release = threading.Event()
    handler.hooks = [lambda _: release.wait(10)]
    engine.pump()
    pump_until(engine, lambda: len([e for e in log if e[0] == "prepare"]) == 2)
    engine.stop()
    threading.Timer(0.1, release.set).start()
    engine.run()  # stopping already: drains what is in flight, commits, closes

    assert consumer.committed == {tp(0): 8}
    assert log[-1] == ("close",) and log[-2] == ("commit", {0: 8})
    assert_commit_order(log)


def test_a_handler_without_stages_runs_whole_in_the_store_stage() -> None:
    engine, consumer, handler, log = make({0: values(6, bad=[2])})

    class HandleOnly:
        def __init__(self) -> None:
            self.handle = handler.handle
            self.available, self.between_batches, self.describe = handler.available, lambda: None, lambda: None

    plain = ConsumerEngine(
        consumer=consumer, topic=TOPIC, batch=RecordBatch(BatchPolicy(4, 0.05)), handler=HandleOnly(),
        dead_letters=FakeDeadLetters(log), backoff=Backoff(0.01, 0.02),
    )
    plain.subscribe()
    pump_until(plain, lambda: consumer.committed.get(tp(0)) == 6)
    assert len(handler.table) == 5 and handler.write_threads != {threading.get_ident()}
    assert_commit_order(log)


def test_step_writes_and_commits_its_batch_before_it_returns() -> None:
    engine, consumer, handler, log = make({0: values(8)})
    engine.step()  # step() finishes its batch before it returns (run() pumps and overlaps)
    assert log[:3] == [("prepare", {0: 4}), ("db", {0: 4}), ("commit", {0: 4})]
    assert consumer.committed == {tp(0): 4}
