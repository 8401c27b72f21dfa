"""Read-side rules shared by the detector and the dashboard, so both agree on what an article "is" now.

An article's current prediction is its newest one, by ``predictions.id`` (insertion order). Not by
``created_at``: that is the start of the writing transaction, so two workers' transactions can commit in
the other order, and the detector and the dashboard would then disagree about an article's label.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from monitor.store.orm import Article, Prediction

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
