"""Replay of real timestamped finance tweets (Stock Market Tweets, CC BY 4.0) with an injected burst."""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.settings import AlertSettings
from monitor.store import transaction
from monitor.store.orm import ALL_TOPICS, Alert

from .streams import Item, replay

pytestmark = pytest.mark.integration

TOPICS = ["Earnings", "Markets", "Company | Product News"]
START, END = datetime(2020, 4, 9, tzinfo=UTC), datetime(2020, 4, 30, tzinfo=UTC)
BURST_START, BURST_END = datetime(2020, 4, 22, 9, tzinfo=UTC), datetime(2020, 4, 22, 15, tzinfo=UTC)
# About 70 tweets a day over three topics: a day's window holds ~23 per topic.
RULES = AlertSettings(min_count=15, min_baseline_count=60, cooldown_minutes=24 * 60, max_examples=3)


def read_timeline(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def tweets_as_items(rows: list[dict[str, str]], seed: int = 7) -> list[Item]:
    """Real times and texts; sentiment from the human label (unlabeled → neutral), topic seeded."""
    rng = random.Random(seed)
    items = []
    for row in sorted(rows, key=lambda r: int(r["row_id"])):
        at = datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
        topic = rng.choice(TOPICS)  # drawn for every row so the assignment doesn't depend on the slice
        if START <= at < END:
            items.append(Item(at, topic, row["label"] or "neutral", row["text"]))
    return items


def injected_burst(rows: list[dict[str, str]], n: int = 30) -> list[Item]:
    """Real negative tweets from later in the file, re-timed into six hours of one topic."""
    later = [r["text"] for r in rows if r["label"] == "negative" and r["created_at"] >= "2020-05-03"]
    step = (BURST_END - BURST_START) / n
    return [Item(BURST_START + i * step, "Earnings", "negative", text) for i, text in enumerate(later[:n])]


def test_injected_burst_in_real_tweet_stream(shared_data, session_factory):
    rows = read_timeline(shared_data / "stock-market-tweets-taborda" / "timeline.csv")
    stream, burst = tweets_as_items(rows), injected_burst(rows)
    assert len(stream) > 1200 and len(burst) == 30
    replay(stream + burst, session_factory, RULES, every=timedelta(hours=2))

    with transaction(session_factory) as session:
        alerts = session.scalars(select(Alert).order_by(Alert.id)).all()
    by_scope = {a.scope: a for a in alerts}
    assert len(by_scope) == len(alerts)  # one episode per scope
    earnings = by_scope.pop("Earnings")
    assert BURST_START < earnings.opened_at <= BURST_END + timedelta(hours=2)
    assert earnings.status == "resolved"
    assert BURST_END < earnings.resolved_at <= BURST_END + timedelta(days=1, hours=2)
    assert {e["headline"] for e in earnings.examples} <= {b.text.strip()[:280] for b in burst} | {
        i.text.strip()[:280] for i in stream if i.sentiment == "negative"
    }
    # 30 injected negatives against ~70 real tweets a day (7% negative) lift all topics together from
    # about 7% to over 30% negative, so the all-topics scope must alert too; no other topic may.
    overall = by_scope.pop(ALL_TOPICS)
    assert BURST_START < overall.opened_at <= BURST_END + timedelta(hours=2)
    assert overall.status == "resolved"
    assert by_scope == {}


def test_real_tweet_stream_without_burst_opens_nothing(shared_data, session_factory):
    rows = read_timeline(shared_data / "stock-market-tweets-taborda" / "timeline.csv")
    replay(tweets_as_items(rows), session_factory, RULES, every=timedelta(hours=2))
    with transaction(session_factory) as session:
        assert session.scalars(select(Alert.scope)).all() == []
