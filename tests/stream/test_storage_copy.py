"""The COPY store path against the multi-row INSERTs it replaced, on a real Postgres, row for row."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from monitor.model.prediction import TextPrediction
from monitor.store import transaction
from monitor.store.orm import Article, Prediction
from monitor.stream.errors import StoreRejected
from monitor.stream.message import NewsMessage
from monitor.stream.sink import PostgresSink, ScoredArticle
from monitor.stream.storage import copy_float, copy_json, copy_line, copy_text, copy_time, insert_scored

from .fakes import fake_prediction

pytestmark = pytest.mark.integration

ODD = "tab\there, newline\nthere, cr\r, backslash \\ and \\N, quote ' \" , comma, ünïcødé 📈, \\.\n"
T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


# -- the previous implementation, kept here only as the reference ------------------------------

JSON_BINDS = {name: bindparam(name, type_=JSONB(none_as_null=True)) for name in ("tickers", "extra")}


def reference_insert_articles(rows: Sequence[dict[str, Any]], *, session: Session) -> dict:
    if not rows:
        return {}
    c = Article.__table__.c
    stmt = (
        insert(Article.__table__)
        .values(JSON_BINDS)
        .on_conflict_do_nothing()
        .returning(c.id, c.kafka_topic, c.kafka_partition, c.kafka_offset)
    )
    new = {(t, p, o): id_ for id_, t, p, o in session.execute(stmt, list(rows))}
    session.flush()
    return new


def reference_insert_predictions(rows: Sequence[dict[str, Any]], *, session: Session) -> None:
    if rows:
        session.execute(insert(Prediction).on_conflict_do_nothing(), list(rows))
        session.flush()


def prediction_row(article_id: int, p: TextPrediction, model_version: str) -> dict[str, Any]:
    return {
        "article_id": article_id,
        "model_version": model_version,
        "topic": p.topic,
        "topic_confidence": p.topic_confidence,
        "sentiment": p.sentiment,
        "sentiment_confidence": p.sentiment_confidence,
        "p_negative": p.p_negative,
        "p_neutral": p.p_neutral,
        "p_positive": p.p_positive,
    }


def reference_store(rows: Sequence[dict[str, Any]], *, session: Session) -> dict:
    """Articles, then predictions for the ids that came back new."""
    new = reference_insert_articles(rows, session=session)
    by_coords = {(r["kafka_topic"], r["kafka_partition"], r["kafka_offset"]): r for r in rows}
    reference_insert_predictions(
        [prediction_row(id_, fake_prediction(by_coords[c]["text"]), "v1") for c, id_ in new.items()],
        session=session,
    )
    return new


# -- helpers ----------------------------------------------------------------------------------

def row(offset: int, external_id: str | None, text_: str = "shares rise", partition: int = 0, **extra: Any) -> dict:
    return {
        "external_id": external_id,
        "source": extra.pop("source", "wire"),
        "title": extra.pop("title", None),
        "text": text_,
        "url": extra.pop("url", None),
        "lang": extra.pop("lang", "en"),
        "tickers": extra.pop("tickers", None),
        "extra": extra.pop("extra", None),
        "published_at": extra.pop("published_at", None),
        "received_at": T0 + timedelta(seconds=offset),
        "event_time": extra.pop("event_time", T0),
        "kafka_topic": "news",
        "kafka_partition": partition,
        "kafka_offset": offset,
    }


SEED = [row(0, "a-0"), row(1, "a-1"), row(2, None)]


def mixed_batch() -> list[dict]:
    return [
        row(10, "new-1", ODD, title=ODD, url="https://x.test/a?b=1&c=\\d", tickers=["AAPL", "T\tAB"],
            extra={"nested": {"k": [1, 2.5, None, True]}, "odd": ODD}, published_at=T0 - timedelta(hours=3)),
        row(11, "a-0", "duplicate by producer id"),
        row(1, "other-id", "duplicate by coordinates"),
        row(12, "twice", "first of two with one id in the batch"),
        row(13, "twice", "second of two with one id in the batch"),
        row(14, None, "", title="", source=None, lang=None, tickers=[], extra={}),
        row(15, "tz", "other offset", published_at=datetime(2026, 3, 1, 12, tzinfo=timezone(timedelta(hours=5)))),
        row(0, "other-partition", "same offset, other partition", partition=1),
        row(16, None, "null json", extra={"v": None}, tickers=None),
    ]


def line(position: int, row: dict[str, Any]) -> bytes:
    """One staged line: the article's columns, then its prediction (every row has one; only new ones land)."""
    p, r = fake_prediction(row["text"]), row
    return copy_line((
        str(position), *map(copy_text, (r["external_id"], r["source"], r["title"], r["text"], r["url"], r["lang"])),
        copy_json(r["tickers"]), copy_json(r["extra"]),
        *map(copy_time, (r["published_at"], r["received_at"], r["event_time"])),
        copy_text(r["kafka_topic"]), str(r["kafka_partition"]), str(r["kafka_offset"]),
        copy_text("v1"), copy_text(p.topic), copy_float(p.topic_confidence), copy_text(p.sentiment),
        *map(copy_float, (p.sentiment_confidence, p.p_negative, p.p_neutral, p.p_positive)),
    ))


def copy_store(rows: Sequence[dict[str, Any]], *, session: Session) -> dict:
    return insert_scored([line(i, r) for i, r in enumerate(rows)], session=session)


def store(factory: sessionmaker[Session], rows: list[dict], write: Callable = copy_store) -> dict:
    with transaction(factory) as session:
        return write(rows, session=session)


def snapshot(engine: Engine, new: dict) -> tuple[list, list, dict]:
    with engine.connect() as conn:
        articles = conn.execute(
            text(
                "select id, external_id, source, title, text, url, lang, tickers, extra, published_at, "
                "received_at, event_time, kafka_topic, kafka_partition, kafka_offset from articles order by id"
            )
        ).all()
        predictions = conn.execute(
            text(
                "select article_id, model_version, topic, topic_confidence, sentiment, sentiment_confidence, "
                "p_negative, p_neutral, p_positive from predictions order by article_id"
            )
        ).all()
        coords = {
            (t, p, o): ext
            for t, p, o, ext in conn.execute(
                text("select kafka_topic, kafka_partition, kafka_offset, coalesce(external_id, '') from articles")
            )
        }
    # Ids mapped back to the right coordinates: check through the stored rows, not the raw numbers.
    mapped = {c: coords[c] for c in new}
    return [tuple(r) for r in articles], [tuple(r) for r in predictions], mapped


def run_both(clean: Callable[[], None], engine: Engine, factory, batches: list[list[dict]]) -> tuple:
    results = []
    for write in (reference_store, copy_store):
        clean()
        news = [store(factory, b, write) for b in batches]
        results.append((news, snapshot(engine, news[-1])))
    return results[0], results[1]


@pytest.fixture
def clean(clean_db: Engine) -> Callable[[], None]:
    def truncate() -> None:
        with clean_db.begin() as conn:
            conn.execute(text("truncate articles, predictions restart identity cascade"))

    return truncate


# -- tests ------------------------------------------------------------------------------------

def test_same_rows_as_the_multi_row_insert_on_a_mixed_batch(clean, clean_db, session_factory) -> None:
    reference, copied = run_both(clean, clean_db, session_factory, [SEED, mixed_batch()])
    (ref_new, ref_rows), (new, rows) = reference, copied
    assert rows == ref_rows
    assert [set(n) for n in new] == [set(n) for n in ref_new]
    articles, predictions, mapped = rows
    assert len(predictions) == len(articles) == len(SEED) + 6  # predictions only for new rows, one each
    assert mapped[("news", 0, 12)] == "twice" and ("news", 0, 13) not in mapped  # the first one wins
    assert ("news", 0, 11) not in mapped and ("news", 0, 1) not in new[-1]
    stored_odd = next(a for a in articles if a[1] == "new-1")
    assert stored_odd[3] == ODD and stored_odd[4] == ODD and stored_odd[8]["odd"] == ODD
    assert stored_odd[7] == ["AAPL", "T\tAB"]
    empty = next(a for a in articles if a[14] == 14)
    assert empty[1] is None and empty[2] is None and empty[3] == "" and empty[7] == [] and empty[8] == {}
    nulls = next(a for a in articles if a[14] == 16)
    assert nulls[7] is None and nulls[8] == {"v": None}


def test_a_redelivered_batch_adds_nothing(clean, clean_db, session_factory) -> None:
    batch = mixed_batch()
    assert store(session_factory, batch)
    before = snapshot(clean_db, {})
    assert store(session_factory, batch) == {}
    assert snapshot(clean_db, {})[:2] == before[:2]


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (row(20, "x" * 600, "producer id longer than the column"), DataError),
        (row(21, "long-lang", "language code longer than the column", lang="l" * 40), DataError),
        (row(22, "no-event-time", "event_time is required", event_time=None), IntegrityError),
    ],
)
def test_rows_postgres_refuses_raise_the_same_error_and_store_nothing(
    clean, clean_db, session_factory, bad, error
) -> None:
    for write in (reference_store, copy_store):
        clean()
        with pytest.raises(error):
            store(session_factory, [*mixed_batch(), bad], write)
        assert snapshot(clean_db, {})[:2] == ([], [])  # one transaction: all or nothing


def test_the_sink_isolates_a_refused_row_as_before(clean_db, session_factory) -> None:
    """A refused row still surfaces as StoreRejected, whichever statement (COPY or INSERT) refuses it."""
    sink = PostgresSink(session_factory)
    good = ScoredArticle("news", 0, 1, NewsMessage(text="fine"), fake_prediction("fine"), T0)
    too_long = ScoredArticle("news", 0, 2, NewsMessage(text="id", external_id="x" * 600), fake_prediction("x"), T0)
    with pytest.raises(StoreRejected):
        sink.write([good, too_long], "v1")
    assert sink.write([good], "v1") == [True]
    assert sink.write([good], "v1") == [False]


def test_an_error_inside_copy_is_a_sqlalchemy_data_error(session_factory) -> None:
    with pytest.raises(DataError), transaction(session_factory) as session:
        copy_store([row(30, "nul", "a NUL \x00 Postgres cannot store")], session=session)


def test_the_stage_is_empty_for_the_next_call_in_a_transaction_and_after_a_rollback(clean_db, session_factory) -> None:
    with pytest.raises(DataError), transaction(session_factory) as session:
        copy_store([row(40, "rolled-back"), row(41, "x" * 600)], session=session)
    with transaction(session_factory) as session:
        first = copy_store([row(42, "first")], session=session)
        second = copy_store([row(43, "second")], session=session)
    assert list(first) == [("news", 0, 42)] and list(second) == [("news", 0, 43)]
    with clean_db.connect() as conn:
        assert conn.execute(text("select external_id from articles order by id")).scalars().all() == [
            "first",
            "second",
        ]
