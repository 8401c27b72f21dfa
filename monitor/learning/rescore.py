"""Re-read stored articles with one model version, so windows and baselines come from one model.

The detector and the dashboard count each article once, with its newest prediction. After a promotion,
articles stored before it keep the old champion's reading, so the detector would compare windows read by the
new model against a baseline read by the old one: a model that calls more posts negative looks like a rise
everywhere. The retrain job therefore re-reads the recent stretch the detector's baselines and windows span
(``MONITOR_LEARNING__RESCORE_DAYS``) after it promotes; ``monitor models rescore`` does it for any stretch.

Articles go in id order, one batch per transaction; a prediction row is added only where the version has
none (``ON CONFLICT DO NOTHING`` on the article and version), so a run is idempotent, can be stopped and run
again, and never fights a worker writing the same version's predictions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from monitor.model.prediction import TextPrediction
from monitor.settings import LearningSettings, ModelSettings
from monitor.store import transaction
from monitor.store.orm import Article, Prediction
from monitor.store.reads import latest_event_time

log = logging.getLogger(__name__)


@dataclass
class RescoreResult:
    version: str
    since: datetime | None
    until: datetime | None
    articles: int = 0  # read and predicted
    written: int = 0  # prediction rows added (fewer when a worker wrote some meanwhile)
    seconds: float = 0.0


class Reader(Protocol):
    """What rescoring needs of a predictor (``monitor.model.predictor.Predictor`` has it)."""

    def predict(self, texts: list[str]) -> list[TextPrediction]: ...


def _pending(version: str, since: datetime | None, until: datetime | None):
    """Articles in (since, until] of event time without a prediction by ``version``."""
    clauses = [~exists().where(Prediction.article_id == Article.id, Prediction.model_version == version)]
    if since is not None:
        clauses.append(Article.event_time > since)
    if until is not None:
        clauses.append(Article.event_time <= until)
    return clauses


def count_pending(version: str, *, since: datetime | None, until: datetime | None, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Article).where(*_pending(version, since, until))) or 0


def rescore(
    reader: Reader, version: str, session_factory: sessionmaker[Session], *, since: datetime | None = None,
    until: datetime | None = None, batch_size: int = 256, progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> RescoreResult:
    """Predict every article in (since, until] that ``version`` has not read yet, and store those predictions.
    A set ``stop`` ends it between batches (what is stored stays; a later run reads the rest)."""
    result = RescoreResult(version, since, until)
    started, after = time.perf_counter(), 0
    while stop is None or not stop.is_set():
        with transaction(session_factory) as session:
            rows = session.execute(
                select(Article.id, Article.text).where(Article.id > after, *_pending(version, since, until))
                .order_by(Article.id).limit(batch_size)
            ).all()
        if not rows:
            break
        predictions = reader.predict([text for _, text in rows])
        with transaction(session_factory) as session:
            stmt = insert(Prediction).values([
                {"article_id": article_id, "model_version": version, "topic": p.topic,
                 "topic_confidence": p.topic_confidence, "sentiment": p.sentiment,
                 "sentiment_confidence": p.sentiment_confidence, "p_negative": p.p_negative,
                 "p_neutral": p.p_neutral, "p_positive": p.p_positive}
                for (article_id, _), p in zip(rows, predictions, strict=True)
            ]).on_conflict_do_nothing(index_elements=[Prediction.article_id, Prediction.model_version])
            result.written += len(session.execute(stmt.returning(Prediction.id)).all())
        result.articles += len(rows)
        after = rows[-1][0]
        if progress is not None:
            progress(len(rows))
    result.seconds = time.perf_counter() - started
    return result


def recent_stretch(days: int, *, session: Session) -> datetime | None:
    """Start of the last ``days`` of stored event time (None: nothing stored)."""
    latest = latest_event_time(datetime.now(UTC), session=session)
    return None if latest is None else latest - timedelta(days=days)


def rescore_after_promotion(
    learning: LearningSettings, model: ModelSettings, session_factory: sessionmaker[Session], *, version: str,
    path: Path, stop: threading.Event | None = None,
) -> RescoreResult | None:
    """The retrain job's last step after a promotion: re-read the recent stretch with the new champion."""
    if learning.rescore_days == 0:
        return None
    with transaction(session_factory) as session:
        since = recent_stretch(learning.rescore_days, session=session)
    if since is None:
        return None
    from monitor.model.predictor import Predictor

    reader = Predictor.from_settings(model, path)
    result = rescore(reader, version, session_factory, since=since, stop=stop)
    log.info("re-read %d stored article(s) of the last %d day(s) of event time with %s in %.0fs",
             result.articles, learning.rescore_days, version, result.seconds)
    return result
