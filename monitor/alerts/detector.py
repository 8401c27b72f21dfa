"""``NegativeShareDetector``: steps through event time, opening, following and resolving one episode
per scope, and grouping the episodes that overlap into one notification.

Every state change writes the alert rows and their webhook outbox rows in the caller's transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, inspect, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from monitor.alerts.counts import History, find_history, load_bucket_counts
from monitor.alerts.episodes import EpisodeBook
from monitor.alerts.errors import AlertsError
from monitor.alerts.scan import Scan
from monitor.alerts.statistics import SpikeRules
from monitor.alerts.watermark import find_watermark, grid_floor, quiet_end
from monitor.settings import AlertSettings
from monitor.store.engine import transaction
from monitor.store.orm import Alert, AlertGroup, AlertMute, DetectorCheckpoint

log = logging.getLogger(__name__)


class HoldNotices:
    """How loud the scheduled check says it is held a step or more behind: INFO at most once every ``every_s``
    seconds, DEBUG in between. The check runs every few seconds, and a stream replayed faster than real time is
    held at nearly every check, by whichever partition's batch is slowest at that moment: a line per check would
    bury the log. A partition that stays behind for good gets its own warning (``PARTITION_MAX_HOLD_SECONDS``)."""

    def __init__(self, every_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s, self.clock = every_s, clock
        self._lock = threading.Lock()
        self._at: float | None = None

    def level(self, far: bool) -> int:
        """The level for this check's line; ``far``: held a step or more behind."""
        with self._lock:
            now = self.clock()
            if far and (self._at is None or now - self._at >= self.every_s):
                self._at = now
                return logging.INFO
            return logging.DEBUG


_HOLDS = HoldNotices()

# Serialises detector runs across processes (scheduler + `monitor alerts check`); the partial
# unique index on open alerts (one per scope) is the backstop if anything bypasses it.
DETECTOR_LOCK_KEY = 0x616C65727473  # "alerts"
CHECKPOINT = "negative-share"
CHUNK_STEPS = 30 * 144  # 30 days of 10-minute steps per counting query: bounded memory with many tickers
READING_CHUNK_STEPS = 7 * 144  # the reading signal keeps a histogram per bucket: shorter chunks, same memory


class BackfillOverlap(AlertsError):
    """A backfill asked to evaluate event time the detector has already evaluated."""


@dataclass
class CheckResult:
    """What one detector run did; ``now`` is None when no article is stored yet."""

    now: datetime | None = None
    opened: list[Alert] = field(default_factory=list)
    updated: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    muted: list[str] = field(default_factory=list)
    cooling_down: list[str] = field(default_factory=list)
    groups_opened: list[AlertGroup] = field(default_factory=list)
    evaluated_from: datetime | None = None
    steps: int = 0
    left_out_too_old: int = 0
    left_out_in_future: int = 0
    latest: datetime | None = None
    """The newest stored event time (``now`` stops short of it while a slower partition holds the check back)."""
    held_by: list[str] = field(default_factory=list)
    """The partitions that held the check short of ``latest``, each with how far it is stored."""


@dataclass
class ReplayResult:
    """What a replay decided: the run's figures and its alerts as detached copies, numbered from 1 (none stored)."""

    run: CheckResult
    alerts: list[Alert] = field(default_factory=list)

    @property
    def groups(self) -> int:
        """Notifications: the alerts' distinct groups."""
        return len({a.group_id for a in self.alerts if a.group_id is not None})


def rules_from_settings(settings: AlertSettings) -> SpikeRules:
    return SpikeRules(
        min_count=settings.min_count,
        min_baseline_count=settings.min_baseline_count,
        false_discovery_rate=settings.false_discovery_rate,
        min_rise=settings.min_rise,
        resolve_margin=settings.resolve_margin,
        full_rate_minutes=settings.full_rate_minutes,
        borrow_level=settings.borrow_level,
        all_topics_weight=settings.all_topics_weight,
    )


class NegativeShareDetector:
    """Multi-scale windows per scope against a trailing baseline; see docs/alerts.md for the rules."""

    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings
        self.rules = rules_from_settings(settings)
        self.step = timedelta(minutes=settings.step_minutes)
        self.scales = [m // settings.step_minutes for m in settings.window_scales_minutes]
        self.baseline_steps = -(-settings.baseline_minutes // settings.step_minutes)

    def check(self, *, session: Session, now: datetime | None = None) -> CheckResult:
        """One run. Caller commits.

        With an explicit ``now``, one evaluation with windows ending there. Otherwise every step from
        the checkpoint (or, on a first run, from the first stored event) up to the watermark: the latest
        event time, or less while a slower input partition is still being read (``watermark``), so
        nothing between two runs goes unevaluated, however far behind the detector is, and no window is
        judged before its articles are stored. Steps end on the event-time grid (``watermark``), so when
        the checks run changes nothing of what they judge.
        """
        lock(session)
        wall = datetime.now(UTC)
        history = find_history(wall, self.settings.max_history_days, session=session)
        if now is not None:
            return self._run(now, 1, history, session=session)
        if history.latest is None:
            return _with_history(CheckResult(), history)
        last = get_checkpoint(session=session)
        end, held_by = self._watermark(history.latest, wall, session=session, log_hold=True)
        start = history.first - self.step if last is None else last
        n_steps = self._grid_steps(start, end)
        if n_steps:
            result = self._run(end, n_steps, history, session=session, checkpoint=True)
        else:  # nothing new to evaluate
            result = self._run(last or history.latest, 0, history, session=session)
        result.held_by = held_by
        return result

    def _watermark(self, latest: datetime, wall: datetime, *, session: Session,
                   log_hold: bool = False) -> tuple[datetime | None, list[str]]:
        """The last step end a run may judge (None: not at all yet) and the partitions holding it short of
        ``latest``; ``log_hold``: say so in the log (the scheduled check; a backfill says so in its error)."""
        mark = find_watermark(self.settings, session=session)
        holders = mark.holders(latest)
        limit = mark.limit(latest)
        if holders and log_hold:  # at real-time speed partitions are seconds apart: INFO only a step or more behind
            far = limit is None or latest - limit >= self.step
            log.log(_HOLDS.level(far), "alert check held at %s (latest event %s) by %s",
                    limit.isoformat() if limit else "its checkpoint", latest.isoformat(),
                    ", ".join(p.describe() for p in holders))
        return mark.judge_until(latest, wall, self.step), [p.describe() for p in holders]

    def backfill(self, *, session: Session, since: datetime | None, until: datetime | None) -> CheckResult:
        """Evaluate (since, until] in event time, step by step; defaults: all stored history (up to the watermark,
        as the scheduled check, while a partition is still being read)."""
        return self._stretch(since, until, session=session, clean_slate=False)

    def replay(self, *, session: Session, since: datetime | None, until: datetime | None) -> CheckResult:
        """Evaluate (since, until] from a clean slate: no alert, group, mute or checkpoint from before.

        Deletes those rows in the caller's transaction, which must be rolled back (``replay_alerts``)."""
        return self._stretch(since, until, session=session, clean_slate=True)

    def _stretch(self, since: datetime | None, until: datetime | None, *, session: Session,
                 clean_slate: bool) -> CheckResult:
        lock(session)
        wall = datetime.now(UTC)
        history = find_history(wall, self.settings.max_history_days, session=session)
        if history.latest is None:
            return _with_history(CheckResult(), history)
        since = since or history.first - self.step
        held_by: list[str] = []
        if until is None and not clean_slate:
            end, held_by = self._watermark(history.latest, wall, session=session)
            if end is None:
                raise BackfillOverlap(f"nothing to evaluate yet: {', '.join(held_by)} has a backlog and nothing "
                                      "stored; wait for the workers, or pass --until")
        else:
            end = quiet_end(history.latest, wall, self.step, until=until)
        last = None if clean_slate else get_checkpoint(session=session)
        if last is not None and since < last:
            raise BackfillOverlap(
                f"the detector has already evaluated event time up to {last.isoformat()}; "
                f"pass --since {last.isoformat()} or later (alerts before it are already decided)"
            )
        n_steps = self._grid_steps(since, end)
        if not n_steps and held_by:
            raise BackfillOverlap(f"nothing to evaluate yet: {', '.join(held_by)} is stored only up to "
                                  f"{end.isoformat()}, not after {since.isoformat()}; wait for the workers, or "
                                  "pass --until")
        if until is not None and until <= since:
            raise BackfillOverlap(f"nothing to evaluate: --until {until.isoformat()} is not after {since.isoformat()}")
        if not n_steps:
            first = grid_floor(since, self.step) + self.step
            bound = end if until is None else until
            raise BackfillOverlap(f"nothing to evaluate: steps end every {self.settings.step_minutes} minutes on a "
                                  f"grid and none ends after {since.isoformat()} and at or before {bound.isoformat()} "
                                  f"(the next at {first.isoformat()}, judged once the data reaches it)")
        if clean_slate:
            for table in (Alert, AlertGroup, AlertMute):  # webhook deliveries of the alerts go with them (cascade)
                session.execute(delete(table))
        result = self._run(end, n_steps, history, session=session, checkpoint=not clean_slate,
                           announce=not clean_slate)
        result.held_by = held_by
        return result

    def _grid_steps(self, start: datetime, end: datetime | None) -> int:
        """The step ends on the grid in (start, end] (``end`` is one): every moment after ``start`` up to ``end``
        is in some evaluated step."""
        if end is None:
            return 0
        return max(0, (end - grid_floor(start, self.step)) // self.step)

    def _run(self, end: datetime, n_steps: int, history: History, *, session: Session,
             checkpoint: bool = False, announce: bool = True) -> CheckResult:
        """Evaluate the n_steps step-spaced times ending at ``end``, in chunks of one counting query each."""
        result = _with_history(CheckResult(now=end, steps=n_steps), history)
        result.evaluated_from = end - self.step * n_steps
        book = EpisodeBook.load(self.settings, self.rules, result, session=session, announce=announce)
        lookback = max(self.scales) + self.baseline_steps
        readings = self.settings.signal == "reading"
        chunk = READING_CHUNK_STEPS if readings else CHUNK_STEPS
        done = 0
        while done < n_steps:
            size = min(chunk, n_steps - done)
            chunk_end = end - self.step * (n_steps - done - size)
            start = chunk_end - self.step * (size + lookback)
            counts = load_bucket_counts(start, size + lookback, self.step, tickers=self.settings.ticker_scopes,
                                        session=session, readings=readings)
            counts.drop_thin(self.rules.min_count, keep=set(book.open))
            for scope in book.open:
                counts.ensure(scope)
            scan = Scan(counts, self.rules, scales=self.scales, baseline=self.baseline_steps, first=lookback,
                        first_event=history.first)
            book.run(scan, session=session)
            done += size
        book.finish(session=session)
        if checkpoint:
            set_checkpoint(end, session=session)
        log.info("alert %s up to %s: %d step(s) from %s, %d opened, %d resolved, %d open",
                 "check" if announce else "replay (rolled back)", end.isoformat(), n_steps,
                 result.evaluated_from.isoformat(), len(result.opened), len(result.resolved), len(book.open))
        return result


def _with_history(result: CheckResult, history: History) -> CheckResult:
    result.left_out_too_old, result.left_out_in_future = history.too_old, history.in_future
    result.latest = history.latest
    return result


def lock(session: Session) -> None:
    session.execute(select(func.pg_advisory_xact_lock(DETECTOR_LOCK_KEY)))


def get_checkpoint(*, session: Session) -> datetime | None:
    return session.scalar(select(DetectorCheckpoint.evaluated_until).where(DetectorCheckpoint.name == CHECKPOINT))


def set_checkpoint(evaluated_until: datetime, *, session: Session) -> None:
    stmt = insert(DetectorCheckpoint).values(name=CHECKPOINT, evaluated_until=evaluated_until)
    session.execute(stmt.on_conflict_do_update(
        index_elements=[DetectorCheckpoint.name],
        set_={"evaluated_until": func.greatest(DetectorCheckpoint.evaluated_until, stmt.excluded.evaluated_until),
              "updated_at": func.now()},
    ))
    session.flush()


def is_muted(scope: str, *, session: Session) -> bool:
    """Mutes are set by a person in real time, so they end by the wall clock, not the data's clock."""
    stmt = select(AlertMute.scope).where(AlertMute.scope == scope, AlertMute.muted_until > func.now())
    return session.scalar(stmt) is not None


def check_alerts(
    settings: AlertSettings, session_factory: sessionmaker[Session], *, now: datetime | None = None
) -> CheckResult:
    """One detector run in its own transaction (what the scheduler and `monitor alerts check` call)."""
    with transaction(session_factory) as session:
        return NegativeShareDetector(settings).check(session=session, now=now)


def backfill_alerts(
    settings: AlertSettings, session_factory: sessionmaker[Session], *, since: datetime | None = None,
    until: datetime | None = None,
) -> CheckResult:
    with transaction(session_factory) as session:
        return NegativeShareDetector(settings).backfill(session=session, since=since, until=until)


def replay_alerts(
    settings: AlertSettings, session_factory: sessionmaker[Session], *, since: datetime | None = None,
    until: datetime | None = None,
) -> ReplayResult:
    """What the detector would decide over stored history with today's readings and settings, from a clean slate
    (no earlier alert, mute or checkpoint), without writing or sending anything: the run happens in a transaction
    that is always rolled back. Use it after a retrain and ``monitor models rescore``, or to try settings. It holds
    the detector's lock while it runs (a scheduled check waits) and locks the stored alerts' rows until it ends."""
    columns = [c.key for c in inspect(Alert).column_attrs]
    session = session_factory()
    try:
        session.begin()
        run = NegativeShareDetector(settings).replay(session=session, since=since, until=until)
        session.flush()
        stored = sorted(session.scalars(select(Alert)), key=lambda a: (a.opened_at, a.id))
        numbers = {a.id: n for n, a in enumerate(stored, 1)}
        groups: dict[int, int] = {}
        alerts = []
        for a in stored:
            copy = Alert(**{key: getattr(a, key) for key in columns})
            copy.id = numbers[a.id]
            copy.group_id = groups.setdefault(a.group_id, len(groups) + 1) if a.group_id is not None else None
            alerts.append(copy)
        run.opened, run.updated, run.resolved, run.groups_opened = [], [], [], []  # rows of the rolled-back run
        return ReplayResult(run=run, alerts=alerts)
    finally:
        session.rollback()
        session.close()
