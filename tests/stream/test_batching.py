"""Batch policy (count or time, whichever first), the record accumulator, offsets and backoff."""

from __future__ import annotations

import pytest
from kafka.structs import TopicPartition

from monitor.stream.backoff import Backoff
from monitor.stream.batching import BatchPolicy, RecordBatch, first_offsets, next_offsets

from .fakes import FakeRecord, records


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_policy_flushes_on_count_or_time_whichever_first() -> None:
    policy = BatchPolicy(max_size=3, max_wait_seconds=0.2)
    assert not policy.is_due(0, 10.0)  # nothing to flush, however long we waited
    assert not policy.is_due(2, 0.1)
    assert policy.is_due(3, 0.0)
    assert policy.is_due(1, 0.2)
    assert policy.seconds_left(1, 0.05) == pytest.approx(0.15)
    assert policy.seconds_left(0, 0.0) == 0.2


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        BatchPolicy(0, 1.0)
    with pytest.raises(ValueError):
        BatchPolicy(1, 0.0)


def test_batch_age_counts_from_its_first_record() -> None:
    clock = FakeClock()
    batch = RecordBatch(BatchPolicy(10, 0.5), clock=clock)
    clock.now += 5  # idle time before the first record does not count
    batch.add(records([b"a"])[0])
    assert not batch.is_due() and batch.room == 9
    clock.now += 0.3
    batch.add(records([b"b"], start=1)[0])
    assert batch.seconds_left() == pytest.approx(0.2)
    clock.now += 0.2
    assert batch.is_due()
    assert [r.value for r in batch.take()] == [b"a", b"b"]
    assert len(batch) == 0 and not batch.is_due()


def test_revoked_partitions_are_dropped_from_the_batch() -> None:
    batch = RecordBatch(BatchPolicy(10, 1.0))
    for r in records([b"a", b"b"], partition=0) + records([b"c"], partition=1):
        batch.add(r)
    assert batch.drop_partitions([TopicPartition("news", 0)]) == 2
    assert [r.value for r in batch.take()] == [b"c"]


def test_offsets_to_seek_back_to_and_to_commit() -> None:
    batch = [FakeRecord("news", 0, 7, b""), FakeRecord("news", 0, 5, b""), FakeRecord("news", 2, 9, b"")]
    assert first_offsets(batch) == {TopicPartition("news", 0): 5, TopicPartition("news", 2): 9}
    assert next_offsets(batch) == {TopicPartition("news", 0): 8, TopicPartition("news", 2): 10}


def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(initial=0.5, maximum=3.0)
    assert [backoff.next() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next() == 0.5
