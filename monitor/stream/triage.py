"""Sort polled records into valid news messages and dead letters (the oks/errs split)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from monitor.stream.deadletter import DeadLetter
from monitor.stream.errors import InvalidMessage
from monitor.stream.message import MessageLimits, NewsMessage, Reason, parse_message

log = logging.getLogger(__name__)

T = TypeVar("T")


def triage(
    records: Sequence[Any], limits: MessageLimits
) -> tuple[list[tuple[Any, NewsMessage]], list[DeadLetter]]:
    return split_records(records, lambda value: parse_message(value, limits))


def split_records(
    records: Sequence[Any], parse: Callable[[bytes | None], T]
) -> tuple[list[tuple[Any, T]], list[DeadLetter]]:
    """Each record's value parsed, or a dead letter saying why not; no exception escapes."""
    valid: list[tuple[Any, T]] = []
    letters: list[DeadLetter] = []
    for record in records:
        try:
            valid.append((record, parse(record.value)))
        except InvalidMessage as exc:
            letters.append(DeadLetter(record, exc.reason, exc.detail, type(exc).__name__))
        except Exception as exc:  # noqa: BLE001 - the last resort: no bytes may stop the stream
            log.exception("validation failed unexpectedly for %s[%s]@%s", record.topic, record.partition, record.offset)
            letters.append(dead_letter_for(record, Reason.INVALID_MESSAGE, exc))
    return valid, letters


def dead_letter_for(record: Any, reason: str, exc: BaseException) -> DeadLetter:
    """A dead letter for a record that failed later than validation (inference, the store)."""
    return DeadLetter(record, reason, str(exc) or type(exc).__name__, type(exc).__name__)
