"""The message contract: what is accepted, what is dead-lettered and with which reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from monitor.stream.errors import InvalidMessage
from monitor.stream.message import MessageLimits, Reason, parse_message

LIMITS = MessageLimits(max_message_bytes=2000, max_text_chars=500)


def parse(value: object) -> object:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return parse_message(raw, LIMITS)


def reason_of(value: object) -> str:
    with pytest.raises(InvalidMessage) as info:
        parse(value)
    return info.value.reason


def test_full_message_keeps_every_field_and_the_unknown_ones() -> None:
    msg = parse(
        {
            "id": 42,
            "text": "Fed holds rates",
            "source": "wire",
            "url": "https://x/1",
            "lang": "en",
            "tickers": ["SPY"],
            "published_at": "2024-03-01T12:30:00+01:00",
            "desk": "macro",
            "score": 3,
        }
    )
    assert msg.text == "Fed holds rates"
    assert msg.external_id == "42"
    assert (msg.source, msg.url, msg.lang, msg.tickers) == ("wire", "https://x/1", "en", ["SPY"])
    assert msg.published_at == datetime(2024, 3, 1, 11, 30, tzinfo=UTC)
    assert msg.extra == {"desk": "macro", "score": 3}


def test_title_and_body_make_the_text() -> None:
    msg = parse({"title": "Oil jumps", "body": "Brent rose 4% on supply cuts."})
    assert msg.text == "Oil jumps\n\nBrent rose 4% on supply cuts."
    assert msg.title == "Oil jumps"
    assert msg.extra == {}


def test_body_is_kept_as_extra_when_text_is_given() -> None:
    msg = parse({"text": "short", "body": "long version"})
    assert msg.text == "short"
    assert msg.extra == {"body": "long version"}


def test_timestamp_without_offset_is_utc_and_z_suffix_is_accepted() -> None:
    assert parse({"text": "a", "published_at": "2020-04-09 00:00:03"}).published_at == datetime(
        2020, 4, 9, 0, 0, 3, tzinfo=UTC
    )
    assert parse({"text": "a", "published_at": "2020-04-09T00:00:03Z"}).published_at.tzinfo is not None


def test_null_optional_fields_count_as_absent() -> None:
    msg = parse({"text": "a", "id": None, "tickers": None, "published_at": None})
    assert (msg.external_id, msg.tickers, msg.published_at) == (None, None, None)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff\xfe not utf-8", Reason.INVALID_UTF8),
        (b"{not json", Reason.NOT_JSON),
        (b"", Reason.NOT_JSON),
        ([{"text": "in an array"}], Reason.NOT_OBJECT),
        ("just a string", Reason.NOT_OBJECT),
        ({"text": ""}, Reason.NO_TEXT),
        ({"text": "   \n"}, Reason.NO_TEXT),
        ({"source": "wire"}, Reason.NO_TEXT),
        ({"text": "x" * 501}, Reason.TEXT_TOO_LONG),
        ({"text": "x" * 2100}, Reason.MESSAGE_TOO_LARGE),
        ({"text": "a", "published_at": "yesterday"}, Reason.BAD_TIMESTAMP),
        ({"text": "a", "published_at": 1712620800}, Reason.BAD_TIMESTAMP),
        ({"text": 12}, Reason.BAD_FIELD_TYPE),
        ({"text": "a", "tickers": "SPY"}, Reason.BAD_FIELD_TYPE),
        ({"text": "a", "tickers": [1, 2]}, Reason.BAD_FIELD_TYPE),
        ({"text": "a", "id": {"x": 1}}, Reason.BAD_FIELD_TYPE),
        ({"text": "a", "id": True}, Reason.BAD_FIELD_TYPE),
        ({"text": "a", "lang": "x" * 17}, Reason.FIELD_TOO_LONG),
        ({"text": "a\u0000b"}, Reason.NUL_CHARACTER),
        ({"text": "a", "meta": {"k": ["\u0000"]}}, Reason.NUL_CHARACTER),
    ],
)
def test_invalid_messages_name_their_reason(value: object, reason: Reason) -> None:
    assert reason_of(value) == reason


def test_tombstone_is_invalid() -> None:
    with pytest.raises(InvalidMessage) as info:
        parse_message(None, LIMITS)
    assert info.value.reason == Reason.NOT_JSON


def test_escaped_backslash_before_u0000_is_not_a_nul() -> None:
    assert parse({"text": "path C:\\u0000"}).text == "path C:\\u0000"
