"""The explicit error path: invalid messages go, as their original bytes, to the dead-letter topic."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kafka.errors import KafkaError, MessageSizeTooLargeError

from monitor.stream.errors import Backpressure

log = logging.getLogger(__name__)

HEADER_PREFIX = "dlq."


@dataclass(frozen=True)
class DeadLetter:
    """One rejected record: the consumer record itself plus why it was rejected."""

    record: Any
    reason: str
    detail: str
    error_class: str

    @property
    def where(self) -> str:
        return f"{self.record.topic}[{self.record.partition}]@{self.record.offset}"


def dead_letter_headers(letter: DeadLetter, extra: dict[str, str] | None = None) -> list[tuple[str, bytes]]:
    """The original headers, then ours (reason, origin, error class and message) as UTF-8 bytes.

    A null header value (Kafka allows one; kafka-python's producer does not) travels as empty bytes.
    """
    r = letter.record
    ours = {
        "reason": letter.reason,
        "original.topic": r.topic,
        "original.partition": str(r.partition),
        "original.offset": str(r.offset),
        "error.class": letter.error_class,
        "error.message": letter.detail[:1000],
        **(extra or {}),
    }
    original = [(k, v if v is not None else b"") for k, v in (r.headers or []) if not k.startswith(HEADER_PREFIX)]
    # backslashreplace: an error message may quote a lone surrogate, which strict UTF-8 cannot encode.
    return original + [(HEADER_PREFIX + k, v.encode("utf-8", "backslashreplace")) for k, v in ours.items()]


class DeadLetterQueue:
    """Publishes dead letters and waits for the broker's acks before the batch's offsets are committed."""

    def __init__(self, producer: Any, topic: str, timeout_seconds: float = 30.0) -> None:
        self._producer = producer
        self.topic = topic
        self._timeout = timeout_seconds

    def publish(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        try:
            sent = [(letter, self._send(letter)) for letter in letters]
            self._producer.flush(timeout=self._timeout)
            for letter, future in sent:
                self._confirm(letter, future)
        except KafkaError as exc:
            raise Backpressure(f"cannot publish to the dead-letter topic {self.topic}: {exc}") from exc

    def _send(self, letter: DeadLetter) -> Any:
        log.warning("dead letter %s: %s (%s)", letter.where, letter.reason, letter.detail)
        r = letter.record
        try:
            return self._producer.send(self.topic, key=r.key, value=r.value, headers=dead_letter_headers(letter))
        except MessageSizeTooLargeError:
            return self._send_without_value(letter)
        except (TypeError, ValueError) as exc:  # the producer's own checks, e.g. on the original headers
            log.warning("dead letter %s keeps only our headers (%s)", letter.where, exc)
            return self._producer.send(self.topic, key=r.key, value=r.value, headers=_ours_only(letter))

    def _confirm(self, letter: DeadLetter, future: Any) -> None:
        try:
            future.get(timeout=0)
        except MessageSizeTooLargeError:  # the broker's limit for the topic is below the producer's
            self._send_without_value(letter).get(timeout=self._timeout)

    def _send_without_value(self, letter: DeadLetter) -> Any:
        """A letter too large for the topic goes without its value (still findable by its origin headers).

        Waiting for a size the topic will never accept would stall the partition for ever.
        """
        r = letter.record
        size = len(r.value or b"")
        log.warning("dead letter %s too large for %s; sent without its %d-byte value", letter.where, self.topic, size)
        headers = _ours_only(letter, {"value.dropped": str(size)})
        return self._producer.send(self.topic, key=r.key, value=b"", headers=headers)

    def close(self) -> None:
        self._producer.close(timeout=self._timeout)


def _ours_only(letter: DeadLetter, extra: dict[str, str] | None = None) -> list[tuple[str, bytes]]:
    return [(k, v) for k, v in dead_letter_headers(letter, extra) if k.startswith(HEADER_PREFIX)]
