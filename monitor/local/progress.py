"""How far the demo's replay got, measured in stored articles, with a time-to-go from the measured speed."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Engine, text


class StoredProgress:
    """Counts articles stored since the replay started; ``report()`` gives a line every ``every`` seconds."""

    def __init__(self, engine: Engine, total: int, *, every: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._engine, self.total, self._every, self._clock = engine, total, every, clock
        self._base = self._count()
        self._started = clock()
        self._last_report = self._started
        self.stored = 0
        self.done_at: float | None = None
        self._first: tuple[float, int] | None = None

    def _count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(text("select count(*) from articles")).scalar_one())

    def rate(self) -> float | None:
        """Articles per second since the first ones were seen stored (model loading and the group join
        before that would make the estimate look slower than the pipeline is)."""
        if not self.stored:
            return None
        if self._first is None:
            self._first = (self._clock(), self.stored)
            return self.stored / max(self._clock() - self._started, 1e-9)
        at, count = self._first
        elapsed = self._clock() - at
        return (self.stored - count) / elapsed if elapsed > 0 and self.stored > count else None

    def report(self) -> str | None:
        """A progress line when one is due (or when the last message was stored), else None."""
        now = self._clock()
        if self.done_at is not None or now - self._last_report < self._every:
            return None
        self._last_report = now
        self.stored = self._count() - self._base
        if self.stored >= self.total:
            self.done_at = now
            return (f"all {self.total:,} messages stored in {now - self._started:.0f}s; the detector judges the "
                    "last stretch once the partitions have been quiet for a minute "
                    "(MONITOR_ALERTS__PARTITION_IDLE_SECONDS)")
        rate = self.rate()
        if not self.stored:
            return f"stored 0 of {self.total:,} messages so far (the worker is loading the model or joining)"
        if rate is None:
            return f"stored {self.stored:,} of {self.total:,} messages (no new ones in the last {self._every:.0f}s)"
        return (f"stored {self.stored:,} of {self.total:,} messages ({rate:.1f}/s measured, "
                f"about {(self.total - self.stored) / rate:.0f}s to go)")
