"""Send news messages to Kafka: as fast as possible, at a fixed rate, or replaying their timestamps."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kafka.errors import KafkaError

from monitor.errors import MonitorError
from monitor.stream.sources import OutgoingMessage

log = logging.getLogger(__name__)


class Pacer:
    """Decides when each message goes out.

    ``rate``: messages per second. ``speedup``: replay mode, keeping the spacing of the messages'
    ``published_at`` divided by this factor (a message without a time, or earlier than the one
    before, goes right away); with ``max_pause`` no wait between two messages is longer than that
    many seconds (a silent stretch of the stream is shortened; the messages keep their times).
    Neither: as fast as possible.
    """

    def __init__(
        self,
        *,
        rate: float | None = None,
        speedup: float | None = None,
        max_pause: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and rate <= 0 or speedup is not None and speedup <= 0:
            raise MonitorError("--rate and --speedup must be positive")
        if max_pause is not None and max_pause < 0:
            raise MonitorError("--max-pause must be zero or more seconds")
        self._rate, self._speedup, self._max_pause = rate, speedup, max_pause
        self._last_due: float | None = None  # replay: when the latest message was due
        self._shortened = 0.0  # replay: seconds of silence taken out so far
        self._clock, self._sleep = clock, sleep
        self._start: float | None = None
        self._first_time: float | None = None
        self._sent = 0

    def wait(self, message: OutgoingMessage) -> None:
        now = self._clock()
        if self._start is None:
            self._start = now
        due = self._due(message)
        self._sent += 1
        if due is not None and due > now:
            self._sleep(due - now)

    def _due(self, message: OutgoingMessage) -> float | None:
        assert self._start is not None
        if self._speedup is not None:
            if message.published_at is None:
                return None
            stamp = message.published_at.timestamp()
            if self._first_time is None:
                self._first_time = stamp
            due = self._start + (stamp - self._first_time) / self._speedup - self._shortened
            if self._last_due is not None and self._max_pause is not None and due - self._last_due > self._max_pause:
                self._shortened += due - self._last_due - self._max_pause
                due = self._last_due + self._max_pause
            self._last_due = due if self._last_due is None else max(self._last_due, due)
            return due
        if self._rate is not None:
            return self._start + self._sent / self._rate
        return None


@dataclass
class ProduceReport:
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: int = 0
    skip_reasons: list[str] = field(default_factory=list)

    def skip(self, problem: str) -> None:
        """A line of the input that could not become a message (``--skip-invalid``)."""
        self.skipped += 1
        if len(self.skip_reasons) < 3:
            self.skip_reasons.append(problem)

    def summary(self, topic: str) -> str:
        """'sent N messages to TOPIC, skipped M invalid lines, F failed': every count, always."""
        parts = [f"sent {_count(self.sent, 'message')} to {topic}", f"skipped {_count(self.skipped, 'invalid line')}"]
        if self.failed:
            parts.append(f"{self.failed:,} failed")
        return ", ".join(parts)

    def ok(self, _metadata: Any) -> None:
        self.sent += 1  # acks are counted on the client's one I/O thread

    def fail(self, exc: BaseException) -> None:
        self.failed += 1
        if len(self.errors) < 3:
            self.errors.append(f"{type(exc).__name__}: {exc}")


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def produce_messages(
    producer: Any,
    topic: str,
    messages: Iterable[OutgoingMessage],
    pacer: Pacer,
    progress: Callable[[int], Any] | None = None,
    flush_timeout: float = 60.0,
    report: ProduceReport | None = None,
) -> ProduceReport:
    """Send every message (keyed by its id), wait for all acks, and count what failed.

    When reading the input fails part way, what was already sent is still flushed and counted in
    ``report`` (pass one in to read it after the error).
    """
    report = report if report is not None else ProduceReport()
    try:
        for message in messages:
            pacer.wait(message)
            try:
                future = producer.send(topic, key=message.key, value=message.value)
            except KafkaError as exc:
                report.fail(exc)
                continue
            future.add_callback(report.ok)
            future.add_errback(report.fail)
            if progress is not None:
                progress(1)
    finally:
        producer.flush(timeout=flush_timeout)
    return report
