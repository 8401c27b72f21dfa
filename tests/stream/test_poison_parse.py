"""Poison bytes at the parsing edge: each is dead-lettered with its own reason, nothing else escapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from monitor.stream.errors import InvalidMessage
from monitor.stream.message import MessageLimits, Reason, parse_message
from monitor.stream.triage import triage

from .fakes import records

LIMITS = MessageLimits(max_message_bytes=200_000, max_text_chars=500, max_json_depth=64)


def reason_of(raw: bytes, limits: MessageLimits = LIMITS) -> str:
    with pytest.raises(InvalidMessage) as info:
        parse_message(raw, limits)
    return info.value.reason


def nested(depth: int) -> bytes:
    return b'{"text": "deep", "x": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("depth", [65, 970, 5000, 60_000])
def test_nesting_deeper_than_the_limit_is_its_own_reason(depth: int) -> None:
    assert reason_of(nested(depth)) == Reason.TOO_DEEP


def test_nesting_at_the_limit_is_accepted() -> None:
    # The message object itself is one level, so 63 more brackets reach 64.
    assert parse_message(nested(63), LIMITS).extra["x"] is not None


def test_deep_objects_count_like_arrays() -> None:
    raw = b'{"text": "a", "x": ' + b'{"k": ' * 100 + b"1" + b"}" * 100 + b"}"
    assert reason_of(raw) == Reason.TOO_DEEP


@pytest.mark.parametrize("field", ["text", "title", "id", "source", "url", "lang", "desk"])
def test_a_lone_surrogate_in_any_field_is_rejected(field: str) -> None:
    message = {"text": "Fed holds rates", field: "bad \\ud800 here"}
    raw = json.dumps(message).replace("\\\\ud800", "\\ud800").encode()
    assert reason_of(raw) == Reason.LONE_SURROGATE


@pytest.mark.parametrize(
    "raw",
    [
        b'{"text": "ok", "tickers": ["A\\udfff"]}',
        b'{"text": "ok", "meta": {"\\uD83D": 1}}',
        b'{"text": "ok", "meta": [[{"k": "\\udc80"}]]}',
        b'{"text": "ok \\uDBFF"}',
    ],
)
def test_lone_surrogates_in_keys_lists_and_uppercase_escapes_are_rejected(raw: bytes) -> None:
    assert reason_of(raw) == Reason.LONE_SURROGATE


def test_a_surrogate_pair_escape_is_a_valid_character() -> None:
    assert parse_message(b'{"text": "rocket \\ud83d\\ude80"}', LIMITS).text == "rocket \U0001f680"


def test_surrogate_bytes_from_a_surrogatepass_producer_are_invalid_utf8() -> None:
    raw = '{"text": "x\ud800"}'.encode("utf-8", "surrogatepass")
    assert reason_of(raw) == Reason.INVALID_UTF8


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e999"])
def test_numbers_postgres_jsonb_cannot_hold_are_rejected(number: bytes) -> None:
    assert reason_of(b'{"text": "ok", "x": ' + number + b"}") == Reason.BAD_NUMBER


def test_huge_integers_are_not_json_and_tiny_floats_are_fine() -> None:
    assert reason_of(b'{"text": "ok", "x": ' + b"9" * 5000 + b"}") == Reason.NOT_JSON
    assert parse_message(b'{"text": "ok", "x": 1e-400, "y": 12345678901234567890}', LIMITS).extra["y"] > 0


@pytest.mark.parametrize(
    "stamp",
    [
        "9999-12-31T23:59:59-14:00",  # year 10000 in UTC
        "0001-01-01T00:00:00+14:00",  # year 0 in UTC
        "9999-12-31T23:59:59",
        "0001-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "2999-01-01T00:00:00Z",
    ],
)
def test_implausible_timestamps_have_their_own_reason(stamp: str) -> None:
    raw = json.dumps({"text": "ok", "published_at": stamp}).encode()
    assert reason_of(raw) == Reason.TIMESTAMP_OUT_OF_RANGE


def test_future_skew_is_a_limit_and_the_epoch_is_fine() -> None:
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    later = (datetime.now(UTC) + timedelta(hours=48)).isoformat()
    limits = MessageLimits(max_future_skew=timedelta(hours=24))
    assert parse_message(json.dumps({"text": "a", "published_at": soon}).encode(), limits).published_at
    assert parse_message(json.dumps({"text": "a", "published_at": "1970-01-01T00:00:00Z"}).encode(), limits)
    assert reason_of(json.dumps({"text": "a", "published_at": later}).encode(), limits) == (
        Reason.TIMESTAMP_OUT_OF_RANGE
    )


def test_unexpected_exceptions_in_validation_become_dead_letters(monkeypatch: pytest.MonkeyPatch) -> None:
    """The last-resort catch: a validator bug dead-letters the message, it never stops the batch."""
    import monitor.stream.triage as triage_module

    def broken(value: bytes | None, limits: MessageLimits) -> None:
        if value == b"boom":
            raise KeyError("a bug in validation")
        return parse_message(value, limits)

    monkeypatch.setattr(triage_module, "parse_message", broken)
    batch = records([b'{"text": "fine"}', b"boom", b'{"text": "also fine"}'])
    valid, letters = triage(batch, LIMITS)
    assert [m.text for _, m in valid] == ["fine", "also fine"]
    assert [(d.record.offset, d.reason, d.error_class) for d in letters] == [(1, Reason.INVALID_MESSAGE, "KeyError")]


def test_recursion_error_never_escapes_triage() -> None:
    batch = records([nested(100_000), b'{"text": "fine"}'])
    valid, letters = triage(batch, MessageLimits(max_message_bytes=1_000_000))
    assert [m.text for _, m in valid] == ["fine"]
    assert [d.reason for d in letters] == [Reason.TOO_DEEP]
