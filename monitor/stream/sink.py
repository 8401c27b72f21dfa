"""Where scored articles go: one Postgres transaction per batch, idempotent, with typed backpressure."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from monitor.errors import MonitorError
from monitor.store import transaction
from monitor.stream.errors import Backpressure, StoreRejected
from monitor.stream.message import NewsMessage
from monitor.stream.storage import insert_articles, insert_predictions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoredArticle:
    """A valid message, where it came from, and the model's prediction for it."""

    topic: str
    partition: int
    offset: int
    message: NewsMessage
    prediction: Any
    received_at: datetime

    @property
    def coordinates(self) -> tuple[str, int, int]:
        return (self.topic, self.partition, self.offset)


class ArticleSink(Protocol):
    def write(self, items: Sequence[ScoredArticle], model_version: str) -> list[bool]:
        """Store the items in one transaction; True for each item that was new, False for a duplicate.

        Raises :class:`Backpressure` when the store can't take data now, :class:`StoreRejected`
        when it refuses these rows.
        """

    def available(self) -> bool:
        """Whether a write has a chance now (a cheap probe used while backing off)."""


class PostgresSink:
    """Articles and predictions in one transaction, with bulk ``INSERT ... ON CONFLICT DO NOTHING``."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory

    def write(self, items: Sequence[ScoredArticle], model_version: str) -> list[bool]:
        if not items:
            return []
        try:
            with transaction(self._factory) as session:
                new_ids = insert_articles([article_row(i) for i in items], session=session)
                insert_predictions(
                    [
                        prediction_row(new_ids[i.coordinates], i.prediction, model_version)
                        for i in items
                        if i.coordinates in new_ids
                    ],
                    session=session,
                )
        except SQLAlchemyError as exc:
            raise classify_store_error(exc) from exc
        return [i.coordinates in new_ids for i in items]

    def available(self) -> bool:
        try:
            with self._factory() as session:
                session.execute(text("select 1"))
            return True
        except SQLAlchemyError:
            return False


def classify_store_error(exc: SQLAlchemyError) -> MonitorError:
    """Rows the database refuses → StoreRejected; a broken schema → fatal; anything else → backpressure."""
    reason = _first_line(exc)
    if isinstance(exc, DataError | IntegrityError):
        return StoreRejected(f"Postgres refused the rows: {reason}")
    if isinstance(exc, ProgrammingError):
        return MonitorError(f"the database schema does not fit ({reason}); run `monitor db upgrade`")
    if isinstance(exc, DBAPIError | PoolTimeout):
        return Backpressure(f"Postgres is unavailable: {reason}")
    return Backpressure(f"Postgres write failed: {reason}")


def _first_line(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return lines[0] if lines else type(orig).__name__


def article_row(item: ScoredArticle) -> dict[str, Any]:
    m = item.message
    return {
        "external_id": m.external_id,
        "source": m.source,
        "title": m.title,
        "text": m.text,
        "url": m.url,
        "lang": m.lang,
        "tickers": m.tickers,
        "extra": m.extra or None,
        "published_at": m.published_at,
        "received_at": item.received_at,
        "event_time": m.published_at or item.received_at,
        "kafka_topic": item.topic,
        "kafka_partition": item.partition,
        "kafka_offset": item.offset,
    }


def prediction_row(article_id: int, p: Any, model_version: str) -> dict[str, Any]:
    # float() because predictors may hand back numpy scalars, which the driver does not adapt.
    return {
        "article_id": article_id,
        "model_version": model_version,
        "topic": p.topic,
        "topic_confidence": float(p.topic_confidence),
        "sentiment": p.sentiment,
        "sentiment_confidence": float(p.sentiment_confidence),
        "p_negative": float(p.p_negative),
        "p_neutral": float(p.p_neutral),
        "p_positive": float(p.p_positive),
    }
