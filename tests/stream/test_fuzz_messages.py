"""Property: whatever its bytes, a message is stored exactly once or dead-lettered with a reason.

Generated messages go through the real worker step (triage, inference isolation, the breaker's
checks, the real PostgresSink on a real Postgres, dead letters, the offset commit); only Kafka is
replaced by an in-memory consumer and producer. The default run uses a fast profile; the `slow`
one runs many more examples.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from monitor.stream.backoff import Backoff
from monitor.stream.batching import BatchPolicy, RecordBatch
from monitor.stream.deadletter import HEADER_PREFIX, DeadLetterQueue
from monitor.stream.errors import InvalidMessage
from monitor.stream.message import MessageLimits, parse_message
from monitor.stream.model_source import StaticModelSource
from monitor.stream.sink import PostgresSink
from monitor.stream.worker import StreamWorker

from .fakes import FakePredictor, FakeRecord

pytestmark = pytest.mark.integration

TOPIC = "fuzz"
LIMITS = MessageLimits(max_message_bytes=65536, max_text_chars=2000)
OFFSETS = itertools.count()

# -- generators -------------------------------------------------------------------------------

any_char = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
odd_char = st.sampled_from(["\x00", "\ud800", "\udfff", "\ud83d", "\u0301", "\u202e", "\x1b", "\x7f", "\ufeff", "\\"])
strings = st.one_of(st.text(any_char, max_size=40), st.lists(odd_char | any_char, max_size=10).map("".join))
numbers = st.one_of(
    st.integers(min_value=-(10**400), max_value=10**400),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e-320, 5e-324, 1.7976931348623157e308, -0.0]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, strings)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(strings, inner, max_size=4), max_leaves=25
)
odd_timestamps = st.sampled_from(
    [
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59.999999",
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:00:00Z",
        "2024-02-30T00:00:00Z",
        "2024-01-01T24:00:00",
        "2024-01-01T00:00:00+24:00",
        " 2024-01-01 ",
        "",
        "\u0660\u0662-01-01",
    ]
)
timestamps = st.one_of(
    st.datetimes(timezones=st.timezones() | st.just(UTC) | st.none()).map(datetime.isoformat),
    odd_timestamps,
    scalars,
)


def wrap(depth: int, value: Any) -> Any:
    for _ in range(depth):
        value = [value]
    return value


news_like = st.fixed_dictionaries(
    {},
    optional={
        "text": st.one_of(strings, st.text(min_size=1, max_size=200), json_values),
        "title": st.one_of(strings, json_values),
        "body": strings,
        "id": st.one_of(strings, numbers, json_values),
        "source": st.one_of(strings, st.text(min_size=250, max_size=300), json_values),
        "url": st.one_of(strings, json_values),
        "lang": st.one_of(strings, st.text(min_size=15, max_size=20)),
        "tickers": st.one_of(st.lists(strings, max_size=4), json_values),
        "published_at": timestamps,
        "extra": json_values,
        "deep": st.integers(min_value=0, max_value=900).map(lambda d: wrap(d, "x")),  # json.dumps recurses
    },
).flatmap(lambda d: st.dictionaries(strings, json_values, max_size=3).map(lambda more: {**more, **d}))


# Valid but odd: these reach the model and Postgres (control and combining characters, RTL marks,
# emoji, big and tiny numbers, unicode keys, nesting up to the limit, any time zone).
safe_char = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
safe_strings = st.text(safe_char, max_size=40)
safe_json = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**300), max_value=10**300),
        st.floats(allow_nan=False, allow_infinity=False),
        safe_strings,
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(safe_strings, inner, max_size=3),
    max_leaves=20,
)
plausible_news = st.fixed_dictionaries(
    {"text": st.text(safe_char, min_size=1, max_size=300).filter(str.strip)},
    optional={
        "id": safe_strings | st.integers(min_value=-(2**70), max_value=2**70),
        "title": safe_strings,
        "source": safe_strings,
        "url": safe_strings,
        "lang": st.text(safe_char, max_size=16),
        "tickers": st.lists(safe_strings, max_size=3),
        "published_at": st.datetimes(
            min_value=datetime(1970, 1, 2), max_value=datetime(2026, 1, 1), timezones=st.timezones() | st.none()
        ).map(datetime.isoformat)
        | odd_timestamps,
        "meta": safe_json,
        "deep": st.integers(min_value=0, max_value=62).map(lambda d: wrap(d, 1)),
    },
)


def encode(value: Any, ascii_only: bool) -> bytes:
    """Bytes a producer could send: surrogates as JSON escapes, or raw via ``surrogatepass``."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


messages = st.one_of(
    st.binary(max_size=200),
    st.tuples(json_values, st.booleans()).map(lambda t: encode(*t)),
    st.tuples(news_like, st.booleans()).map(lambda t: encode(*t)),
    st.tuples(plausible_news, st.booleans()).map(lambda t: encode(*t)),
    st.tuples(plausible_news, st.booleans()).map(lambda t: encode(*t)),
    st.integers(min_value=0, max_value=100_000).map(lambda d: b'{"text": "deep", "x": ' + b"[" * d + b"]" * d + b"}"),
    st.sampled_from(
        [b"", b"null", b"{}", b'{"text": "\\u0000"}', b'{"text": "a\\ud800"}', b'\xef\xbb\xbf{"text": "bom"}']
    ),
)

# -- in-memory Kafka --------------------------------------------------------------------------


class MemoryConsumer:
    def __init__(self) -> None:
        self.pending: list[FakeRecord] = []
        self.committed: dict[Any, int] = {}

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict:
        batch, self.pending = self.pending, []
        return {TOPIC: batch} if batch else {}

    def commit(self, offsets: dict) -> None:
        self.committed.update({tp: meta.offset for tp, meta in offsets.items()})

    def assignment(self) -> set:
        return set()


class _Sent:
    def get(self, timeout: float = 0) -> None:
        return None


class MemoryProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes | None, list[tuple[str, bytes]]]] = []

    def send(self, topic: str, key: Any = None, value: bytes | None = None, headers: Any = None) -> _Sent:
        assert all(isinstance(v, bytes) for _, v in headers)
        self.sent.append((value, headers))
        return _Sent()

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self, timeout: float | None = None) -> None:
        pass


# -- the property ----------------------------------------------------------------------------


def check(values: list[bytes], factory: sessionmaker[Session], engine: Engine) -> None:
    consumer, producer = MemoryConsumer(), MemoryProducer()
    worker = StreamWorker(
        consumer=consumer,
        topic=TOPIC,
        batch=RecordBatch(BatchPolicy(len(values), 60.0)),
        limits=LIMITS,
        models=StaticModelSource(FakePredictor()),
        sink=PostgresSink(factory),
        dead_letters=DeadLetterQueue(producer, f"{TOPIC}.dlq"),
        backoff=Backoff(0.01, 0.01),
    )
    records = [FakeRecord(TOPIC, 0, next(OFFSETS), v) for v in values]
    consumer.pending = list(records)
    worker.step()  # must not raise, whatever the bytes

    letters = {int(dict(h)[HEADER_PREFIX + "original.offset"]): dict(h) for _, h in producer.sent}
    assert all(h[HEADER_PREFIX + "reason"] for h in letters.values())
    stored = _stored(engine, [r.offset for r in records])
    for r in records:
        dead, kept = r.offset in letters, stored.get(r.offset, 0)
        assert kept in (0, 1), f"offset {r.offset} stored {kept} times"
        assert not (dead and kept), f"offset {r.offset} both stored and dead-lettered"
        if not dead and not kept:  # only a resent article (an id already stored) may be neither
            assert _already_stored(engine, r.value), f"offset {r.offset} lost: {r.value[:200]!r}"
    assert len(producer.sent) == len(letters), "a message was dead-lettered twice"
    for r in records:  # the mix of outcomes, shown by --hypothesis-show-statistics
        reason = letters[r.offset][HEADER_PREFIX + "reason"].decode() if r.offset in letters else None
        event(f"dead letter: {reason}" if reason else "stored or duplicate")
    assert list(consumer.committed.values()) == [records[-1].offset + 1]


def _stored(engine: Engine, offsets: list[int]) -> dict[int, int]:
    """Rows per offset, each checked for one prediction and a plausible event time."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "select a.kafka_offset, count(p.id), min(a.event_time) from articles a "
                "left join predictions p on p.article_id = a.id "
                "where a.kafka_topic = :t and a.kafka_offset = any(:o) group by a.id"
            ),
            {"t": TOPIC, "o": offsets},
        ).all()
    latest = datetime.now(UTC) + timedelta(days=2)
    for offset, predictions, event_time in rows:
        assert predictions == 1, f"offset {offset} has {predictions} predictions"
        assert datetime(1970, 1, 1, tzinfo=UTC) <= event_time <= latest, f"offset {offset}: {event_time}"
    counts: dict[int, int] = {}
    for offset, *_ in rows:
        counts[offset] = counts.get(offset, 0) + 1
    return counts


def _already_stored(engine: Engine, value: bytes | None) -> bool:
    try:
        external_id = parse_message(value, LIMITS).external_id
    except InvalidMessage:
        return False
    if external_id is None:
        return False
    with engine.connect() as conn:
        found = conn.execute(text("select count(*) from articles where external_id = :i"), {"i": external_id})
        return found.scalar() == 1


FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
BATCHES = st.lists(messages, min_size=1, max_size=6)


@settings(FUZZ, max_examples=150)
@given(values=BATCHES)
def test_any_bytes_end_stored_once_or_dead_lettered_fast(values: list[bytes], session_factory, clean_db) -> None:
    check(values, session_factory, clean_db)


@pytest.mark.slow
@settings(FUZZ, max_examples=3000)
@given(values=BATCHES)
def test_any_bytes_end_stored_once_or_dead_lettered_long(values: list[bytes], session_factory, clean_db) -> None:
    check(values, session_factory, clean_db)
