"""Bulk, idempotent inserts of articles and their predictions (the caller owns the transaction).

Rows are streamed with ``COPY`` into a temporary staging table and moved into the real table by one
``DELETE … RETURNING`` / ``INSERT … SELECT … ON CONFLICT DO NOTHING`` statement, which empties the
stage as it reads it. The stage lives as long as the connection (``ON COMMIT DELETE ROWS``): creating
and dropping it in every transaction cost about as much as the batch's commit.
That is several times faster than a multi-row ``VALUES`` statement, whose thousands of placeholders
psycopg re-parses on every batch, and it keeps every guarantee of the plain insert: same
transaction, same unique keys, same ``RETURNING``.

The staging columns are untyped text (numbers aside): conversions and constraint checks (JSON,
timestamps, column lengths) happen in the ``INSERT``, so a row Postgres refuses raises there, as a
SQLAlchemy ``DataError`` / ``IntegrityError`` the sink isolates like any other refused row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

import psycopg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

Coordinates = tuple[str, int, int]
"""Kafka topic, partition and offset of one message."""

ARTICLE_STAGE = """
create temp table if not exists article_stage (
    ord integer, external_id text, source text, title text, text text, url text, lang text,
    tickers text, extra text, published_at text, received_at text, event_time text,
    kafka_topic text, kafka_partition integer, kafka_offset bigint
) on commit delete rows
"""
ARTICLE_COLUMNS = (
    "external_id",
    "source",
    "title",
    "text",
    "url",
    "lang",
    "tickers",
    "extra",
    "published_at",
    "received_at",
    "event_time",
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
)
JSON_COLUMNS = frozenset({"tickers", "extra"})
_ARTICLE_VALUES = itemgetter(*ARTICLE_COLUMNS)
_JSON_POSITIONS = [1 + ARTICLE_COLUMNS.index(c) for c in sorted(JSON_COLUMNS)]
# ORDER BY ord: of two rows with the same producer id in one batch, the first one in Kafka order is
# stored and the second is a duplicate, as with the plain multi-row insert.
ARTICLE_INSERT = """
with staged as (delete from article_stage returning *)
insert into articles (external_id, source, title, text, url, lang, tickers, extra, published_at,
                      received_at, event_time, kafka_topic, kafka_partition, kafka_offset)
select external_id, source, title, text, url, lang, tickers::jsonb, extra::jsonb,
       published_at::timestamptz, received_at::timestamptz, event_time::timestamptz,
       kafka_topic, kafka_partition, kafka_offset
from staged order by ord
on conflict do nothing
returning id, kafka_topic, kafka_partition, kafka_offset
"""

PREDICTION_STAGE = """
create temp table if not exists prediction_stage (
    article_id bigint, model_version text, topic text, topic_confidence float8, sentiment text,
    sentiment_confidence float8, p_negative float8, p_neutral float8, p_positive float8
) on commit delete rows
"""
PREDICTION_COLUMNS = (
    "article_id",
    "model_version",
    "topic",
    "topic_confidence",
    "sentiment",
    "sentiment_confidence",
    "p_negative",
    "p_neutral",
    "p_positive",
)
PREDICTION_INSERT = f"""
with staged as (delete from prediction_stage returning *)
insert into predictions ({", ".join(PREDICTION_COLUMNS)})
select {", ".join(PREDICTION_COLUMNS)} from staged
on conflict do nothing
"""


def insert_articles(rows: Sequence[dict[str, Any]], *, session: Session) -> dict[Coordinates, int]:
    """Insert the rows that are new; returns the new ids keyed by Kafka coordinates.

    ``ON CONFLICT DO NOTHING`` without a target covers both unique keys: a row whose producer id or
    whose topic/partition/offset is already stored (or appears earlier in the same batch) is skipped.
    """
    if not rows:
        return {}
    staged = (_article_record(i, row) for i, row in enumerate(rows))
    _stage(session, ARTICLE_STAGE, "article_stage", ("ord", *ARTICLE_COLUMNS), staged)
    result = session.connection().exec_driver_sql(ARTICLE_INSERT)
    return {(topic, partition, offset): id_ for id_, topic, partition, offset in result}


def insert_predictions(rows: Sequence[dict[str, Any]], *, session: Session) -> None:
    """Insert predictions; one per article and model version, so a retry never doubles them."""
    if not rows:
        return
    staged = map(itemgetter(*PREDICTION_COLUMNS), rows)
    _stage(session, PREDICTION_STAGE, "prediction_stage", PREDICTION_COLUMNS, staged)
    session.connection().exec_driver_sql(PREDICTION_INSERT)


def _article_record(ord_: int, row: dict[str, Any]) -> list[Any]:
    record = [ord_, *_ARTICLE_VALUES(row)]
    for i in _JSON_POSITIONS:
        record[i] = _json(record[i])
    return record


_JSON = json.JSONEncoder(ensure_ascii=False)  # json.dumps with options builds a new encoder per call


def _json(value: Any) -> str | None:
    # None is SQL NULL, never the JSON literal 'null' (what the ORM's none_as_null did before).
    return None if value is None else _JSON.encode(value)


def _stage(
    session: Session, create: str, table: str, columns: Sequence[str], records: Iterable[Sequence[Any]]
) -> None:
    """Create the staging table if this connection has none yet, and COPY ``records`` into it."""
    connection = session.connection()
    connection.exec_driver_sql(create)
    statement = f"copy {table} ({', '.join(columns)}) from stdin"
    cursor = connection.connection.driver_connection.cursor()
    with _as_sqlalchemy_errors(statement), cursor, cursor.copy(statement) as copy:
        for record in records:
            copy.write_row(record)


@contextmanager
def _as_sqlalchemy_errors(statement: str) -> Iterator[None]:
    """psycopg errors raised by COPY, wrapped the way SQLAlchemy wraps every other statement's errors,
    so callers keep classifying DataError / IntegrityError / OperationalError as before."""
    try:
        yield
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc
