"""Each worker keeps one row of ``worker_heartbeats`` fresh, for the dashboard's pipeline panel, and reports
each assigned partition's backlog in ``partition_progress``, for the detector's watermark."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, null
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from monitor.store import transaction
from monitor.store.orm import PartitionProgress, WorkerHeartbeat
from monitor.stream.metrics import Totals

log = logging.getLogger(__name__)

RETRY_CAP_SECONDS = 30.0
"""Longest wait between heartbeat tries while the database fails (or the interval, if longer)."""


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class Heartbeat:
    worker_id: str
    model_version: str | None
    messages_stored: int
    messages_dead_lettered: int
    texts_per_second: float | None
    lag: dict[str, Any] | None


def upsert_heartbeat(beat: Heartbeat, *, session: Session) -> None:
    values: dict[str, Any] = {**beat.__dict__, "updated_at": func.now()}
    if beat.lag is None:
        values["lag"] = null()  # SQL NULL rather than the JSON literal 'null'

    stmt = insert(WorkerHeartbeat).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[WorkerHeartbeat.worker_id],
        set_={k: stmt.excluded[k] for k in values if k != "worker_id"},
    )
    session.execute(stmt)
    session.flush()


def report_backlog(worker_id: str, backlog: Mapping[tuple[str, int], int | None], *, session: Session,
                   announce: bool = False) -> None:
    """Record each assigned partition's backlog (messages not stored yet; None: not known yet) as its worker sees it;
    ``announce``: the worker has just taken these partitions over, or resumed them after a pause."""
    if not backlog:
        return
    now = func.now()
    rows = [{"topic": t, "partition": p, "lag": n, "lag_at": now, "worker_id": worker_id,
             **({"announced_at": now} if announce else {})} for (t, p), n in sorted(backlog.items())]
    stmt = insert(PartitionProgress).values(rows)
    columns = ("lag", "lag_at", "worker_id", *(("announced_at",) if announce else ()))
    session.execute(stmt.on_conflict_do_update(
        index_elements=[PartitionProgress.topic, PartitionProgress.partition],
        set_={k: stmt.excluded[k] for k in columns},
    ))
    session.flush()


class HeartbeatReporter:
    """Writes a heartbeat at most every ``interval`` seconds; a database outage only logs.

    Only the news worker has one: the backlog it reports holds the alert detector back (a consumer of another
    topic must not report there)."""

    def __init__(
        self,
        worker_id: str,
        session_factory: sessionmaker[Session],
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.worker_id = worker_id
        self._factory = session_factory
        self._interval = interval
        self._clock = clock
        self._last_time: float | None = None
        self._last_texts = 0
        self._failures = 0
        self._retry_at: float | None = None

    def due(self) -> bool:
        """Time for a heartbeat: every ``interval``, or after a failed one, once its back-off has passed."""
        if self._retry_at is not None:
            return self._clock() >= self._retry_at
        return self._last_time is None or self._clock() - self._last_time >= self._interval

    def may_write(self) -> bool:
        """False while backing off after a failed write: each try against a hung database blocks the consumer
        thread for the database's answer deadline, and tries every ``interval`` would leave it no time to poll
        (a member that never polls never gets its partitions)."""
        return self._retry_at is None or self._clock() >= self._retry_at

    def answered(self) -> None:
        """The database answered again (the worker is resuming): write at once, no back-off."""
        self._retry_at = None

    def beat(self, totals: Totals, model_version: str | None, lag: Mapping[tuple[str, int], int],
             backlog: Mapping[tuple[str, int], int | None] | None = None) -> None:
        """Upsert this worker's row (``lag``: the consumer's, shown on the dashboard) and each partition's
        ``backlog`` (what is not stored yet, for the detector's watermark)."""
        now, texts = self._clock(), totals.stored + totals.duplicates
        rate = None
        if self._last_time is not None and now > self._last_time:
            rate = (texts - self._last_texts) / (now - self._last_time)
        self._last_time, self._last_texts = now, texts
        beat = Heartbeat(
            self.worker_id,
            model_version,
            totals.stored,
            totals.dead_lettered,
            rate,
            {f"{t}[{p}]": v for (t, p), v in sorted(lag.items())} or None,
        )
        self._write(beat, backlog or {})

    def report_backlog(self, backlog: Mapping[tuple[str, int], int | None]) -> bool:
        """Only the partitions' backlog, now, as an announcement (after an assignment or a resume); an outage only
        logs, as a heartbeat's. False when it could not be written."""
        return self._write(None, backlog, announce=True)

    def _write(self, beat: Heartbeat | None, backlog: Mapping[tuple[str, int], int | None], *,
               announce: bool = False) -> bool:
        try:
            with transaction(self._factory) as session:
                if beat is not None:
                    upsert_heartbeat(beat, session=session)
                report_backlog(self.worker_id, backlog, session=session, announce=announce)
        except Exception as exc:  # noqa: BLE001 - a heartbeat must never stop the worker
            if not self._failures:
                log.warning("cannot write the heartbeat of %s (%s); retrying with back-off", self.worker_id,
                            type(exc).__name__)
            self._failures += 1
            # (the exponent is capped: a day-long outage must not overflow the float)
            delay = min(max(self._interval, RETRY_CAP_SECONDS), self._interval * 2 ** min(self._failures, 20))
            self._retry_at = self._clock() + delay  # from the end of the try: a hung one took its deadline
            return False
        self._failures, self._retry_at = 0, None
        return True
