"""Read-side rules shared by the detector, the CLI and the dashboard, so all agree on what they show.

An article's current prediction is its newest one, by ``predictions.id`` (insertion order). Not by
``created_at``: that is the start of the writing transaction, so two workers' transactions can commit in
the other order, and the detector and the dashboard would then disagree about an article's label.

Alerts are listed one way for ``monitor alerts list`` and the dashboard's Alerts page: same filters, same
order, whole rows (figures, group, acknowledgement); each caller only shapes what it gets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from monitor.errors import MonitorError
from monitor.store.orm import Alert, Article, Prediction

ALERT_STATUSES = ("open", "resolved")

NEWEST_ALERT_FIRST = (Alert.opened_at.desc(), Alert.id.desc())
"""Alerts newest first; the id breaks ties between alerts of several scopes opened in the same step."""

NEWEST_PREDICTION_FIRST = (Prediction.article_id, Prediction.id.desc())
"""ORDER BY for ``DISTINCT ON (article_id)``: the first row per article is its current prediction."""

NEWEST_PREDICTION_FIRST_SQL = "p.article_id, p.id DESC"
"""The same rule for hand-written SQL with ``predictions`` aliased as ``p`` (the detector's bucket counts)."""


def current_predictions(*where: Any, columns: tuple[Any, ...] = ()) -> Select:
    """Each article matching ``where`` joined to its current prediction; selects the prediction's label
    columns, ``article_id`` and ``event_time``, plus ``columns``."""
    return (
        select(
            Prediction.article_id,
            Article.event_time,
            Prediction.topic,
            Prediction.topic_confidence,
            Prediction.sentiment,
            Prediction.sentiment_confidence,
            Prediction.p_negative,
            Prediction.model_version,
            *columns,
        )
        .join(Article, Article.id == Prediction.article_id)
        .where(*where)
        .distinct(Prediction.article_id)
        .order_by(*NEWEST_PREDICTION_FIRST)
    )


def list_alerts(
    *,
    session: Session,
    status: str | None = None,
    scope: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> list[Alert]:
    """Alerts newest first: only ``status`` (open or resolved), only ``scope`` (a topic, ``__all__`` or a
    ``$TICKER``), only those opened at or after ``since``; None means any. At most ``limit``."""
    if status is not None and status not in ALERT_STATUSES:
        raise MonitorError(f"alert status must be one of {', '.join(ALERT_STATUSES)}, not {status!r}")
    stmt = select(Alert).order_by(*NEWEST_ALERT_FIRST).limit(limit)
    if status is not None:
        stmt = stmt.where(Alert.status == status)
    if scope is not None:
        stmt = stmt.where(Alert.scope == scope)
    if since is not None:
        stmt = stmt.where(Alert.opened_at >= since)
    return list(session.scalars(stmt))


def latest_event_time(now: datetime, *, session: Session) -> datetime | None:
    """The latest stored event time not after ``now``: rows dated after the wall clock are not "latest"
    (the detector and the re-read after a promotion agree on where stored history ends)."""
    return session.scalar(select(func.max(Article.event_time)).where(Article.event_time <= now))
