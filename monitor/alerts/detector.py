"""``NegativeShareDetector``: opens, updates and resolves one alert per scope and episode.

Every state change writes the alert row and its webhook outbox rows in the caller's transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from monitor.alerts.outbox import enqueue_alert_event
from monitor.alerts.payloads import ALERT_OPENED, ALERT_RESOLVED
from monitor.alerts.statistics import ShareComparison, SpikeRules, compare_shares
from monitor.alerts.windows import (
    ShareCounts,
    Windows,
    count_negative_shares,
    find_negative_examples,
    find_watermark,
)
from monitor.settings import AlertSettings
from monitor.store.engine import transaction
from monitor.store.orm import ALL_TOPICS, Alert, AlertMute, Article, DetectorCheckpoint

log = logging.getLogger(__name__)

# Serialises detector runs across processes (scheduler + `monitor alerts check`); the partial
# unique index on open alerts is the backstop if anything bypasses it.
DETECTOR_LOCK_KEY = 0x616C65727473  # "alerts"
CHECKPOINT = "negative-share"


@dataclass
class CheckResult:
    """What one detector run did; ``now`` is None when no article is stored yet."""

    now: datetime | None = None
    opened: list[Alert] = field(default_factory=list)
    updated: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    muted: list[str] = field(default_factory=list)
    cooling_down: list[str] = field(default_factory=list)


def rules_from_settings(settings: AlertSettings) -> SpikeRules:
    return SpikeRules(
        min_count=settings.min_count,
        min_baseline_count=settings.min_baseline_count,
        z_threshold=settings.z_threshold,
        min_rise=settings.min_rise,
        resolve_margin=settings.resolve_margin,
    )


class NegativeShareDetector:
    """Compares each topic's (and all topics') negative share in the window with its baseline."""

    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings
        self.rules = rules_from_settings(settings)
        self._first_event: datetime | None = None

    def windows(self, now: datetime) -> Windows:
        return Windows.ending_at(
            now,
            window=timedelta(minutes=self.settings.window_minutes),
            baseline=timedelta(minutes=self.settings.baseline_minutes),
        )

    def check(self, *, session: Session, now: datetime | None = None) -> CheckResult:
        """One run. Caller commits.

        With an explicit ``now``, the windows end there. Otherwise they end at every step from the
        last evaluated event time up to the watermark, so a fast replay or a scheduler that fell
        behind still sees a burst shorter than the time between two runs.
        """
        session.execute(select(func.pg_advisory_xact_lock(DETECTOR_LOCK_KEY)))
        if now is not None:
            return self._evaluate(now, CheckResult(now=now), session=session)
        watermark = find_watermark(session=session)
        result = CheckResult(now=watermark)
        if watermark is None:
            return result
        for t in self.evaluation_times(get_checkpoint(session=session), watermark):
            self._evaluate(t, result, session=session)
        set_checkpoint(watermark, session=session)
        return result

    def evaluation_times(self, last: datetime | None, watermark: datetime) -> list[datetime]:
        """Step-spaced times after ``last`` up to ``watermark`` (always included), at most max_catch_up_steps."""
        if last is None or last >= watermark:
            return [watermark]
        step = timedelta(minutes=self.settings.step_minutes)
        limit = self.settings.max_catch_up_steps
        start = max(last, watermark - step * limit)
        times = [start + step * k for k in range(1, limit + 1) if start + step * k < watermark]
        return [*times, watermark]

    def _evaluate(self, now: datetime, result: CheckResult, *, session: Session) -> CheckResult:
        windows = self.windows(now)
        counts = count_negative_shares(windows, session=session)
        # Only once data covers the whole baseline is a thin topic baseline a sign of a rare topic
        # (right after start-up every topic's baseline is thin, and comparing topics would mislead).
        rare_topics_use_overall = self._first_event_time(session) <= windows.baseline_start
        open_alerts = {a.scope: a for a in _lock_open_alerts(session=session)}
        for scope in sorted(set(counts) | set(open_alerts)):
            c = self._with_usable_baseline(scope, counts) if rare_topics_use_overall else counts.get(
                scope, ShareCounts())
            comparison = compare_shares(
                c.window_negative, c.window_count, c.baseline_negative, c.baseline_count
            )
            if scope in open_alerts:
                self._follow(open_alerts[scope], comparison, windows, result, session=session)
            elif self.rules.is_spike(comparison):
                self._open(scope, comparison, windows, result, session=session)
        return result

    def _first_event_time(self, session: Session) -> datetime:
        if self._first_event is None:
            self._first_event = session.scalar(select(func.min(Article.event_time)))
        return self._first_event

    def _with_usable_baseline(self, scope: str, counts: dict[str, ShareCounts]) -> ShareCounts:
        """A topic too rare to have its own baseline (a burst in a quiet topic is exactly what should
        alert) is judged against the baseline of all topics together."""
        c = counts.get(scope, ShareCounts())
        overall = counts.get(ALL_TOPICS)
        if scope == ALL_TOPICS or overall is None or c.baseline_count >= self.settings.min_baseline_count:
            return c
        return replace(c, baseline_count=overall.baseline_count, baseline_negative=overall.baseline_negative)

    def _open(
        self, scope: str, c: ShareComparison, w: Windows, result: CheckResult, *, session: Session
    ) -> None:
        if is_muted(scope, session=session):
            result.muted.append(scope)
            return
        last = _last_resolved_at(scope, session=session)
        if last is not None and last > w.now - timedelta(minutes=self.settings.cooldown_minutes):
            result.cooling_down.append(scope)
            return
        alert = Alert(scope=scope, status="open", opened_at=w.now, peak_share=c.observed_share)
        _set_figures(alert, c, w)
        alert.examples = find_negative_examples(scope, w, limit=self.settings.max_examples, session=session)
        session.add(alert)
        session.flush()
        enqueue_alert_event(alert, ALERT_OPENED, dashboard_url=self.settings.dashboard_url, session=session)
        log.warning(
            "alert %s opened for %s: negative share %.2f vs baseline %.2f (z=%.1f, n=%d)",
            alert.id,
            scope,
            c.observed_share,
            c.baseline_share,
            c.statistic,
            c.window_count,
        )
        result.opened.append(alert)

    def _follow(
        self, alert: Alert, c: ShareComparison, w: Windows, result: CheckResult, *, session: Session
    ) -> None:
        if w.now < alert.updated_at:
            return  # an older `now` than the alert has already seen: nothing to learn from it
        _set_figures(alert, c, w)
        alert.peak_share = max(alert.peak_share, c.observed_share)
        if not self.rules.has_subsided(c):
            result.updated.append(alert)
            session.flush()
            return
        alert.status = "resolved"
        alert.resolved_at = w.now
        session.flush()
        enqueue_alert_event(alert, ALERT_RESOLVED, dashboard_url=self.settings.dashboard_url, session=session)
        log.info(
            "alert %s resolved for %s: negative share back to %.2f", alert.id, alert.scope, c.observed_share
        )
        result.resolved.append(alert)


def _set_figures(alert: Alert, c: ShareComparison, w: Windows) -> None:
    alert.updated_at = w.now
    alert.window_start, alert.window_end, alert.baseline_start = w.window_start, w.now, w.baseline_start
    alert.window_count, alert.window_negative = c.window_count, c.window_negative
    alert.baseline_count, alert.baseline_negative = c.baseline_count, c.baseline_negative
    alert.observed_share, alert.baseline_share = c.observed_share, c.baseline_share
    alert.statistic, alert.p_value = c.statistic, c.p_value


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


def _lock_open_alerts(*, session: Session) -> list[Alert]:
    stmt = select(Alert).where(Alert.status == "open").order_by(Alert.id).with_for_update()
    return list(session.scalars(stmt))


def _last_resolved_at(scope: str, *, session: Session) -> datetime | None:
    stmt = select(func.max(Alert.resolved_at)).where(Alert.scope == scope, Alert.status == "resolved")
    return session.scalar(stmt)


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
