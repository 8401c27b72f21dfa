"""Micro-batches of Kafka records: a policy (count or time, whichever first) and the accumulator."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kafka.structs import TopicPartition


@dataclass(frozen=True)
class BatchPolicy:
    """Flush when the batch holds ``max_size`` records or its oldest record waited ``max_wait_seconds``."""

    max_size: int
    max_wait_seconds: float

    def __post_init__(self) -> None:
        if self.max_size < 1 or self.max_wait_seconds <= 0:
            raise ValueError("a batch policy needs max_size >= 1 and max_wait_seconds > 0")

    def is_due(self, size: int, age_seconds: float) -> bool:
        return size >= self.max_size or (size > 0 and age_seconds >= self.max_wait_seconds)

    def seconds_left(self, size: int, age_seconds: float) -> float:
        """How long the next poll may block before this batch must be flushed."""
        if size == 0:
            return self.max_wait_seconds
        return max(0.0, self.max_wait_seconds - age_seconds)


def partition_of(record: Any) -> TopicPartition:
    return TopicPartition(record.topic, record.partition)


def first_offsets(records: Iterable[Any]) -> dict[TopicPartition, int]:
    """Per partition, the offset to seek back to so that none of ``records`` is skipped."""
    firsts: dict[TopicPartition, int] = {}
    for r in records:
        tp = partition_of(r)
        firsts[tp] = min(firsts.get(tp, r.offset), r.offset)
    return firsts


def next_offsets(records: Iterable[Any]) -> dict[TopicPartition, int]:
    """Per partition, the offset to commit once ``records`` are written: last offset + 1."""
    nexts: dict[TopicPartition, int] = {}
    for r in records:
        tp = partition_of(r)
        nexts[tp] = max(nexts.get(tp, 0), r.offset + 1)
    return nexts


class RecordBatch:
    """Records polled but not yet written; the worker takes them out as one batch."""

    def __init__(self, policy: BatchPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._records: list[Any] = []
        self._started = 0.0

    def __len__(self) -> int:
        return len(self._records)

    @property
    def records(self) -> Sequence[Any]:
        """What the batch holds now (read-only view for counting; :meth:`take` empties it)."""
        return tuple(self._records)

    @property
    def room(self) -> int:
        return max(0, self.policy.max_size - len(self._records))

    def add(self, record: Any) -> None:
        if not self._records:
            self._started = self._clock()
        self._records.append(record)

    def age(self) -> float:
        return self._clock() - self._started if self._records else 0.0

    def is_due(self) -> bool:
        return self.policy.is_due(len(self._records), self.age())

    def seconds_left(self) -> float:
        return self.policy.seconds_left(len(self._records), self.age())

    def take(self) -> list[Any]:
        """All records, leaving the batch empty (so a failed write never leaves stale records behind)."""
        records, self._records = self._records, []
        return records

    def drop_partitions(self, partitions: Iterable[TopicPartition]) -> int:
        """Forget records of revoked partitions: their next owner re-reads them from committed offsets."""
        gone = set(partitions)
        kept = [r for r in self._records if partition_of(r) not in gone]
        dropped = len(self._records) - len(kept)
        self._records = kept
        return dropped
