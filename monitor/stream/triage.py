"""Sort polled records into valid news messages and dead letters (the oks/errs split)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.stream.deadletter import DeadLetter
from monitor.stream.errors import InvalidMessage
from monitor.stream.message import MessageLimits, NewsMessage, parse_message


def triage(
    records: Sequence[Any], limits: MessageLimits
) -> tuple[list[tuple[Any, NewsMessage]], list[DeadLetter]]:
    valid: list[tuple[Any, NewsMessage]] = []
    letters: list[DeadLetter] = []
    for record in records:
        try:
            valid.append((record, parse_message(record.value, limits)))
        except InvalidMessage as exc:
            letters.append(DeadLetter(record, exc.reason, exc.detail, type(exc).__name__))
    return valid, letters


def dead_letter_for(record: Any, reason: str, exc: BaseException) -> DeadLetter:
    """A dead letter for a record that failed later than validation (inference, the store)."""
    return DeadLetter(record, reason, str(exc) or type(exc).__name__, type(exc).__name__)
