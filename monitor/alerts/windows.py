"""Counting negative articles per topic in the current window and the trailing baseline.

Each article counts once, with its current prediction (``monitor.store.reads``), at its
``event_time`` (published_at when the producer sent one, else arrival time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Subquery, func, select
from sqlalchemy.orm import Session

from monitor.alerts.counts import CASHTAG, TICKER_PREFIX, TICKER_SHAPE
from monitor.store.orm import ALL_TOPICS, Article
from monitor.store.reads import current_predictions

NEGATIVE = "negative"


@dataclass(frozen=True)
class Windows:
    """Current window (window_start, now] and baseline (baseline_start, window_start]."""

    now: datetime
    window_start: datetime
    baseline_start: datetime

    @classmethod
    def ending_at(cls, now: datetime, *, window: timedelta, baseline: timedelta) -> Windows:
        return cls(now=now, window_start=now - window, baseline_start=now - window - baseline)


def find_watermark(*, session: Session) -> datetime | None:
    """Latest event time stored, never ahead of the wall clock (a producer's clock can run fast).

    Using the data's own clock lets a replayed 2020 stream and a live stream both work.
    """
    latest = session.scalar(select(func.max(Article.event_time)))
    if latest is None:
        return None
    return min(latest, datetime.now(UTC))


def _latest_predictions(start: datetime, end: datetime) -> Subquery:
    """One row per article with event_time in (start, end]: its current prediction (the shared rule)."""
    return current_predictions(Article.event_time > start, Article.event_time <= end).subquery("latest")


def find_negative_examples(
    scope: str, windows: Windows, *, limit: int, session: Session
) -> list[dict[str, Any]]:
    """The window's most confidently negative articles of a scope, as small JSON-ready dicts."""
    latest = _latest_predictions(windows.window_start, windows.now)
    stmt = (
        select(Article, latest.c.topic, latest.c.p_negative)
        .join(latest, latest.c.article_id == Article.id)
        .where(latest.c.sentiment == NEGATIVE)
        .order_by(latest.c.p_negative.desc(), Article.event_time.desc(), Article.id)
        .limit(limit)
    )
    if scope.startswith(TICKER_PREFIX):
        # Ticker matching is the counting query's rule, applied here in Python to the window's negatives.
        ticker = scope[len(TICKER_PREFIX):]
        rows = [r for r in session.execute(stmt.limit(500)) if ticker in article_tickers(r[0])]
        return [_example(article, topic, p_negative) for article, topic, p_negative in rows[:limit]]
    if scope != ALL_TOPICS:
        stmt = stmt.where(latest.c.topic == scope)
    return [_example(article, topic, p_negative) for article, topic, p_negative in session.execute(stmt)]


def article_tickers(article: Article) -> set[str]:
    """Upper-case tickers of an article: its cashtags and its ``tickers`` field (what the scopes count)."""
    found = {m.group(1) for m in re.finditer(CASHTAG, f"{article.title or ''} {article.text}")}
    if isinstance(article.tickers, list):
        found |= {str(t).lstrip("$") for t in article.tickers}
    return {t.upper() for t in found if re.match(TICKER_SHAPE, t)}


def _example(article: Article, topic: str, p_negative: float) -> dict[str, Any]:
    headline = (article.title or article.text).strip()
    return {
        "article_id": article.id,
        "headline": headline[:280],
        "topic": topic,
        "p_negative": round(p_negative, 4),
        "event_time": article.event_time.isoformat(),
        "source": article.source,
        "url": article.url,
    }
