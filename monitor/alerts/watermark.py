"""How far in event time the scheduled check may judge: no further than the slowest input partition still receiving.

Workers read partitions at different speeds: one consumer fetches a megabyte of one partition before the next,
a second worker is still loading its model, a replay runs thousands of times faster than real time. Judging
windows up to the latest stored event would judge some of them before their articles in a slower partition
arrive, and a judged window is never judged again. So each partition's row in ``partition_progress`` (moved by
the worker in the batch's own transaction, and by its heartbeat) says how far it is stored, and the check
stops just before the oldest of those among the partitions that still count:

- a partition counts while it stored a batch within ``partition_idle_seconds`` (a quiet feed's idle partitions
  hold nothing back), or while the last report of its worker, within ``partition_max_hold_seconds``, said it
  has a backlog (messages in the broker or polled but not stored; a partition just assigned, whose end is not
  known yet, counts as one): a worker paused by a database outage, or gone before another took its
  partitions, leaves its backlog counted;
- a partition that counts and has nothing stored yet holds everything (its articles could be from any time);
- a partition that has not moved for ``partition_max_hold_seconds`` (its newest event time went forward, or a
  worker took it over or resumed it after a pause) stops counting, with a warning: a stuck worker delays
  alerts at most that long.

Within a partition, articles are assumed to arrive in event-time order; one that arrives dated before its
partition's newest stored event is late and is counted only in windows not yet judged.

Steps end on one event-time grid, every ``step`` since the Unix epoch (10-minute steps end at :00, :10, ...), as
aligned sliding windows do in stream processors: a step is judged once the watermark has passed its end, so the
windows a run judges do not depend on when it ran, and checks every minute, one backfill and a replay judge the
same windows of the same articles. When no partition counts (the feed is quiet, or nothing reports progress:
the watermark is off, or rows were stored without the worker), the check judges up to the end of the step holding
the latest event, but never past the wall clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.settings import AlertSettings
from monitor.store.orm import PartitionProgress

log = logging.getLogger(__name__)

JUST_BEFORE = timedelta(microseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def grid_floor(t: datetime, step: timedelta) -> datetime:
    """The last step end at or before ``t`` (step ends are multiples of ``step`` since the epoch)."""
    return EPOCH + (t - EPOCH) // step * step


def grid_ceil(t: datetime, step: timedelta) -> datetime:
    """The first step end at or after ``t``."""
    return EPOCH - (EPOCH - t) // step * step


def quiet_end(latest: datetime, now: datetime, step: timedelta, *, until: datetime | None = None) -> datetime:
    """How far a run may judge when nothing is still being read: the end of the step holding ``latest`` (or
    ``until``'s step end before it), never past the wall clock (a real-time feed's current step is not over)."""
    bound = min(grid_ceil(latest, step), now)
    return grid_floor(bound if until is None else min(bound, until), step)


@dataclass(frozen=True)
class PartitionState:
    """One partition as the watermark saw it."""

    topic: str
    partition: int
    event_time: datetime | None
    lag: int | None
    backlog_unknown: bool = False

    @property
    def name(self) -> str:
        return f"{self.topic}[{self.partition}]"

    def describe(self) -> str:
        at = self.event_time.isoformat() if self.event_time else "nothing stored yet"
        if self.backlog_unknown:
            behind = ", backlog not known yet"
        else:
            behind = f", {self.lag} message(s) behind" if self.lag else ""
        return f"{self.name} ({at}{behind})"


@dataclass(frozen=True)
class Watermark:
    """The partitions that count now, and those left out because they stopped moving."""

    counting: list[PartitionState] = field(default_factory=list)
    stalled: list[PartitionState] = field(default_factory=list)

    def limit(self, latest: datetime) -> datetime | None:
        """How far the check may judge, at most ``latest``; None while a counting partition has stored nothing.

        Just before the slowest partition's newest stored event (as Flink's watermarks): more articles with that
        same time may still follow it there."""
        if any(p.event_time is None for p in self.counting):
            return None
        times = [p.event_time - JUST_BEFORE for p in self.counting if p.event_time is not None]
        return min([latest, *times])

    def judge_until(self, latest: datetime, now: datetime, step: timedelta) -> datetime | None:
        """The last step end a check may judge: the last one at or before the limit while a partition counts,
        else ``quiet_end``; None while a counting partition has stored nothing."""
        if not self.counting:
            return quiet_end(latest, now, step)
        limit = self.limit(latest)
        return None if limit is None else grid_floor(limit, step)

    def holders(self, latest: datetime) -> list[PartitionState]:
        """The partitions that keep the check short of ``latest``: the slowest ones, when they are behind it."""
        if any(p.event_time is None for p in self.counting):
            return [p for p in self.counting if p.event_time is None]
        slowest = min((p.event_time for p in self.counting if p.event_time is not None), default=None)
        if slowest is None or slowest >= latest:
            return []
        return [p for p in self.counting if p.event_time == slowest]


def find_watermark(settings: AlertSettings, *, session: Session, warn: bool = True) -> Watermark:
    """Read ``partition_progress`` against the database's clock (workers and scheduler may run on other hosts);
    ``warn``: log the partitions left out for not moving (what a check does, not a status read)."""
    if settings.partition_idle_seconds == 0:
        return Watermark()
    now = session.scalar(select(func.now()))
    idle = now - timedelta(seconds=settings.partition_idle_seconds)
    hold = now - timedelta(seconds=settings.partition_max_hold_seconds)
    counting, stalled = [], []
    for row in session.scalars(select(PartitionProgress).order_by(PartitionProgress.topic,
                                                                 PartitionProgress.partition)):
        storing = row.stored_at is not None and row.stored_at > idle
        # A backlog last heard of counts for up to the maximum hold, not only while reports keep coming: its
        # worker may be paused by a database outage (no reports), or gone with nobody to take its partitions yet.
        backlog = row.lag_at is not None and row.lag_at > hold and (row.lag is None or row.lag > 0)
        if not (storing or backlog):
            continue
        state = PartitionState(row.topic, row.partition, row.event_time, row.lag if backlog else None,
                               backlog_unknown=backlog and row.lag is None)
        # Moving: its newest event time went forward, or a worker took it over or resumed it, lately.
        moved = max(t for t in (row.advanced_at, row.announced_at, row.created_at) if t is not None)
        (counting if moved > hold else stalled).append(state)
    if stalled and warn:
        log.warning("alert check goes on without %s: no newer event stored for %d s although it is still "
                    "receiving or has a backlog; articles stored there later are left out of windows already judged",
                    ", ".join(p.describe() for p in stalled), settings.partition_max_hold_seconds)
    return Watermark(counting, stalled)
