"""Turn one raw label record (a file row or a Kafka event) into a :class:`NewLabel`, or say why not."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitor.errors import MonitorError
from monitor.learning.labels import NewLabel
from monitor.model.labels import normalize_sentiment, normalize_topic


class BadLabel(MonitorError):
    """A label record that cannot be stored; the message is the reason shown to the user."""


def _optional_str(record: Mapping[str, Any], field: str) -> str | None:
    value = record.get(field)
    if value is None:
        return None
    if not isinstance(value, str | int):
        raise BadLabel(f"{field} must be a string, got {type(value).__name__}")
    return str(value).strip() or None


def _article_id(record: Mapping[str, Any]) -> int | None:
    value = record.get("article_id")
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not str(value).strip().isdigit():
        raise BadLabel(f"article_id must be a positive integer, got {value!r}")
    return int(str(value).strip())


def _normalized(value: str | None, normalize: Any) -> str | None:
    if value is None:
        return None
    try:
        return normalize(value)
    except ValueError as exc:
        raise BadLabel(str(exc)) from None


def parse_label_record(
    record: Mapping[str, Any], *, origin: str, max_text_chars: int, default_author: str | None = None
) -> NewLabel:
    """Validate and normalize one record with ``text`` and ``topic`` and/or ``sentiment``."""
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BadLabel("text is missing or empty")
    if len(text) > max_text_chars:
        raise BadLabel(f"text has {len(text)} characters, more than the limit of {max_text_chars}")
    topic = _normalized(_optional_str(record, "topic"), normalize_topic)
    sentiment = _normalized(_optional_str(record, "sentiment"), normalize_sentiment)
    if topic is None and sentiment is None:
        raise BadLabel("neither topic nor sentiment is given")
    author = _optional_str(record, "author") or default_author
    return NewLabel(
        text=text.strip(), topic=topic, sentiment=sentiment, origin=origin,
        article_id=_article_id(record), author=author[:128] if author else None,
    )
