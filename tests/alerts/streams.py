"""Test helpers: write article + prediction rows directly (no worker) and replay a stream."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from monitor.alerts import CheckResult, check_alerts
from monitor.alerts.watermark import grid_floor
from monitor.settings import AlertSettings
from monitor.store import transaction
from monitor.store.orm import Alert, Article, Prediction

_offsets = itertools.count()


@dataclass(frozen=True)
class Item:
    at: datetime
    topic: str
    sentiment: str
    text: str = "headline"
    p_negative: float | None = None  # None: the sentiment's usual probabilities below


def write_items(items: Iterable[Item], *, session: Session, model_version: str = "test-1") -> list[int]:
    """Insert articles and their predictions; returns the article ids in order."""
    items = list(items)
    if not items:
        return []
    articles = [
        {
            "text": it.text,
            "event_time": it.at,
            "published_at": it.at,
            "kafka_topic": "news",
            "kafka_partition": 0,
            "kafka_offset": next(_offsets),
        }
        for it in items
    ]
    ids = list(session.scalars(insert(Article).returning(Article.id, sort_by_parameter_order=True), articles))
    probs = {"negative": (0.9, 0.05, 0.05), "neutral": (0.1, 0.8, 0.1), "positive": (0.05, 0.05, 0.9)}
    session.execute(
        insert(Prediction),
        [
            {
                "article_id": aid,
                "model_version": model_version,
                "topic": it.topic,
                "topic_confidence": 0.9,
                "sentiment": it.sentiment,
                "sentiment_confidence": 0.9,
                "p_negative": probs[it.sentiment][0] if it.p_negative is None else it.p_negative,
                "p_neutral": probs[it.sentiment][1],
                "p_positive": probs[it.sentiment][2],
            }
            for aid, it in zip(ids, items, strict=True)
        ],
    )
    return ids


def background(
    start: datetime, hours: float, topics: list[str], *, per_hour: int, negative: float, seed: int
) -> Iterator[Item]:
    """Steady traffic: each topic ``per_hour`` articles an hour, negative with probability ``negative``."""
    rng = random.Random(seed)
    step = timedelta(hours=1) / per_hour
    for i in range(int(hours * per_hour)):
        for k, topic in enumerate(topics):
            at = start + i * step + timedelta(seconds=k)
            sentiment = "negative" if rng.random() < negative else rng.choice(["neutral", "positive"])
            yield Item(at, topic, sentiment, f"{topic} news {i}")


def replay(
    items: Iterable[Item],
    factory: sessionmaker[Session],
    settings: AlertSettings,
    *,
    every: timedelta,
    on_check: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Feed items in event-time order in slices of ``every`` and run the detector after each slice,
    at its default "now" (the stored watermark), as the periodic job would during a replay."""
    ordered = sorted(items, key=lambda it: it.at)
    results: list[CheckResult] = []
    # Slices end on the detector's 10-minute step grid: stored without partition progress, the rows look like a
    # quiet feed, judged to the end of the latest event's step, so a slice ending inside a step would leave the
    # rest of that step's articles late (as they would be, arriving after a quiet feed's step was judged).
    checkpoint = grid_floor(ordered[0].at, timedelta(minutes=10)) + every
    pending: list[Item] = []
    for item in ordered + [None]:  # type: ignore[list-item]
        while item is None or item.at > checkpoint:
            with transaction(factory) as session:
                write_items(pending, session=session)
            pending = []
            result = check_alerts(settings, factory)
            results.append(result)
            if on_check:
                on_check(result)
            checkpoint += every
            if item is None:
                return results
        pending.append(item)
    return results


def decisions(alerts: Iterable[Alert]) -> list[tuple]:
    """Everything an alert decided, its figures included (row and group ids aside): what a replay must repeat."""
    return sorted(((a.scope, a.status, a.opened_at, a.resolved_at, a.window_minutes, a.peak_share, a.opening, a.peak,
                    a.resolution) for a in alerts), key=lambda d: (d[2], d[0]))


def grouping(alerts: Iterable[Alert]) -> list[tuple]:
    """Which alerts went out in one notification, by when and what they opened on."""
    groups: dict[int | None, list] = {}
    for a in alerts:
        groups.setdefault(a.group_id, []).append((a.opened_at, a.scope))
    return sorted(tuple(sorted(g)) for g in groups.values())


# The detector's rules for these streams, whose predictions carry three fixed probabilities (negative 0.9, neutral
# 0.1, positive 0.05): nothing to read beyond the label, so they test the label signal's rules.
LABEL_RULES = AlertSettings(
    signal="label",
    window_scales_minutes=[60, 360, 1440, 4320],
    baseline_minutes=12 * 60,
    min_count=10,
    min_baseline_count=30,
    min_rise=0.15,
    resolve_margin=0.5,
    cooldown_minutes=60,
    max_examples=3,
)

# A synthetic scenario shared by the detector and CLI tests: four topics, 20 articles an hour each,
# 10 % negative, for 20 hours from T0.
T0 = datetime(2024, 3, 1, tzinfo=UTC)
TOPICS = ["Earnings", "Macro", "Energy | Oil", "Fed | Central Banks"]
BURST_START, BURST_END = T0 + timedelta(hours=12), T0 + timedelta(hours=13, minutes=30)


def volume_burst(topic: str = "Earnings", per_hour: int = 30) -> list[Item]:
    """Extra, all-negative headlines in one topic between BURST_START and BURST_END."""
    n = int((BURST_END - BURST_START) / timedelta(hours=1) * per_hour)
    step = (BURST_END - BURST_START) / n
    return [
        Item(BURST_START + i * step + timedelta(seconds=30), topic, "negative", f"{topic} plunge {i}")
        for i in range(n)
    ]


def stream(seed: int, *, burst: list[Item] | None = None, topics=TOPICS) -> list[Item]:
    items = list(background(T0, 20, topics, per_hour=20, negative=0.1, seed=seed))
    return items + (burst or [])
