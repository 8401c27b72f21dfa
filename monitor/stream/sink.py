"""Where scored articles go: one Postgres transaction per batch, idempotent, with typed backpressure."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

import psycopg
from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError, SQLAlchemyError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from monitor.errors import MonitorError
from monitor.model.prediction import TextPrediction
from monitor.stream.errors import Backpressure, StoreRejected
from monitor.stream.message import NewsMessage
from monitor.stream.storage import Coordinates, copy_float, copy_json, copy_line, copy_text, copy_time, insert_scored

log = logging.getLogger(__name__)

T = TypeVar("T")

CANARY_TOPIC = "__monitor_canary__"


@dataclass(frozen=True)
class ScoredArticle:
    """A valid message, where it came from, and the model's prediction for it."""

    topic: str
    partition: int
    offset: int
    message: NewsMessage
    prediction: TextPrediction
    received_at: datetime

    @property
    def coordinates(self) -> Coordinates:
        return (self.topic, self.partition, self.offset)


@dataclass(frozen=True)
class EncodedArticle:
    """A scored article as the line COPY sends (built before the transaction), and where it came from."""

    coordinates: Coordinates
    line: bytes


class ArticleSink(Protocol):
    def encode(self, item: ScoredArticle, model_version: str, position: int) -> EncodedArticle:
        """The row as it will be sent, built outside any transaction; ``position`` orders it in its batch.

        Raises :class:`StoreRejected` when the row cannot be sent (a value the driver cannot adapt).
        """

    def write_encoded(self, rows: Sequence[EncodedArticle]) -> list[bool]:
        """Store the rows in one transaction; True for each row that was new, False for a duplicate.

        Raises :class:`Backpressure` when the store can't take data now, :class:`StoreRejected`
        when it refuses these rows.
        """

    def write(self, items: Sequence[ScoredArticle], model_version: str) -> list[bool]:
        """:meth:`encode` each item (in this order), then :meth:`write_encoded`."""

    def available(self) -> bool:
        """Whether a write has a chance now (a cheap probe used while backing off)."""

    def accepts_known_good(self) -> bool:
        """Whether a known-good row would be stored; tells a broken store from a batch of bad rows."""


class PostgresSink:
    """Articles and predictions in one transaction: one ``COPY`` and one ``INSERT ... ON CONFLICT DO NOTHING``."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory

    def encode(self, item: ScoredArticle, model_version: str, position: int) -> EncodedArticle:
        return encode_article(item, model_version, position)

    def write_encoded(self, rows: Sequence[EncodedArticle]) -> list[bool]:
        if not rows:
            return []
        lines = [r.line for r in rows]
        new_ids = store_transaction(self._factory, lambda session: insert_scored(lines, session=session))
        return [r.coordinates in new_ids for r in rows]

    def write(self, items: Sequence[ScoredArticle], model_version: str) -> list[bool]:
        return self.write_encoded([self.encode(item, model_version, i) for i, item in enumerate(items)])

    def accepts_known_good(self) -> bool:
        """Whether a plain valid row goes in (rolled back, so nothing stays): a broken store or bad rows?

        Raises :class:`Backpressure` when the database can't answer at all.
        """
        try:
            line = encode_article(canary_article(), "canary", 0).line
            store_transaction(self._factory, lambda s: insert_scored([line], session=s), keep=False)
        except StoreRejected as exc:
            log.error("even a known-good row is refused: %s", exc)
            return False
        return True

    def available(self) -> bool:
        return database_answers(self._factory)


def database_answers(factory: sessionmaker[Session]) -> bool:
    """A cheap probe used while backing off: does Postgres answer a query now?"""
    try:
        with factory() as session:
            session.execute(text("select 1"))
        return True
    except Exception:  # noqa: BLE001 - a probe answers yes or no, whatever went wrong
        return False


def store_transaction(factory: sessionmaker[Session], work: Callable[[Session], T], *, keep: bool = True) -> T:
    """Run ``work`` in one transaction; every exception leaves as StoreRejected or Backpressure.

    Every consumer's store path (news articles, label events) goes through here, so a row Postgres or
    the driver refuses is always isolated and dead-lettered, and an unreachable database always pauses.
    """
    try:
        with factory() as session, session.begin() as tx:
            result = work(session)
            if not keep:
                tx.rollback()
            return result
    except SQLAlchemyError as exc:
        raise classify_store_error(exc) from exc
    except psycopg.Error as exc:  # a driver error SQLAlchemy did not wrap
        raise classify_driver_error(exc) from exc
    except Exception as exc:
        # Raised while adapting a row (UnicodeEncodeError for a lone surrogate, RecursionError from
        # the jsonb encoder, ValueError, OverflowError, TypeError...): the data's fault. A bug that
        # refuses every row is caught by the worker's canary check, not dead-lettered for ever.
        raise StoreRejected(f"the row cannot be sent to Postgres ({type(exc).__name__}: {_short(exc)})") from exc


def canary_article() -> ScoredArticle:
    """A row any working store accepts; written only in transactions that are rolled back."""
    prediction = TextPrediction(
        topic="canary",
        topic_confidence=1.0,
        sentiment="neutral",
        sentiment_confidence=1.0,
        p_negative=0.0,
        p_neutral=1.0,
        p_positive=0.0,
    )
    message = NewsMessage(text="Markets were little changed today.", source="monitor-canary")
    return ScoredArticle(CANARY_TOPIC, 0, 0, message, prediction, datetime.now(UTC))


def classify_store_error(exc: SQLAlchemyError) -> MonitorError:
    """Rows the database or the driver refuses → StoreRejected; a database that can't answer → Backpressure.

    A schema that does not fit (ProgrammingError) refuses every row; it is isolated like a bad row and
    the worker's canary check turns it into a batch failure instead of a stream of dead letters.
    """
    reason = _first_line(exc)
    if isinstance(exc, DataError | IntegrityError):
        return StoreRejected(f"Postgres refused the rows: {reason}")
    if isinstance(exc, ProgrammingError):
        return StoreRejected(f"Postgres refused the statement ({reason}); if every row fails, run `monitor db upgrade`")
    if isinstance(exc, StatementError) and not isinstance(exc, DBAPIError):
        # The driver failed before sending anything: a value it cannot adapt.
        return StoreRejected(f"the row cannot be sent to Postgres: {reason}")
    if isinstance(exc, DBAPIError | PoolTimeout):
        return Backpressure(f"Postgres is unavailable: {reason}")
    return Backpressure(f"Postgres write failed: {reason}")


def classify_driver_error(exc: psycopg.Error) -> MonitorError:
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError | psycopg.InternalError):
        return Backpressure(f"Postgres is unavailable: {_short(exc)}")
    return StoreRejected(f"Postgres refused the rows: {_short(exc)}")


def _first_line(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None) or exc
    return _short(orig)


def _short(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:500] if lines else type(exc).__name__


def encode_article(item: ScoredArticle, model_version: str, position: int) -> EncodedArticle:
    """The COPY line of one article and its prediction (``monitor.stream.storage.STAGE_COLUMNS``).

    A value that cannot be sent (a lone surrogate, NaN or a set in ``extra``, nesting deeper than the
    encoder's recursion limit) raises :class:`StoreRejected` here, for this row alone.
    """
    m, p = item.message, item.prediction
    received = item.received_at
    try:
        fields = (
            str(position), copy_text(m.external_id), copy_text(m.source), copy_text(m.title), copy_text(m.text),
            copy_text(m.url), copy_text(m.lang), copy_json(m.tickers), copy_json(m.extra or None),
            copy_time(m.published_at), copy_time(received), copy_time(m.published_at or received),
            copy_text(item.topic), str(item.partition), str(item.offset),
            copy_text(model_version), copy_text(p.topic), copy_float(p.topic_confidence), copy_text(p.sentiment),
            copy_float(p.sentiment_confidence), copy_float(p.p_negative), copy_float(p.p_neutral),
            copy_float(p.p_positive),
        )  # fmt: skip
        return EncodedArticle(item.coordinates, copy_line(fields))
    except Exception as exc:  # noqa: BLE001 - any failure to adapt a value is the row's fault
        raise StoreRejected(f"the row cannot be sent to Postgres ({type(exc).__name__}: {_short(exc)})") from exc
