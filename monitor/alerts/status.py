"""What the detector can decide right now, per scope: article rate, usable window scales, or why not."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from monitor.alerts.counts import TICKER_PREFIX, find_history, load_bucket_counts
from monitor.alerts.detector import NegativeShareDetector, get_checkpoint
from monitor.alerts.episodes import scope_order
from monitor.alerts.scan import Scan
from monitor.alerts.watermark import find_watermark
from monitor.settings import AlertSettings


@dataclass(frozen=True)
class ScaleStatus:
    window_minutes: int
    window_count: int
    baseline_count: int
    usable: bool


@dataclass(frozen=True)
class ScopeStatus:
    scope: str
    articles_per_day: float
    scales: list[ScaleStatus]
    verdict: str

    @property
    def usable(self) -> bool:
        return any(s.usable for s in self.scales)


def scale_label(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440} d"
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


def describe_scopes(
    settings: AlertSettings, *, session: Session, now: datetime | None = None, max_tickers: int = 20
) -> tuple[datetime | None, list[ScopeStatus]]:
    """Every topic, all topics and the busiest tickers at ``now`` (default: the latest event time).

    Tickers named fewer than ``min_count`` times over the windows and baseline are left out: there are
    many, and none of them can decide.
    """
    history = find_history(datetime.now(UTC), settings.max_history_days, session=session)
    now = now or history.latest
    if now is None:
        return None, []
    detector = NegativeShareDetector(settings)
    lookback = max(detector.scales) + detector.baseline_steps
    start = now - detector.step * (lookback + 1)
    counts = load_bucket_counts(start, lookback + 1, detector.step, tickers=settings.ticker_scopes, session=session)
    counts.drop_thin(settings.min_count, keep=set())  # tickers that could not fill even the widest window
    tickers = sorted((s for s in counts.total if s.startswith(TICKER_PREFIX)), key=lambda s: -counts.total[s].sum())
    for dropped in tickers[max_tickers:]:
        del counts.total[dropped], counts.negative[dropped]
    scan = Scan(counts, detector.rules, scales=detector.scales, baseline=detector.baseline_steps, first=lookback,
                first_event=history.first)
    span_days = min(lookback * detector.step, now - history.first) / timedelta(days=1) if history.first else 0
    return now, [
        _status(scan, scope, detector, span_days, settings) for scope in sorted(scan.scopes, key=scope_order)
    ]


def _status(scan: Scan, scope: str, detector: NegativeShareDetector, span_days: float,
            settings: AlertSettings) -> ScopeStatus:
    j = np.array([scan.steps[-1]])
    scales = []
    for scale in detector.scales:
        n, _ = scan.window(scope, scale, j)
        n0, _ = scan.baseline_counts(scope, scale, j)
        usable = detector.rules.is_testable(int(n[0]), int(n0[0]))
        scales.append(ScaleStatus(scale * settings.step_minutes, int(n[0]), int(n0[0]), usable))
    per_day = float(scan.counts.total[scope].sum()) / span_days if span_days > 0 else 0.0
    return ScopeStatus(scope, per_day, scales, _verdict(scales, settings))


def _verdict(scales: list[ScaleStatus], settings: AlertSettings) -> str:
    usable = [scale_label(s.window_minutes) for s in scales if s.usable]
    if usable:
        return "decides on " + ", ".join(usable) + " windows"
    widest = scales[-1]
    if widest.window_count < settings.min_count:
        return (f"insufficient data: the widest window ({scale_label(widest.window_minutes)}) holds "
                f"{widest.window_count} articles, {settings.min_count} needed")
    return (f"insufficient data: the baseline before the {scale_label(widest.window_minutes)} window holds "
            f"{widest.baseline_count} articles, {settings.min_baseline_count} needed")


@dataclass(frozen=True)
class Progress:
    """How far the detector has judged, and what holds the next scheduled check short of the latest event."""

    judged: datetime | None
    latest: datetime
    stops_at: datetime | None
    holders: list[str]
    stalled: list[str]

    def line(self) -> str:
        judged = f"judged up to {self.judged.isoformat()}" if self.judged else "not run yet"
        line = f"detector {judged}; latest event {self.latest.isoformat()}"
        if self.stops_at is None:
            line += "; the next check waits at its checkpoint"
        elif self.judged is None or self.stops_at > self.judged:
            line += f"; the next check judges up to {self.stops_at.isoformat()}"
        else:
            line += "; the next check waits for the next step's end"
        if self.holders:
            line += f", held by {', '.join(self.holders)}"
        if self.stalled:
            line += f"; going on without {', '.join(self.stalled)} (not moving)"
        return line


def describe_progress(settings: AlertSettings, latest: datetime, *, session: Session) -> Progress:
    mark = find_watermark(settings, session=session, warn=False)
    stops_at = mark.judge_until(latest, datetime.now(UTC), timedelta(minutes=settings.step_minutes))
    return Progress(get_checkpoint(session=session), latest, stops_at,
                    [p.describe() for p in mark.holders(latest)], [p.describe() for p in mark.stalled])
