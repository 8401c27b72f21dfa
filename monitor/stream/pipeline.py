"""The store stage of the consumer engine: one thread that writes prepared batches, one at a time, in order.

The consumer thread prepares batch n+1 (validate, infer) while this thread writes batch n in one
Postgres transaction. Nothing here touches Kafka: the finished batch goes back to the consumer thread,
which publishes its dead letters and commits its offsets there, in batch order.
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


class Stage(enum.Enum):
    PREPARED = "prepared"  # the consumer thread is done with it; waiting for the store
    WRITING = "writing"  # handed to the store thread
    WRITTEN = "written"  # back from the store (with an outcome or an error)
    FAILED = "failed"  # preparing it raised: it never reaches the store


@dataclass(eq=False)
class InFlight:
    """One batch between ``take()`` and its offset commit."""

    records: list[Any]
    started: float
    stage: Stage = Stage.PREPARED
    prepared: Any = None
    outcome: Any = None
    error: BaseException | None = None
    dropped: bool = False  # a revoke or a failure gave it up: its write result is discarded
    write_seconds: float = field(default=0.0)


class StoreStage:
    """A thread running ``write(prepared)`` for one batch at a time; results come back through a queue.

    ``busy`` is the consumer thread's view: a batch was submitted and has not been collected yet, so at
    most one batch is ever in the store and the next one waits, prepared, on the consumer thread.
    """

    def __init__(self, write: Callable[[Any], Any], name: str = "store") -> None:
        self._write = write
        self._name = name
        self._jobs: queue.Queue[InFlight | None] = queue.Queue(maxsize=1)
        self._done: queue.Queue[InFlight] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._current: InFlight | None = None
        self.seconds = 0.0  # time spent writing, for benchmarks

    @property
    def busy(self) -> bool:
        return self._current is not None

    def submit(self, item: InFlight) -> None:
        if self._current is not None:
            raise RuntimeError("the store stage takes one batch at a time")
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=f"{self._name}-store", daemon=True)
            self._thread.start()
        item.stage = Stage.WRITING
        self._current = item
        self._jobs.put(item)

    def collect(self, timeout: float | None) -> InFlight | None:
        """The batch in the store once written, waiting up to ``timeout`` seconds (None: until it is)."""
        if self._current is None:
            return None
        try:
            item = self._done.get(timeout=timeout) if timeout != 0 else self._done.get_nowait()
        except queue.Empty:
            return None
        self._current = None
        item.stage = Stage.WRITTEN  # set here, on the consumer thread, never by the store thread
        return item

    def close(self, timeout: float) -> None:
        """Let the write in progress end (its result is dropped) and stop the thread."""
        if self._thread is None:
            return
        self.collect(timeout)
        self._jobs.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the %s store thread is still writing after %.0fs; leaving it", self._name, timeout)
        self._thread = None

    def _loop(self) -> None:
        while (item := self._jobs.get()) is not None:
            started = time.perf_counter()
            try:
                item.outcome = self._write(item.prepared)
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread, which decides
                item.error = exc
            item.write_seconds = time.perf_counter() - started
            self.seconds += item.write_seconds
            self._done.put(item)


@dataclass
class StageSeconds:
    """Where the consumer thread's time went, and the store thread's, for benchmarks and the debug log."""

    prepare: float = 0.0  # validate and infer (the consumer thread)
    finish: float = 0.0  # dead letters and the offset commit (the consumer thread)
    waiting: float = 0.0  # the consumer thread blocked on the store (its queue of one was full)
