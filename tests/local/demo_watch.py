"""Run `monitor demo` as a user does and wait on what it prints, with a budget from the speed it measures.

A fixed timeout fails on a loaded machine (the issue's 300 s on a busy 2-core box) and wastes time on an idle
one. The demo prints ``stored X of Y messages (R/s measured ...)`` lines; the wait gives the replay twice
the time its measured speed needs, a stall (no new article) a fixed allowance, and the detector and relay a
fixed allowance once everything is stored. Lines are read as they arrive (event-driven, no sleeping).
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

PROGRESS = re.compile(r"stored ([\d,]+) of ([\d,]+) messages")
ALL_STORED = re.compile(r"all ([\d,]+) messages stored")

START_ALLOWANCE = 420.0  # model load, group join and first batch on a loaded 2-core machine
STALL_ALLOWANCE = 240.0  # no new article for this long while the replay runs: something is stuck
DETECT_ALLOWANCE = 300.0  # after the last article: detector runs every 5 s, relay every 2 s, on a busy CPU


class DemoRun:
    """A `monitor demo` child whose stdout lines are collected by a thread; ``wait_for_line`` waits on them."""

    def __init__(self, args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "MONITOR_LOG_LEVEL": "WARNING", **(env or {})}
        self.proc = subprocess.Popen([sys.executable, "-m", "monitor", "demo", *args], cwd=cwd, env=full_env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, pattern: str) -> str:
        """The first line matching ``pattern``; AssertionError (with the output) when the budget runs out."""
        wanted = re.compile(pattern)
        budget = Budget()
        for line in self.lines:
            if wanted.search(line):
                return line
        while True:
            try:
                line = self._queue.get(timeout=max(0.1, budget.left()))
            except queue.Empty:
                line = ""
            if line is None:
                raise AssertionError(f"demo exited ({self.proc.wait()}) before {pattern!r}:\n{self.output}")
            if line:
                self.lines.append(line)
                budget.saw(line)
                if wanted.search(line):
                    return line
            if budget.left() <= 0:
                raise AssertionError(f"no {pattern!r} within the budget ({budget.why}):\n{self.output}")

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM (the demo's clean stop, as Ctrl-C), then the rest of its output."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        while (line := self._drain()) is not None:
            self.lines.append(line)
        return code

    def _drain(self) -> str | None:
        try:
            return self._queue.get(timeout=5)
        except queue.Empty:
            return None


class Budget:
    """The deadline moves with the measured replay: progress extends it, a stall or a slow finish ends it."""

    def __init__(self) -> None:
        self.started = self.last_gain = time.monotonic()
        self.deadline = self.started + START_ALLOWANCE
        self.stored = 0
        self.why = f"{START_ALLOWANCE:.0f}s to start storing"

    def saw(self, line: str) -> None:
        now = time.monotonic()
        if ALL_STORED.search(line):
            self.deadline, self.why = now + DETECT_ALLOWANCE, f"{DETECT_ALLOWANCE:.0f}s to alert after the replay"
            return
        if not (match := PROGRESS.search(line)):
            return
        stored, total = (int(g.replace(",", "")) for g in match.groups())
        if stored > self.stored:
            rate = stored / max(now - self.started, 1e-3)
            to_go = (total - stored) / rate
            self.stored, self.last_gain = stored, now
            self.deadline = now + 2 * to_go + STALL_ALLOWANCE + DETECT_ALLOWANCE
            self.why = f"replay at {rate:.1f}/s measured, {to_go:.0f}s to go, given twice that plus allowances"
        elif self.stored and now - self.last_gain > STALL_ALLOWANCE:
            self.deadline, self.why = now, f"no new article stored for {STALL_ALLOWANCE:.0f}s"

    def left(self) -> float:
        return self.deadline - time.monotonic()
