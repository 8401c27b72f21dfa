"""The message contract: turn the bytes of one Kafka message into a ``NewsMessage`` or say why not."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    INFERENCE_FAILED = "inference_failed"
    STORE_REJECTED = "store_rejected"


KNOWN_FIELDS = frozenset({"text", "title", "body", "id", "source", "url", "published_at", "tickers", "lang"})

# Column widths of `articles`; longer values would make Postgres refuse the whole batch.
MAX_FIELD_CHARS = {"id": 512, "source": 256, "lang": 16}


@dataclass(frozen=True)
class MessageLimits:
    max_message_bytes: int = 65536
    max_text_chars: int = 20000


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
    data = _decode(value, limits)
    fields = dict(data)
    text, title = _text_of(fields, limits)
    return NewsMessage(
        text=text,
        title=title,
        external_id=_identifier(fields.pop("id", None)),
        source=_short_string(fields, "source"),
        url=_optional_string(fields.pop("url", None), "url"),
        lang=_short_string(fields, "lang"),
        tickers=_tickers(fields.pop("tickers", None)),
        published_at=parse_timestamp(fields.pop("published_at", None)),
        extra=fields,
    )


def _decode(value: bytes | None, limits: MessageLimits) -> dict[str, Any]:
    if value is None:
        raise InvalidMessage(Reason.NOT_JSON, "the message has no value (tombstone)")
    if len(value) > limits.max_message_bytes:
        raise InvalidMessage(Reason.MESSAGE_TOO_LARGE, f"{len(value)} bytes > {limits.max_message_bytes}")
    try:
        raw = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidMessage(Reason.INVALID_UTF8, str(exc)) from None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise InvalidMessage(Reason.NOT_JSON, str(exc)) from None
    if not isinstance(data, dict):
        raise InvalidMessage(Reason.NOT_OBJECT, f"got a JSON {type(data).__name__}, expected an object")
    # Postgres text and jsonb cannot hold U+0000; only scan when an escape for it appears at all.
    if "\\u0000" in raw and _has_nul(data):
        raise InvalidMessage(Reason.NUL_CHARACTER, "a string contains U+0000, which Postgres cannot store")
    return data


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


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
