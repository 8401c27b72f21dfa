"""Helpers for the dashboard tests: where the app is, and writing articles with predictions."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `dashboard` is a top-level folder beside `monitor`, not an installed package
    sys.path.insert(0, str(ROOT))

from monitor.store.orm import Article, Prediction  # noqa: E402

APP = ROOT / "dashboard" / "app.py"


def add_article(
    s: Session,
    text: str,
    *,
    topic: str = "Earnings",
    sentiment: str = "neutral",
    at: datetime | None = None,
    topic_confidence: float = 0.9,
    sentiment_confidence: float = 0.9,
    source: str | None = "Reuters",
    version: str = "v1",
    title: str | None = None,
) -> Article:
    """One article with one prediction, flushed (ids assigned)."""
    at = at or datetime.now(UTC) - timedelta(minutes=5)
    offset = s.scalar(select(func.count()).select_from(Article)) or 0
    article = Article(
        text=text,
        title=title,
        source=source,
        event_time=at,
        published_at=at,
        kafka_topic="news",
        kafka_partition=0,
        kafka_offset=offset,
    )
    s.add(article)
    s.flush()
    p_neg = sentiment_confidence if sentiment == "negative" else (1 - sentiment_confidence) / 2
    s.add(
        Prediction(
            article_id=article.id,
            model_version=version,
            topic=topic,
            topic_confidence=topic_confidence,
            sentiment=sentiment,
            sentiment_confidence=sentiment_confidence,
            p_negative=p_neg,
            p_neutral=(1 - p_neg) / 2,
            p_positive=(1 - p_neg) / 2,
        )
    )
    s.flush()
    return article


def texts(elements: Any) -> list[str]:
    """The visible strings of a list of AppTest elements."""
    return [str(e.value) for e in elements]
