"""Several worker processes on one machine (``monitor worker --processes N``): each child is its own
consumer-group member with its own model copy, so Python work (poll, validate, tokenize, store) runs on
N cores, and N processes can share one GPU. The parent only starts, watches and stops them.

Stopping: SIGINT/SIGTERM to the parent is passed on as SIGTERM to every child; each finishes its batch,
commits and exits. If a child exits on its own, the others are stopped too and the parent exits with
that child's status, so an orchestrator restarts the whole set (their partitions are re-read from the
committed offsets, so nothing is lost or doubled).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from monitor.local.processes import die_with_parent

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2


class WorkerProcesses:
    """Start ``commands`` as children; ``wait()`` until a signal or a child's exit, then stop them all."""

    def __init__(self, commands: Sequence[Sequence[str]], envs: Sequence[dict[str, str]], grace: float = 60.0):
        self._commands, self._envs, self.grace = commands, envs, grace
        self._procs: list[subprocess.Popen[bytes]] = []
        self._stop_requested = False

    def request_stop(self, signum: int = signal.SIGTERM, _frame: Any = None) -> None:
        """Signal handler: only flips a flag (the loop in ``wait`` does the rest)."""
        self._stop_requested = True

    def start(self) -> WorkerProcesses:
        for command, env in zip(self._commands, self._envs, strict=True):
            proc = subprocess.Popen(list(command), env={**os.environ, **env}, preexec_fn=die_with_parent)
            self._procs.append(proc)
            log.info("started worker process %d of %d (pid %d)", len(self._procs), len(self._commands), proc.pid)
        return self

    def wait(self) -> int:
        """Block until a stop is requested or a child exits; stop the rest; the exit status to report."""
        exited = None
        while not self._stop_requested and exited is None:
            time.sleep(POLL_SECONDS)
            exited = next((p for p in self._procs if p.poll() is not None), None)
        if exited is not None:
            log.error("worker process %d exited with status %d; stopping the others", exited.pid, exited.returncode)
        self.stop()
        return (exited.returncode or 1) if exited is not None else 0

    def stop(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for proc in self._procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker process %d did not stop within %.0fs; killing it", proc.pid, self.grace)
                proc.kill()
                proc.wait()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]


def child_envs(n: int, worker_id: str | None, metrics_port: int) -> list[dict[str, str]]:
    """Per child: a distinct worker id (heartbeats) and metrics port (port + i; 0 stays disabled)."""
    envs = []
    for i in range(n):
        env = {"MONITOR_METRICS__PORT": str(metrics_port + i if metrics_port else 0)}
        if worker_id:
            env["MONITOR_METRICS__WORKER_ID"] = f"{worker_id}-{i}"
        envs.append(env)
    return envs


def run_worker_processes(commands: Sequence[Sequence[str]], envs: Sequence[dict[str, str]]) -> int:
    """Run the children until SIGINT/SIGTERM or until one exits; returns the status to exit with."""
    group = WorkerProcesses(commands, envs)
    previous = {sig: signal.signal(sig, group.request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return group.start().wait()
    finally:
        group.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
