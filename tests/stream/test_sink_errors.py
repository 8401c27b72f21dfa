"""Every exception the store path can raise is a refused row (isolated, dead-lettered) or backpressure.

The messages here bypass validation on purpose: the sink is the second line of defence.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError, StatementError

from monitor.stream.errors import Backpressure, StoreRejected
from monitor.stream.isolation import run_isolating
from monitor.stream.message import NewsMessage
from monitor.stream.sink import PostgresSink, ScoredArticle, classify_store_error, encode_article
from monitor.stream.storage import copy_float

from .fakes import fake_prediction

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def deep_list(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


POISON = {
    "surrogate in source": NewsMessage(text="a", source="wire\ud800"),
    "surrogate in title": NewsMessage(text="a", title="t\udfff"),
    "surrogate in id": NewsMessage(text="a", external_id="id-\ud83d"),
    "surrogate in text": NewsMessage(text="text \udc80"),
    "surrogate in an extra key": NewsMessage(text="a", extra={"k\ud800": 1}),
    "surrogate in tickers": NewsMessage(text="a", tickers=["A\ud800"]),
    "jsonb nested 5000 deep": NewsMessage(text="a", extra={"x": deep_list(5000)}),
    "NaN in jsonb": NewsMessage(text="a", extra={"x": float("nan")}),
    "not JSON-serialisable extra": NewsMessage(text="a", extra={"x": {1, 2}}),
    "NUL in text": NewsMessage(text="a\x00b"),
    "id wider than the column": NewsMessage(text="a", external_id="x" * 600),
}


def item(offset: int, message: NewsMessage) -> ScoredArticle:
    return ScoredArticle("news", 0, offset, message, fake_prediction(f"text {offset}"), T0)


@pytest.mark.parametrize("name", list(POISON))
def test_a_poison_row_is_store_rejected_and_the_rest_of_the_batch_is_stored(
    name: str, session_factory, clean_db: Engine
) -> None:
    sink = PostgresSink(session_factory)
    batch = [item(i, NewsMessage(text=f"fine {i}")) for i in range(5)]
    batch.insert(2, item(99, POISON[name]))
    result = run_isolating(batch, lambda items: sink.write(items, "v1"), isolate=(StoreRejected,))
    assert [i.offset for i, _ in result.failed] == [99]
    assert sorted(i.offset for i, new in result.ok if new) == [0, 1, 2, 3, 4]
    with clean_db.connect() as conn:
        assert conn.execute(text("select count(*) from articles")).scalar_one() == 5
        assert conn.execute(text("select count(*) from predictions")).scalar_one() == 5


def test_the_failed_transaction_leaves_the_session_usable(session_factory) -> None:
    sink = PostgresSink(session_factory)
    for _ in range(3):
        with pytest.raises(StoreRejected):
            sink.write([item(1, POISON["surrogate in source"])], "v1")
    assert sink.write([item(2, NewsMessage(text="fine"))], "v1") == [True]


def test_a_canary_write_leaves_nothing_behind(session_factory, clean_db: Engine) -> None:
    assert PostgresSink(session_factory).accepts_known_good()
    with clean_db.connect() as conn:
        assert conn.execute(text("select count(*) from articles")).scalar_one() == 0


class _Orig(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (OperationalError("select", {}, _Orig("server closed the connection")), Backpressure),
        (ProgrammingError("insert", {}, _Orig("relation \"articles\" does not exist")), StoreRejected),
        (StatementError("bind failed", "insert", {}, UnicodeEncodeError("utf-8", "\ud800", 0, 1, "x")), StoreRejected),
    ],
)
def test_classification(exc: Exception, kind: type) -> None:
    assert isinstance(classify_store_error(exc), kind)


UNSENDABLE = [name for name in POISON if name.startswith("surrogate")] + [
    "jsonb nested 5000 deep",
    "NaN in jsonb",
    "not JSON-serialisable extra",
]


@pytest.mark.parametrize("name", UNSENDABLE)
def test_a_row_the_driver_cannot_adapt_is_refused_before_any_transaction(name: str) -> None:
    """Rows are formatted on the consumer thread: these never reach Postgres (NUL and widths are its call)."""
    with pytest.raises(StoreRejected):
        encode_article(item(99, POISON[name]), "v1", 0)
    encode_article(item(98, NewsMessage(text="fine")), "v1", 0)


def test_numpy_probabilities_are_sent_as_plain_numbers() -> None:
    assert [copy_float(v) for v in (np.float32(0.5), np.float64(0.1), 0.25)] == ["0.5", "0.1", "0.25"]
