"""Bulk, idempotent inserts of scored articles, predictions with them (the caller owns the transaction).

A batch is one ``COPY`` of pre-formatted lines into a temporary staging table and one statement that
moves it into ``articles`` (``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING``), inserts the
predictions of the rows that statement inserted, emptying the stage as it reads it, and moves each
partition's row in ``partition_progress`` forward. The lines are formatted beforehand (:func:`copy_line`
and the helpers beside it; on the consumer thread in the worker), so the transaction is database round
trips only. The stage lives as long as the connection (``ON COMMIT DELETE ROWS``): creating and dropping
it in every transaction cost about as much as the batch's commit.

That is several times faster than a multi-row ``VALUES`` statement, whose thousands of placeholders
psycopg re-parses on every batch, and it keeps every guarantee of the plain insert: same transaction,
same unique keys, same ``RETURNING``, predictions only for new rows.

The staging columns are untyped text (numbers aside): conversions and constraint checks (JSON,
timestamps, column lengths) happen in the ``INSERT``, so a row Postgres refuses raises there, as a
SQLAlchemy ``DataError`` / ``IntegrityError`` the sink isolates like any other refused row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

Coordinates = tuple[str, int, int]
"""Kafka topic, partition and offset of one message."""

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
PREDICTION_COLUMNS = (
    "model_version",
    "topic",
    "topic_confidence",
    "sentiment",
    "sentiment_confidence",
    "p_negative",
    "p_neutral",
    "p_positive",
)
STAGE_COLUMNS = ("ord", *ARTICLE_COLUMNS, *PREDICTION_COLUMNS)
"""What one line sent to :func:`insert_scored` holds, in this order: the batch position, the article, its prediction."""

STAGE = """
create temp table if not exists scored_stage (
    ord integer, external_id text, source text, title text, text text, url text, lang text,
    tickers text, extra text, published_at text, received_at text, event_time text,
    kafka_topic text, kafka_partition integer, kafka_offset bigint,
    model_version text, topic text, topic_confidence float8, sentiment text,
    sentiment_confidence float8, p_negative float8, p_neutral float8, p_positive float8
) on commit delete rows
"""
COPY = f"copy scored_stage ({', '.join(STAGE_COLUMNS)}) from stdin"
# The batch also moves its partitions' progress (newest event time and offset stored, when), duplicates included:
# the detector's watermark (monitor/alerts/watermark.py) reads it. ORDER BY takes the rows' locks in one order.
# ORDER BY ord: of two rows with the same producer id in one batch, the first one in Kafka order is
# stored and the second is a duplicate, as with the plain multi-row insert. The predictions' foreign
# key is checked at the end of the statement, when the articles it names are in.
INSERT = f"""
with staged as (delete from scored_stage returning *),
new as (
    insert into articles ({", ".join(ARTICLE_COLUMNS)})
    select external_id, source, title, text, url, lang, tickers::jsonb, extra::jsonb,
           published_at::timestamptz, received_at::timestamptz, event_time::timestamptz,
           kafka_topic, kafka_partition, kafka_offset
    from staged order by ord
    on conflict do nothing
    returning id, kafka_topic, kafka_partition, kafka_offset
),
predicted as (
    insert into predictions (article_id, {", ".join(PREDICTION_COLUMNS)})
    select new.id, {", ".join("s." + c for c in PREDICTION_COLUMNS)}
    from new join staged s using (kafka_topic, kafka_partition, kafka_offset)
    order by s.ord
    on conflict do nothing
),
progress as (
    insert into partition_progress (topic, partition, event_time, stored_offset, stored_at, advanced_at)
    select kafka_topic, kafka_partition, max(event_time::timestamptz), max(kafka_offset), now(), now()
    from staged group by kafka_topic, kafka_partition order by kafka_topic, kafka_partition
    on conflict (topic, partition) do update set
        event_time = greatest(partition_progress.event_time, excluded.event_time),
        stored_offset = greatest(partition_progress.stored_offset, excluded.stored_offset),
        stored_at = excluded.stored_at,
        advanced_at = case when partition_progress.event_time is null
                             or excluded.event_time > partition_progress.event_time
                           then excluded.advanced_at else partition_progress.advanced_at end
)
select id, kafka_topic, kafka_partition, kafka_offset from new
"""


def insert_scored(lines: Sequence[bytes], *, session: Session) -> dict[Coordinates, int]:
    """Insert the articles that are new, each with its prediction; returns new ids by Kafka coordinates.

    ``lines`` are :func:`copy_line` rows of :data:`STAGE_COLUMNS`. ``ON CONFLICT DO NOTHING`` without
    a target covers both unique keys: a row whose producer id or whose topic/partition/offset is already
    stored (or appears earlier in the same batch) is skipped, and so is its prediction.
    """
    if not lines:
        return {}
    connection = session.connection()
    connection.exec_driver_sql(STAGE)
    cursor = connection.connection.driver_connection.cursor()
    with _as_sqlalchemy_errors(COPY), cursor, cursor.copy(COPY) as copy:
        copy.write(b"".join(lines))
    result = connection.exec_driver_sql(INSERT)
    return {(topic, partition, offset): id_ for id_, topic, partition, offset in result}


# -- COPY text format -------------------------------------------------------------------------
# Each helper raises when a value cannot be sent (ValueError for NaN in JSON, TypeError, RecursionError);
# copy_line raises UnicodeEncodeError for a lone surrogate: the row's fault, isolated by the caller.

NULL = "\\N"

_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False)  # jsonb has no NaN: refused here, per row


def copy_line(fields: Sequence[str]) -> bytes:
    """One row in COPY's text format from fields the helpers below formatted: tab-separated, UTF-8."""
    return ("\t".join(fields) + "\n").encode("utf-8")


def copy_text(value: str | None) -> str:
    """A string with COPY's backslash escapes, or NULL."""
    if value is None:
        return NULL
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_json(value: Any) -> str:
    """A list or dict as JSON text for a jsonb column; None is SQL NULL, never the JSON literal null."""
    return NULL if value is None else copy_text(_JSON.encode(value))


def copy_time(value: datetime | None) -> str:
    return NULL if value is None else value.isoformat()


def copy_float(value: Any) -> str:
    """A float8 field from a float or a numpy scalar: the shortest form that reads back exactly."""
    return float.__repr__(float(value))


@contextmanager
def _as_sqlalchemy_errors(statement: str) -> Iterator[None]:
    """psycopg errors raised by COPY, wrapped the way SQLAlchemy wraps every other statement's errors,
    so callers keep classifying DataError / IntegrityError / OperationalError as before."""
    try:
        yield
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc
