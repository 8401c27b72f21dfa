"""Plain functions that turn query results into what the pages show (no Streamlit here, so unit-testable)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from monitor.alerts.scan import baseline_note
from monitor.store.orm import ALL_TOPICS_LABEL, scope_label

RANGES: dict[str, timedelta | None] = {
    "Last hour": timedelta(hours=1),
    "Last 6 hours": timedelta(hours=6),
    "Last 24 hours": timedelta(hours=24),
    "Last 3 days": timedelta(days=3),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
    "All time": None,
}
RANGE_PARAMS = {
    "1h": "Last hour",
    "6h": "Last 6 hours",
    "24h": "Last 24 hours",
    "3d": "Last 3 days",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "all": "All time",
}

# Bucket sizes people read easily; the first that keeps a range under MAX_BUCKETS wins.
BUCKET_LADDER = [timedelta(minutes=m) for m in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)] + [
    timedelta(days=7),
    timedelta(days=30),
]
MAX_BUCKETS = 120


@dataclass(frozen=True)
class Window:
    """The time range a page shows; ``shifted`` when it was moved back to end at the latest article."""

    start: datetime
    end: datetime
    shifted: bool = False

    @property
    def span(self) -> timedelta:
        return self.end - self.start


def choose_bucket(span: timedelta) -> timedelta:
    """The smallest readable bucket that draws ``span`` in at most MAX_BUCKETS points."""
    for size in BUCKET_LADDER:
        if span / size <= MAX_BUCKETS:
            return size
    return BUCKET_LADDER[-1]


def resolve_window(
    span: timedelta | None, now: datetime, earliest: datetime | None, latest: datetime | None
) -> Window:
    """The range ending now; when nothing arrived in it but older data exists, the range ending at that data.

    Replayed or back-filled streams carry old publication times, and an empty chart would hide them. "All time"
    spans the data itself (not up to today), so a 2020 replay does not draw six empty years.
    """
    if span is None:
        start = earliest or now - timedelta(hours=24)
        end = latest + timedelta(seconds=1) if latest else now
        return Window(start, end, shifted=latest is not None and latest < now - timedelta(hours=24))
    if latest is not None and latest < now - span:
        return Window(latest - span, latest + timedelta(seconds=1), shifted=True)
    return Window(now - span, now)


def default_range(
    now: datetime, latest: datetime | None, alert_times: Iterable[datetime], fallback: str = "Last 24 hours"
) -> str:
    """The range a page opens on: ``fallback``, widened as far as needed (up to "All time") to take in the
    latest alert.

    Measured back from the data's latest event time, not the wall clock, so after a replay of old news the
    page opens on the burst that alerted rather than on a quiet last day.
    """
    end = latest if latest is not None and latest < now else now
    recent = [t for t in alert_times if t <= end]
    if not recent:
        return fallback
    needed = (end - max(recent)) * 1.1  # the alert with a little of what came before it
    names = list(RANGES)
    for name in names[names.index(fallback):]:
        span = RANGES[name]
        if span is None or span >= needed:
            return name
    return fallback


def bucket_index(start: datetime, end: datetime, bucket: timedelta) -> pd.DatetimeIndex:
    """Every bucket start (aligned to the Unix epoch, like the SQL) from ``start`` to ``end``."""
    secs = int(bucket.total_seconds())
    first = pd.Timestamp(int(start.timestamp()) // secs * secs, unit="s", tz="UTC")
    last = pd.Timestamp(int(end.timestamp()) // secs * secs, unit="s", tz="UTC")
    return pd.date_range(first, last, freq=pd.Timedelta(seconds=secs))


def top_topics(series: pd.DataFrame, n: int = 5) -> list[str]:
    """The ``n`` topics with the most articles in ``series``."""
    if series.empty:
        return []
    totals = series.groupby("topic")["articles"].sum().sort_values(ascending=False, kind="stable")
    return list(totals.index[:n])


def shape_series(
    series: pd.DataFrame,
    topics: Sequence[str],
    window: Window,
    bucket: timedelta,
    *,
    smooth: int = 3,
    min_articles: int = 5,
) -> pd.DataFrame:
    """Per bucket and topic: articles, negative and the negative share, plus an all-topics row per bucket.

    Empty buckets count as zero. The share is taken over the trailing ``smooth`` buckets and left empty
    where they hold fewer than ``min_articles`` articles: 1 negative of 2 is noise, not a 50 % spike. The chart
    draws those empty shares as visible gaps and each point that has enough articles as a dot.
    """
    index = bucket_index(window.start, window.end, bucket)
    groups = [(t, series[series["topic"] == t]) for t in topics] + [(ALL_TOPICS_LABEL, series)]
    frames = [_one_series(name, part, index, smooth, min_articles) for name, part in groups]
    return pd.concat(frames, ignore_index=True)


def _one_series(
    name: str, part: pd.DataFrame, index: pd.DatetimeIndex, smooth: int, min_articles: int
) -> pd.DataFrame:
    summed = part.groupby("bucket")[["articles", "negative"]].sum()
    frame = summed.reindex(index, fill_value=0).astype(int)
    rolled = frame.rolling(smooth, min_periods=1).sum()
    frame["share"] = (
        rolled["negative"] / rolled["articles"].where(rolled["articles"] >= min_articles)
    ).astype(float)
    frame["topic"] = name
    return frame.rename_axis("bucket").reset_index()[["bucket", "topic", "articles", "negative", "share"]]


def range_totals(series: pd.DataFrame) -> tuple[int, float | None]:
    """Articles in the range and their negative share (None when there are none)."""
    articles = int(series["articles"].sum()) if len(series) else 0
    negative = int(series["negative"].sum()) if len(series) else 0
    return articles, (negative / articles if articles else None)


def recent_share(shaped: pd.DataFrame, tail_buckets: int) -> float | None:
    """All-topics negative share over the last ``tail_buckets`` buckets (the "now" figure)."""
    everything = shaped[shaped["topic"] == ALL_TOPICS_LABEL].sort_values("bucket").tail(tail_buckets)
    articles = int(everything["articles"].sum())
    return int(everything["negative"].sum()) / articles if articles else None


def total_lag(lag: Any) -> int | None:
    """Sum of the per-partition lags a worker reported, however it nested them (None when unknown)."""
    if lag is None:
        return None
    if isinstance(lag, bool):
        return None
    if isinstance(lag, int | float):
        return int(lag)
    values = lag.values() if isinstance(lag, Mapping) else lag if isinstance(lag, list) else []
    parts = [v for v in (total_lag(x) for x in values) if v is not None]
    return sum(parts) if parts else None


def summarize_workers(
    heartbeats: Iterable[Mapping[str, Any]], now: datetime, stale_after: timedelta
) -> pd.DataFrame:
    """One row per worker: live or stale, its model, speed, lag and counters."""
    rows = []
    for hb in heartbeats:
        age = now - hb["updated_at"]
        live = age <= stale_after
        rows.append(
            {
                "worker": hb["worker_id"],
                "status": "live" if live else "stale",
                "model": hb.get("model_version") or "—",
                "texts_per_second": (hb.get("texts_per_second") or 0.0) if live else 0.0,
                "lag": total_lag(hb.get("lag")),
                "stored": int(hb.get("messages_stored") or 0),
                "dead_lettered": int(hb.get("messages_dead_lettered") or 0),
                "last_seen": format_age(age),
                "live": live,
            }
        )
    columns = [
        "worker",
        "status",
        "model",
        "texts_per_second",
        "lag",
        "stored",
        "dead_lettered",
        "last_seen",
        "live",
    ]
    return pd.DataFrame(rows, columns=columns)


def pipeline_totals(workers: pd.DataFrame) -> tuple[int, float, int | None]:
    """Live workers, their combined texts per second, and the combined lag (None when none reported)."""
    live = workers[workers["live"]] if len(workers) else workers
    lags = [v for v in live["lag"] if v is not None and not pd.isna(v)] if len(live) else []
    return (
        len(live),
        float(live["texts_per_second"].sum()) if len(live) else 0.0,
        (int(sum(lags)) if lags else None),
    )


def format_age(age: timedelta) -> str:
    """'12 s ago', '5 min ago', '3 h ago', '2 d ago'."""
    secs = max(0, int(age.total_seconds()))
    if secs < 90:
        return f"{secs} s ago"
    if secs < 90 * 60:
        return f"{secs // 60} min ago"
    if secs < 48 * 3600:
        return f"{secs // 3600} h ago"
    return f"{secs // 86400} d ago"


def format_span(span: timedelta) -> str:
    """'5 min', '2 h', '1 d', '7 d'."""
    secs = int(span.total_seconds())
    if secs < 3600:
        return f"{secs // 60} min"
    if secs < 86400:
        return f"{secs // 3600} h"
    return f"{secs // 86400} d"


def alerts_in_window(alerts: Iterable[Mapping[str, Any]], window: Window) -> pd.DataFrame:
    """Alerts whose detection window ended inside ``window``, placed at that event time (not wall clock)."""
    rows = [
        {"scope": scope_label(a["scope"]), "at": a["window_end"], "observed_share": a["observed_share"]}
        for a in alerts
        if window.start <= a["window_end"] <= window.end
    ]
    return pd.DataFrame(rows, columns=["scope", "at", "observed_share"])


def moment_line(figures: Mapping[str, Any] | None) -> str:
    """One moment of an episode (opening, peak or resolution) as one line of figures."""
    if not figures:
        return "not yet"
    if figures.get("reason") == "expired":
        return (f"expired at {figures['window_end'][:16].replace('T', ' ')} UTC: no window with enough articles "
                f"since {figures['evidence_until'][:16].replace('T', ' ')} UTC, so no evidence either way")
    return (
        f"{figures['observed_share']:.0%} negative vs baseline {figures['baseline_share']:.0%} · "
        f"{figures['window_negative']} of {figures['window_count']} in "
        f"{format_span(timedelta(minutes=figures['window_minutes']))} "
        f"to {figures['window_end'][:16].replace('T', ' ')} UTC · baseline {figures['baseline_negative']} of "
        f"{figures['baseline_count']}{_against(figures)} · z {figures['statistic']:.1f}, p {figures['p_value']:.2g}"
        f"{_reading(figures)}"
    )


def _reading(figures: Mapping[str, Any]) -> str:
    """The reading signal's rise (Cliff's delta of p_negative against the baseline), when the window was judged so."""
    rise = figures.get("reading_rise")
    return "" if rise is None else f" · read more negative by delta {rise:+.2f} (rank test of p_negative)"


def _against(figures: Mapping[str, Any]) -> str:
    note = baseline_note(dict(figures))
    return f" ({note})" if note else ""


def alert_summary(alert: Mapping[str, Any]) -> str:
    """One line: scope, share against baseline, and the window's counts, as they were when it opened."""
    f = alert.get("opening") or alert
    return (
        f"{scope_label(alert['scope'])}: {f['observed_share']:.0%} negative "
        f"(baseline {f['baseline_share']:.0%}, {f['window_negative']} of {f['window_count']})"
    )


def example_headlines(examples: Any, limit: int = 5) -> list[str]:
    """Headlines from an alert's ``examples`` (strings or objects with title/text/headline)."""
    out = []
    for item in examples or []:
        if isinstance(item, Mapping):
            text = item.get("title") or item.get("headline") or item.get("text")
        else:
            text = item
        if text:
            out.append(" ".join(str(text).split()))
        if len(out) == limit:
            break
    return out


def flatten_scores(scores: Mapping[str, Any] | None, prefix: str = "") -> dict[str, float]:
    """{"topic": {"accuracy": .9}} → {"topic.accuracy": .9}; non-numbers are left out."""
    flat: dict[str, float] = {}
    for key, value in (scores or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_scores(value, prefix=f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


HEADLINE_SCORES = ("topic.accuracy", "topic.macro_f1", "sentiment.accuracy", "sentiment.macro_f1")
SCORE_LABELS = {
    "topic.accuracy": "Topic accuracy",
    "topic.macro_f1": "Topic macro-F1",
    "sentiment.accuracy": "Sentiment accuracy",
    "sentiment.macro_f1": "Sentiment macro-F1",
}
# What `monitor train --preset full` scores on the bundled validation splits (README, docs/model.md): the
# level a serving model should reach. The quick starter sits well below it on purpose (minutes to train).
TARGET_SCORES = {"topic.accuracy": 0.879, "topic.macro_f1": 0.868, "sentiment.accuracy": 0.862,
                 "sentiment.macro_f1": 0.823}
TARGET_SLACK = 0.02
QUICK_RECIPE = {"epochs": 1, "limit": 8000}  # the quick preset's fields that no other preset shares


def below_target(scores: Mapping[str, Any] | None) -> dict[str, tuple[float, float]]:
    """Headline scores more than TARGET_SLACK under the full preset's: {name: (score, target)}."""
    return {
        name: (value, TARGET_SCORES[name])
        for name, value in headline_scores(scores).items()
        if value < TARGET_SCORES[name] - TARGET_SLACK
    }


def is_quick_starter(path: str, arguments: Mapping[str, Any] | None) -> bool:
    """The demo's starter (``.../starter``) or any model trained with the quick preset's recipe."""
    if Path(path).name == "starter":
        return True
    return bool(arguments) and all(arguments.get(k) == v for k, v in QUICK_RECIPE.items())


def rollback_target(versions: Sequence[Mapping[str, Any]]) -> str | None:
    """The version a rollback would promote (the champion before the current one), None when there is none.

    Mirrors ``rollback_champion`` so the button is disabled exactly when the rollback would refuse.
    """
    champion = next((v for v in versions if v["status"] == "champion"), None)
    earlier = [
        v for v in versions
        if v.get("promoted_at") is not None and v["status"] != "champion"
        and (champion is None or champion.get("promoted_at") is None or v["promoted_at"] < champion["promoted_at"])
    ]
    return max(earlier, key=lambda v: v["promoted_at"])["version"] if earlier else None


def headline_scores(scores: Mapping[str, Any] | None) -> dict[str, float]:
    """The four figures the promotion gate compares, whether scores are nested or flat with underscores."""
    flat = flatten_scores(scores)
    out = {}
    for name in HEADLINE_SCORES:
        for candidate in (name, name.replace(".", "_"), name.replace(".", "/")):
            if candidate in flat:
                out[name] = flat[candidate]
                break
    return out


def scores_long(versions: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """version, metric, value rows for the scores chart (headline figures only)."""
    rows = [
        {"version": v["version"], "metric": SCORE_LABELS[metric], "value": value, "status": v["status"]}
        for v in versions
        for metric, value in headline_scores(v.get("scores")).items()
    ]
    return pd.DataFrame(rows, columns=["version", "metric", "value", "status"])


def run_duration(started: datetime | None, finished: datetime | None) -> str:
    if started is None or finished is None:
        return "—"
    return format_age(finished - started).removesuffix(" ago")


SKIP_LABEL = "— not sure —"


def label_options(labels: Sequence[str]) -> list[str]:
    """Choices for a correction widget: the labels, then SKIP_LABEL. Nothing is preselected (the widget opens
    empty): a prefilled guess turns one careless click into a stored wrong label."""
    return [*labels, SKIP_LABEL]


def chosen_label(choice: str | None) -> str | None:
    """The label to store for a widget's value: None for no choice or SKIP_LABEL."""
    return None if choice in (None, SKIP_LABEL) else choice


def model_guess(label: str | None, confidence: float | None) -> str:
    """'Earnings (10 %)': the model's guess, shown beside the widget rather than chosen in it."""
    if not label:
        return "no guess"
    return f"{label} ({confidence:.0%})" if confidence is not None else label


# The prediction right after the headline, so topic and sentiment stay on screen at 1,400 px.
ARTICLE_COLUMNS = [
    "event_time",
    "headline",
    "topic",
    "sentiment",
    "topic_confidence",
    "sentiment_confidence",
    "source",
    "model_version",
    "article_id",
]


def article_rows(articles: pd.DataFrame) -> pd.DataFrame:
    """The Articles table: one headline column (the title, else the text) and the prediction beside it."""
    if articles.empty:
        return pd.DataFrame(columns=ARTICLE_COLUMNS)
    out = articles.copy()
    out["headline"] = out["title"].where(out["title"].notna() & (out["title"] != ""), out["text"])
    return out[ARTICLE_COLUMNS]


def version_rows(versions: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The versions table: status, dates and the four headline scores as columns."""
    rows = [
        {
            "version": v["version"],
            "status": v["status"],
            "created": v["created_at"],
            "promoted": v["promoted_at"],
            **headline_scores(v.get("scores")),
            "path": v["path"],
        }
        for v in versions
    ]
    return pd.DataFrame(rows, columns=["version", "status", "created", "promoted", *HEADLINE_SCORES, "path"])


def run_rows(runs: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The training runs table: outcome, size, and candidate against champion on each headline score."""
    rows = []
    for r in runs:
        cand, champ = headline_scores(r.get("candidate_scores")), headline_scores(r.get("champion_scores"))
        rows.append(
            {
                "started": r["started_at"],
                "trigger": r["trigger"],
                "outcome": r["status"],
                "took": run_duration(r["started_at"], r["finished_at"]),
                "new labels": r["n_new_labels"],
                "candidate": r["candidate_version"],
                "vs champion": r["champion_version"],
                **{
                    f"Δ {m}": (cand[m] - champ[m]) if m in cand and m in champ else None
                    for m in HEADLINE_SCORES
                },
                "decision": r["error"] or r["decision"],
            }
        )
    columns = [
        "started",
        "trigger",
        "outcome",
        "took",
        "new labels",
        "candidate",
        "vs champion",
        *[f"Δ {m}" for m in HEADLINE_SCORES],
        "decision",
    ]
    return pd.DataFrame(rows, columns=columns)
