"""Errors of the streaming path: typed backpressure, a refused write, an invalid message."""

from __future__ import annotations

from monitor.errors import DatabaseUnavailable, MonitorError


class Backpressure(DatabaseUnavailable):
    """A downstream store (Postgres, the dead-letter topic) cannot take data right now.

    The worker pauses its partitions, seeks back to the batch's first offsets, waits with a capped
    exponential backoff and tries again; it commits nothing in between.
    """


class StoreRejected(MonitorError):
    """The store refused rows for a reason in the data itself, so retrying the same rows cannot help."""


class InvalidMessage(MonitorError):
    """A Kafka message that breaks the message contract; it goes to the dead-letter topic."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class BatchFailure(MonitorError):
    """A whole batch failed for a reason no message can cause: the model or the database schema is broken.

    The worker gives the batch back (nothing committed, nothing dead-lettered) and retries; after
    ``MONITOR_STREAM__BREAKER_BATCHES`` such batches in a row it stops with :class:`SystemicFailure`.
    """


class SystemicFailure(MonitorError):
    """The breaker tripped: consecutive batches failed as a whole, so the worker stopped consuming.

    Their offsets are not committed; a supervisor restarts the worker (exit status non-zero) or alerts.
    """
