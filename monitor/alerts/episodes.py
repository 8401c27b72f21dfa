"""Episodes over a scan: open on a corrected, large rise; follow against the baseline frozen at opening;
resolve only on a window with enough articles back near that baseline; group overlapping episodes.
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.alerts.counts import TICKER_PREFIX
from monitor.alerts.outbox import enqueue_group_event
from monitor.alerts.payloads import ALERT_OPENED, ALERT_RESOLVED, ALERT_UPDATED
from monitor.alerts.scan import Candidate, Figures, Scan
from monitor.alerts.statistics import READING_BINS, SpikeRules, rank_compare, share
from monitor.alerts.windows import Windows, find_negative_examples
from monitor.settings import AlertSettings
from monitor.store.orm import ALL_TOPICS, Alert, AlertGroup, AlertMute, scope_label

if TYPE_CHECKING:
    from monitor.alerts.detector import CheckResult

log = logging.getLogger(__name__)


@dataclass
class Follow:
    """An open episode's windows (at its own scale) over the scan's remaining steps."""

    alert: Alert
    scale: np.ndarray  # window length in steps, per step
    steps: np.ndarray
    count: np.ndarray
    negative: np.ndarray
    resolve_at: int | None
    expires: bool = False  # resolve_at is an expiry (no window with enough articles for EXPIRE_MINUTES)


def scope_order(scope: str) -> tuple[int, str]:
    """All topics first, then topics, then tickers: the first scope leads a group's notification."""
    return (0 if scope == ALL_TOPICS else 2 if scope.startswith(TICKER_PREFIX) else 1, scope)


class EpisodeBook:
    """The open episodes and group across the chunks of one detector run."""

    def __init__(self, settings: AlertSettings, rules: SpikeRules, result: CheckResult, *,
                 open_alerts: dict[str, Alert], group: AlertGroup | None, last_resolved: dict[str, datetime],
                 muted: set[str], group_newest: datetime | None = None, announce: bool = True) -> None:
        self.settings, self.rules, self.result = settings, rules, result
        self.open, self.group, self.last_resolved, self.muted = open_alerts, group, last_resolved, muted
        # The group new episodes may join, and when its newest scope opened (joining is open for GROUP_WINDOW).
        self.group_newest = group_newest if group is not None else None
        self.announce = announce  # False: a replay whose rows are rolled back; its lines go to DEBUG

    @classmethod
    def load(cls, settings: AlertSettings, rules: SpikeRules, result: CheckResult, *, session: Session,
             announce: bool = True) -> EpisodeBook:
        open_alerts = {a.scope: a for a in session.scalars(
            select(Alert).where(Alert.status == "open").order_by(Alert.id).with_for_update())}
        # Several groups may be open (an old episode lingering beside a new burst's); the newest is the joinable one.
        groups = session.scalars(
            select(AlertGroup).where(AlertGroup.status == "open").order_by(AlertGroup.id.desc()).with_for_update()
        ).all()
        group = groups[0] if groups else None
        newest = None if group is None else session.scalar(
            select(func.max(Alert.opened_at)).where(Alert.group_id == group.id)) or group.opened_at
        resolved = select(Alert.scope, func.max(Alert.resolved_at)).where(Alert.status == "resolved")
        last_resolved = {scope: at for scope, at in session.execute(resolved.group_by(Alert.scope))}
        muted = set(session.scalars(select(AlertMute.scope).where(AlertMute.muted_until > func.now())))
        return cls(settings, rules, result, open_alerts=open_alerts, group=group,
                   last_resolved=last_resolved, muted=muted, group_newest=newest, announce=announce)

    def _say(self, level: int, message: str, *args) -> None:
        log.log(level if self.announce else logging.DEBUG, message, *args)

    def run(self, scan: Scan, *, session: Session) -> None:
        """Process the scan's steps in order: only steps where something can change cost any work."""
        self.scan = scan
        follows = {scope: self._follow(alert, after=alert.updated_at) for scope, alert in self.open.items()}
        candidates = scan.candidates()
        # (step, 0) resolves before (step, 1) opens: a scope resolving at a step frees the group first.
        events = [(j, 1) for j in candidates]
        events += [(f.resolve_at, 0) for f in follows.values() if f.resolve_at is not None]
        heapq.heapify(events)
        while events:
            j, kind = heapq.heappop(events)
            if kind == 0:
                self._resolve_due(j, follows, session=session)
            else:
                for follow in self._open_at(j, candidates[j], session=session):
                    follows[follow.alert.scope] = follow
                    if follow.resolve_at is not None:
                        heapq.heappush(events, (follow.resolve_at, 0))
        last = int(scan.steps[-1]) if len(scan.steps) else None
        for follow in follows.values():
            if follow.alert.status == "open" and last is not None:
                self._settle(follow, last)

    def finish(self, *, session: Session) -> None:
        opened = {a.id for a in self.result.opened}
        self.result.updated = [a for a in self.open.values() if a.id not in opened]
        session.flush()

    def _follow(self, alert: Alert, *, after: datetime) -> Follow:
        """Each later step's window: the episode's own scale, or the next wider one with enough articles
        (a burst can make a short window usable that the usual volume never fills again)."""
        scan = self.scan
        own = max(1, alert.window_minutes // scan.step_minutes)
        steps = scan.steps[scan.steps >= _first_after(scan, after)]
        scale = np.full(len(steps), own)
        n, k = scan.window(alert.scope, own, steps)
        frozen_bins = _frozen_bins(scan, alert)
        bins = scan.window_bins(alert.scope, own, steps) if frozen_bins is not None else None
        for wider in [s for s in scan.scales if s > own]:
            thin = n < self.rules.min_count
            wn, wk = scan.window(alert.scope, wider, steps)
            n, k, scale = np.where(thin, wn, n), np.where(thin, wk, k), np.where(thin, wider, scale)
            if bins is not None:
                bins = np.where(thin[:, None], scan.window_bins(alert.scope, wider, steps), bins)
        thick = n >= self.rules.min_count
        if bins is not None and frozen_bins is not None:
            # The reading signal: back to normal when the window's readings (Cliff's delta, at the scale chosen
            # above) are within the margin of the baseline's frozen at opening.
            rise = rank_compare(bins, np.broadcast_to(frozen_bins, bins.shape), exact_below=-1.0).delta
        else:
            rise = np.divide(k, n, out=np.zeros(len(n)), where=thick) - share(alert.baseline_negative,
                                                                             alert.baseline_count)
        subsided = thick & (rise < self.rules.min_rise * self.rules.resolve_margin)
        resolve_at = int(steps[np.argmax(subsided)]) if subsided.any() else None
        expire_at = self._expire_at(alert, steps, thick)
        if expire_at is not None and (resolve_at is None or expire_at < resolve_at):
            return Follow(alert, scale, steps, n, k, expire_at, expires=True)
        return Follow(alert, scale, steps, n, k, resolve_at)

    def _expire_at(self, alert: Alert, steps: np.ndarray, thick: np.ndarray) -> int | None:
        """The first step at which no window with enough articles has been seen for EXPIRE_MINUTES: a quiet
        scope (a ticker named a few times a day) may never fill a window again, and an episode it leaves open
        would hold its group open and cover later days with nothing to show for them."""
        expire = self.settings.expire_minutes
        if expire <= 0 or not len(steps):
            return None
        scan = self.scan
        # The last window with enough articles ends at alert.window_end (set at opening and on each such window).
        last_seen = (alert.window_end - scan.counts.start) / scan.counts.step - 1
        seen = np.maximum.accumulate(np.where(thick, steps.astype(float), last_seen))
        stale = (steps - seen) * scan.step_minutes >= expire
        return int(steps[np.argmax(stale)]) if stale.any() else None

    def _settle(self, follow: Follow, until: int) -> None:
        """Peak and latest figures over the followed steps up to ``until``, thin windows left out."""
        alert, upto = follow.alert, follow.steps <= until
        if not upto.any():
            return
        thick = upto & (follow.count >= self.rules.min_count)
        if thick.any():  # else no window with enough articles: the episode keeps its last figures
            shares = np.where(thick, follow.negative / np.maximum(follow.count, 1), -1.0)
            if shares.max() > alert.peak_share:
                alert.peak_share = float(shares.max())
                at = int(np.argmax(shares))
                alert.peak = self._frozen_figures(alert, int(follow.scale[at]), int(follow.steps[at])).as_json()
            last = int(np.flatnonzero(thick)[-1])
            _set_plain(alert, self._frozen_figures(alert, int(follow.scale[last]), int(follow.steps[last])))
        alert.updated_at = self.scan.time(int(follow.steps[upto][-1]))

    def _frozen_figures(self, alert: Alert, scale: int, j: int) -> Figures:
        span = (alert.baseline_start, datetime.fromisoformat(alert.opening["baseline_end"]))
        return self.scan.figures(alert.scope, scale, j, baseline=(alert.baseline_count, alert.baseline_negative),
                                 baseline_span=span, baseline_kind=alert.opening.get("baseline_kind"),
                                 baseline_bins=alert.opening.get("baseline_bins"))

    def _resolve_due(self, j: int, follows: dict[str, Follow], *, session: Session) -> None:
        for scope in sorted([s for s, f in follows.items() if f.resolve_at == j and f.alert.status == "open"],
                            key=scope_order):
            follow = follows[scope]
            self._settle(follow, j)
            alert = follow.alert
            alert.status, alert.resolved_at = "resolved", self.scan.time(j)
            at = int(np.flatnonzero(follow.steps == j)[0])
            resolution = self._frozen_figures(alert, int(follow.scale[at]), j).as_json()
            resolution["reason"] = "expired" if follow.expires else "subsided"
            if follow.expires:
                resolution["evidence_until"] = alert.window_end.isoformat()
            alert.resolution = resolution
            del self.open[scope]
            self.last_resolved[scope] = alert.resolved_at
            self.result.resolved.append(alert)
            if follow.expires:
                self._say(logging.INFO, "alert %s expired for %s: no window of %d articles since %s", alert.id,
                          scope_label(scope), self.rules.min_count, alert.window_end.isoformat())
            else:
                self._say(logging.INFO, "alert %s resolved for %s: negative share back to %.2f (n=%d, frozen baseline "
                          "%.2f)", alert.id, scope_label(scope), alert.resolution["observed_share"],
                          alert.resolution["window_count"], alert.baseline_share)
            session.flush()
            self._close_group_if_done(alert, session=session)

    def _close_group_if_done(self, alert: Alert, *, session: Session) -> None:
        if alert.group_id is None:
            self._notify(ALERT_RESOLVED, None, [alert], session=session)
            return
        if any(a.group_id == alert.group_id for a in self.open.values()):
            return
        group = session.get(AlertGroup, alert.group_id)
        group.status, group.resolved_at = "resolved", alert.resolved_at
        session.flush()
        self._notify(ALERT_RESOLVED, group, _children(group, session=session), session=session)
        if self.group is not None and self.group.id == group.id:
            self.group = None

    def _open_at(self, j: int, candidates: list[Candidate], *, session: Session) -> list[Follow]:
        now = self.scan.time(j)
        best: dict[str, Candidate] = {}
        for c in sorted(candidates, key=lambda c: (c.p_value, c.scale)):
            # A new episode needs new evidence: a window that still holds part of the scope's last
            # episode (a longer scale still spanning a burst already resolved) cannot open another.
            last = self.last_resolved.get(c.scope)
            if last is None or now - self.scan.counts.step * c.scale >= last:
                best.setdefault(c.scope, c)
        if self.group is not None and self.group_newest is not None and \
                now - self.group_newest > timedelta(minutes=self.settings.group_window_minutes):
            self.group = None  # it stays open for its own scopes; what opens now is a new notification
        new_group = self.group is None
        follows = []
        for scope in sorted(best, key=scope_order):
            if scope in self.open or not self._may_open(scope, now):
                continue
            follows.append(self._open(best[scope], j, session=session))
        if follows:
            children = _children(self.group, session=session)
            self._notify(ALERT_OPENED if new_group else ALERT_UPDATED, self.group, children, session=session)
        return follows

    def _may_open(self, scope: str, now: datetime) -> bool:
        if scope in self.muted:
            self.result.muted.append(scope)
            return False
        last = self.last_resolved.get(scope)
        if last is not None and last > now - timedelta(minutes=self.settings.cooldown_minutes):
            self.result.cooling_down.append(scope)
            return False
        return True

    def _open(self, c: Candidate, j: int, *, session: Session) -> Follow:
        now, figures = self.scan.time(j), self.scan.figures(c.scope, c.scale, j)
        if self.group is None:
            self.group = AlertGroup(status="open", opened_at=now)
            session.add(self.group)
            session.flush()
            self.result.groups_opened.append(self.group)
        self.group_newest = now
        alert = Alert(scope=c.scope, status="open", opened_at=now, group_id=self.group.id,
                      window_minutes=figures.window_minutes, peak_share=figures.observed_share)
        _set_plain(alert, figures)
        alert.baseline_start = figures.baseline_start
        alert.opening = alert.peak = figures.as_json()
        windows = Windows(now=now, window_start=figures.window_start, baseline_start=figures.baseline_start)
        alert.examples = find_negative_examples(c.scope, windows, limit=self.settings.max_examples, session=session)
        session.add(alert)
        session.flush()
        self.open[c.scope] = alert
        self.result.opened.append(alert)
        self._say(logging.WARNING, "alert %s opened for %s: negative share %.2f vs baseline %.2f over %d min (n=%d, "
                  "p=%.2g)", alert.id, scope_label(c.scope), figures.observed_share, figures.baseline_share,
                  figures.window_minutes, figures.window_count, figures.p_value)
        return self._follow(alert, after=now)

    def _notify(self, event: str, group: AlertGroup | None, children: list[Alert], *, session: Session) -> None:
        enqueue_group_event(event, group, children, dashboard_url=self.settings.dashboard_url, session=session)


def _frozen_bins(scan: Scan, alert: Alert) -> np.ndarray | None:
    """The baseline histogram an episode froze at opening, when it opened on the reading signal and the scan
    reads it too; None: follow the share (an episode opened on the label signal, or the signal was changed)."""
    bins = (alert.opening or {}).get("baseline_bins")
    if not scan.readings or not isinstance(bins, list) or len(bins) != READING_BINS:
        return None
    return np.asarray(bins, dtype=np.int64)


def _first_after(scan: Scan, after: datetime) -> int:
    """Index of the first scan step strictly after ``after``."""
    return int(np.floor((after - scan.counts.start) / scan.counts.step))


def _children(group: AlertGroup | None, *, session: Session) -> list[Alert]:
    if group is None:
        return []
    alerts = session.scalars(select(Alert).where(Alert.group_id == group.id)).all()
    return sorted(alerts, key=lambda a: (a.opened_at, scope_order(a.scope)))


def _set_plain(alert: Alert, f: Figures) -> None:
    """The latest figures; the baseline columns stay as frozen at opening (set once, by ``_open``)."""
    alert.updated_at = f.window_end
    alert.window_start, alert.window_end = f.window_start, f.window_end
    alert.window_count, alert.window_negative = f.window_count, f.window_negative
    alert.baseline_count, alert.baseline_negative = f.baseline_count, f.baseline_negative
    alert.observed_share, alert.baseline_share = f.observed_share, f.baseline_share
    alert.statistic, alert.p_value = f.statistic, f.p_value
