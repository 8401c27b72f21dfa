"""The message contract: turn the bytes of one Kafka message into a ``NewsMessage`` or say why not."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from monitor.stream.errors import InvalidMessage


class Reason(StrEnum):
    """Why a message went to the dead-letter topic (the ``dlq.reason`` header)."""

    MESSAGE_TOO_LARGE = "message_too_large"
    INVALID_UTF8 = "invalid_utf8"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    NO_TEXT = "no_text"
    TEXT_TOO_LONG = "text_too_long"
    BAD_TIMESTAMP = "bad_timestamp"
    BAD_FIELD_TYPE = "bad_field_type"
    FIELD_TOO_LONG = "field_too_long"
    NUL_CHARACTER = "nul_character"
    TOO_DEEP = "too_deep"
    LONE_SURROGATE = "lone_surrogate"
    BAD_NUMBER = "bad_number"
    TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
    INVALID_MESSAGE = "invalid_message"
    INFERENCE_FAILED = "inference_failed"
    STORE_REJECTED = "store_rejected"


KNOWN_FIELDS = frozenset({"text", "title", "body", "id", "source", "url", "published_at", "tickers", "lang"})

# Column widths of `articles`; longer values would make Postgres refuse the whole batch.
MAX_FIELD_CHARS = {"id": 512, "source": 256, "lang": 16}


# A JSON string escape that can only decode to a surrogate code point (paired or not).
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
SURROGATE_CHAR = re.compile("[\ud800-\udfff]")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class MessageLimits:
    max_message_bytes: int = 65536
    max_text_chars: int = 20000
    max_json_depth: int = 64
    earliest_published_at: datetime = EPOCH
    max_future_skew: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class NewsMessage:
    """A valid news message; ``text`` is exactly what the model classifies and what is stored."""

    text: str
    title: str | None = None
    external_id: str | None = None
    source: str | None = None
    url: str | None = None
    lang: str | None = None
    tickers: list[str] | None = None
    published_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def parse_message(value: bytes | None, limits: MessageLimits) -> NewsMessage:
    """Validate one message value; raises :class:`InvalidMessage` with a :class:`Reason`."""
    fields = decode_object(value, limits)  # freshly parsed and ours: popped in place, no copy
    text, title = _text_of(fields, limits)
    return NewsMessage(
        text=text,
        title=title,
        external_id=_identifier(fields.pop("id", None)),
        source=_short_string(fields, "source"),
        url=_optional_string(fields.pop("url", None), "url"),
        lang=_short_string(fields, "lang"),
        tickers=_tickers(fields.pop("tickers", None)),
        published_at=_plausible(parse_timestamp(fields.pop("published_at", None)), limits),
        extra=fields,
    )


def decode_object(value: bytes | None, limits: MessageLimits) -> dict[str, Any]:
    """The bytes of one Kafka message as a JSON object any consumer can trust (size, UTF-8, depth, U+0000,
    lone surrogates, finite numbers checked); raises :class:`InvalidMessage` with a :class:`Reason`."""
    if value is None:
        raise InvalidMessage(Reason.NOT_JSON, "the message has no value (tombstone)")
    if len(value) > limits.max_message_bytes:
        raise InvalidMessage(Reason.MESSAGE_TOO_LARGE, f"{len(value)} bytes > {limits.max_message_bytes}")
    try:
        raw = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidMessage(Reason.INVALID_UTF8, str(exc)) from None
    try:
        data = _DECODER.decode(raw)
    except RecursionError:
        raise InvalidMessage(Reason.TOO_DEEP, f"nested deeper than {limits.max_json_depth} levels") from None
    except ValueError as exc:
        raise InvalidMessage(Reason.NOT_JSON, str(exc)) from None
    if not isinstance(data, dict):
        raise InvalidMessage(Reason.NOT_OBJECT, f"got a JSON {type(data).__name__}, expected an object")
    _inspect(data, raw, limits)
    return data


def _reject_constant(name: str) -> float:
    raise InvalidMessage(Reason.BAD_NUMBER, f"{name} is not a JSON number and Postgres jsonb cannot store it")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):
        raise InvalidMessage(Reason.BAD_NUMBER, f"{literal[:40]} is out of the range of a double")
    return value


# One decoder for every message: json.loads with hooks builds a new one per call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def _inspect(data: dict[str, Any], raw: str, limits: MessageLimits) -> None:
    """Depth, U+0000 and lone surrogates, in one iterative walk (recursion is what deep input attacks).

    Each check only runs when the raw text could trigger it, so a plain message costs three scans in C.
    Depth matters beyond parsing: psycopg's jsonb encoder and the detector recurse too.
    """
    deep = raw.count("[") + raw.count("{") > limits.max_json_depth
    nul = "\\u0000" in raw  # Postgres text and jsonb cannot hold U+0000
    surrogate = SURROGATE_ESCAPE.search(raw) is not None  # valid UTF-8 input can only get one via an escape
    if not (deep or nul or surrogate):
        return
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_string(value, nul, surrogate)
        elif isinstance(value, dict | list):
            if depth > limits.max_json_depth:
                raise InvalidMessage(Reason.TOO_DEEP, f"nested deeper than {limits.max_json_depth} levels")
            items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
            for key, item in items:
                if key is not None:
                    _check_string(key, nul, surrogate)
                stack.append((item, depth + 1))


def _check_string(value: str, nul: bool, surrogate: bool) -> None:
    if nul and "\x00" in value:
        raise InvalidMessage(Reason.NUL_CHARACTER, "a string contains U+0000, which Postgres cannot store")
    if surrogate and SURROGATE_CHAR.search(value):
        # Rejected, not repaired: any replacement would store a text the producer never sent.
        raise InvalidMessage(Reason.LONE_SURROGATE, "a string contains a lone UTF-16 surrogate (\\ud800-\\udfff)")


def _text_of(fields: dict[str, Any], limits: MessageLimits) -> tuple[str, str | None]:
    """``text`` wins; else ``title`` and ``body`` joined by a blank line (either alone is enough)."""
    text = _optional_string(fields.pop("text", None), "text")
    title = _optional_string(fields.pop("title", None), "title")
    if text is None or not text.strip():
        body = _optional_string(fields.pop("body", None), "body")
        text = "\n\n".join(part for part in (title, body) if part and part.strip())
    if not text.strip():
        raise InvalidMessage(Reason.NO_TEXT, "needs a non-empty `text`, or `title` and `body`")
    if len(text) > limits.max_text_chars:
        raise InvalidMessage(Reason.TEXT_TOO_LONG, f"{len(text)} characters > {limits.max_text_chars}")
    return text, title


def _optional_string(value: Any, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InvalidMessage(Reason.BAD_FIELD_TYPE, f"`{name}` must be a string, got {type(value).__name__}")


def _short_string(fields: dict[str, Any], name: str) -> str | None:
    value = _optional_string(fields.pop(name, None), name)
    return _check_width(value, name)


def _check_width(value: str | None, name: str) -> str | None:
    if value is not None and len(value) > MAX_FIELD_CHARS[name]:
        limit = MAX_FIELD_CHARS[name]
        raise InvalidMessage(Reason.FIELD_TOO_LONG, f"`{name}` is longer than {limit} characters")
    return value


def _identifier(value: Any) -> str | None:
    """Producers send ids as strings or integers; both are stored as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    value = _optional_string(value, "id")
    return _check_width(value, "id") if value else None


def _tickers(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        return value
    raise InvalidMessage(Reason.BAD_FIELD_TYPE, "`tickers` must be a list of strings")


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 string as an aware datetime; a timestamp without an offset is taken as UTC."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidMessage(Reason.BAD_TIMESTAMP, f"`published_at` must be an ISO 8601 string: {value!r}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidMessage(Reason.BAD_TIMESTAMP, f"`published_at` not ISO 8601: {value[:64]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _plausible(published: datetime | None, limits: MessageLimits) -> datetime | None:
    """In UTC, and between ``earliest_published_at`` and now + ``max_future_skew``.

    Python's datetime tops out at year 9999 in local time, so ``9999-12-31T23:59:59-14:00`` only
    overflows once converted; such values would break every event-time query downstream.
    """
    if published is None:
        return None
    try:
        utc = published.astimezone(UTC)
        latest = datetime.now(UTC) + limits.max_future_skew
    except OverflowError:
        utc, latest = None, None
    if utc is None or latest is None or not limits.earliest_published_at <= utc <= latest:
        raise InvalidMessage(
            Reason.TIMESTAMP_OUT_OF_RANGE,
            f"`published_at` {published.isoformat()} is not between {limits.earliest_published_at:%Y-%m-%d} "
            f"and {limits.max_future_skew} from now",
        )
    return utc
