"""Bulk, idempotent inserts of articles and their predictions (the caller owns the transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.orm import Session

from monitor.store.orm import Article, Prediction

Coordinates = tuple[str, int, int]
"""Kafka topic, partition and offset of one message."""

ARTICLES = Article.__table__
# Bound with none_as_null so that a missing value is SQL NULL, not the JSON literal 'null'.
JSON_BINDS = {name: bindparam(name, type_=JSONB(none_as_null=True)) for name in ("tickers", "extra")}


def insert_articles(rows: Sequence[dict[str, Any]], *, session: Session) -> dict[Coordinates, int]:
    """Insert the rows that are new; returns the new ids keyed by Kafka coordinates.

    ``ON CONFLICT DO NOTHING`` without a target covers both unique keys: a row whose producer id or
    whose topic/partition/offset is already stored is skipped (a redelivery or a resent article).
    """
    if not rows:
        return {}
    c = ARTICLES.c
    stmt = (
        insert(ARTICLES)
        .values(JSON_BINDS)
        .on_conflict_do_nothing()
        .returning(c.id, c.kafka_topic, c.kafka_partition, c.kafka_offset)
    )
    result = session.execute(stmt, list(rows))
    new = {(topic, partition, offset): id_ for id_, topic, partition, offset in result}
    session.flush()
    return new


def insert_predictions(rows: Sequence[dict[str, Any]], *, session: Session) -> None:
    """Insert predictions; one per article and model version, so a retry never doubles them."""
    if rows:
        session.execute(insert(Prediction).on_conflict_do_nothing(), list(rows))
        session.flush()
