"""SQL behind the dashboard (no Streamlit here): read functions in the storage style, ``session=`` keyword.

Every figure uses each article's latest prediction and the article's event time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Select, exists, func, literal_column, or_, select
from sqlalchemy.orm import Session

from monitor.store.orm import Article, Label, Prediction, TrainingRun, WorkerHeartbeat
from monitor.store.reads import current_predictions, list_alerts


def latest_predictions(*where: Any) -> Select:
    """Each matching article joined to its current prediction: the detector's rule (``monitor.store.reads``)."""
    return current_predictions(*where, columns=(Article.source, Article.title, Article.text))


def fetch_time_bounds(*, session: Session) -> tuple[datetime | None, datetime | None]:
    """Event times of the earliest and the latest article with a prediction (None, None when empty)."""
    has_prediction = exists().where(Prediction.article_id == Article.id)
    row = session.execute(
        select(func.min(Article.event_time), func.max(Article.event_time)).where(has_prediction)
    ).one()
    return row[0], row[1]


def fetch_topic_series(
    start: datetime, end: datetime, bucket: timedelta, *, session: Session
) -> pd.DataFrame:
    """bucket, topic, articles, negative for every topic with articles between ``start`` and ``end``."""
    latest = latest_predictions(Article.event_time >= start, Article.event_time < end).subquery()
    secs = int(bucket.total_seconds())
    epoch = func.extract("epoch", latest.c.event_time)
    bucket_col = func.to_timestamp(func.floor(epoch / secs) * secs).label("bucket")
    negative = func.count().filter(latest.c.sentiment == "negative")
    stmt = (
        select(bucket_col, latest.c.topic, func.count().label("articles"), negative.label("negative"))
        .group_by(literal_column("1"), latest.c.topic)
        .order_by(literal_column("1"))
    )
    frame = pd.DataFrame(session.execute(stmt).all(), columns=["bucket", "topic", "articles", "negative"])
    frame["bucket"] = pd.to_datetime(frame["bucket"], utc=True)
    return frame.astype({"articles": int, "negative": int})


def fetch_stored_per_minute(since: datetime, *, session: Session) -> pd.DataFrame:
    """Articles the workers stored per minute since ``since`` (by arrival, not event time)."""
    minute = func.date_trunc("minute", Article.received_at).label("minute")
    stmt = (
        select(minute, func.count().label("stored"))
        .where(Article.received_at >= since)
        .group_by(minute)
        .order_by(minute)
    )
    frame = pd.DataFrame(session.execute(stmt).all(), columns=["minute", "stored"])
    frame["minute"] = pd.to_datetime(frame["minute"], utc=True)
    return frame


def fetch_heartbeats(*, session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.worker_id))
    return [row_dict(row) for row in rows]


def fetch_alerts(
    *,
    session: Session,
    status: str | None = None,
    scope: str | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Alerts as ``monitor alerts list`` lists them (``monitor.store.reads.list_alerts``), one dict per row."""
    alerts = list_alerts(session=session, status=status, scope=scope, since=since, limit=limit)
    return [row_dict(row) for row in alerts]


@dataclass(frozen=True)
class ArticleFilter:
    """What the Articles page narrows the list by; empty fields mean no restriction."""

    start: datetime | None = None
    end: datetime | None = None
    search: str = ""
    topics: tuple[str, ...] = ()
    sentiments: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    topic_confidence: tuple[float, float] = (0.0, 1.0)
    sentiment_confidence: tuple[float, float] = (0.0, 1.0)

    def conditions(self, latest: Any) -> list[Any]:
        c = latest.c
        conds = [
            c.topic_confidence.between(*self.topic_confidence),
            c.sentiment_confidence.between(*self.sentiment_confidence),
        ]
        if self.search.strip():
            pattern = f"%{_escape_like(self.search.strip())}%"
            conds.append(or_(c.text.ilike(pattern, escape="\\"), c.title.ilike(pattern, escape="\\")))
        for column, chosen in (
            (c.topic, self.topics),
            (c.sentiment, self.sentiments),
            (c.source, self.sources),
        ):
            if chosen:
                conds.append(column.in_(chosen))
        return conds

    def article_conditions(self) -> list[Any]:
        conds = []
        if self.start:
            conds.append(Article.event_time >= self.start)
        if self.end:
            conds.append(Article.event_time < self.end)
        return conds


def fetch_articles(flt: ArticleFilter, *, session: Session, limit: int = 500) -> tuple[pd.DataFrame, int]:
    """The newest articles matching ``flt`` with their latest prediction, and how many match in all."""
    latest = latest_predictions(*flt.article_conditions()).subquery()
    conds = flt.conditions(latest)
    total = session.scalar(select(func.count()).select_from(latest).where(*conds)) or 0
    stmt = select(latest).where(*conds).order_by(latest.c.event_time.desc(), latest.c.article_id.desc())
    rows = session.execute(stmt.limit(limit)).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=list(latest.c.keys())), total


def fetch_sources(*, session: Session, limit: int = 500) -> list[str]:
    stmt = select(Article.source).where(Article.source.is_not(None)).group_by(Article.source)
    return [s for s in session.scalars(stmt.order_by(func.count().desc()).limit(limit))]


def fetch_label_queue(
    *, session: Session, since: datetime | None = None, topic: str | None = None, limit: int = 10
) -> pd.DataFrame:
    """Unlabeled articles whose latest prediction is least sure (of topic or sentiment) first."""
    labeled = exists().where(Label.article_id == Article.id)
    where = [~labeled] + ([Article.event_time >= since] if since else [])
    latest = latest_predictions(*where).subquery()
    least = func.least(latest.c.topic_confidence, latest.c.sentiment_confidence)
    stmt = select(latest).order_by(least, latest.c.article_id.desc()).limit(limit)
    if topic:
        stmt = stmt.where(latest.c.topic == topic)
    rows = session.execute(stmt).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=list(latest.c.keys()))


def fetch_training_runs(*, session: Session, limit: int = 50) -> list[dict[str, Any]]:
    stmt = select(TrainingRun).order_by(TrainingRun.started_at.desc(), TrainingRun.id.desc()).limit(limit)
    return [row_dict(row) for row in session.scalars(stmt)]


def fetch_article(article_id: int, *, session: Session) -> dict[str, Any] | None:
    row = session.execute(latest_predictions(Article.id == article_id)).mappings().first()
    return dict(row) if row else None


def row_dict(row: Any) -> dict[str, Any]:
    return {col.key: getattr(row, col.key) for col in row.__table__.columns}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
