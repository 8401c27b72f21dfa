"""Child processes of the local stack: started with logs to files, stopped gently, all together."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def monitor_command(*args: str) -> list[str]:
    """``monitor ARGS`` run with this interpreter, so it works without the console script on PATH."""
    return [sys.executable, "-m", "monitor", *args]


def die_with_parent() -> None:
    """Linux: the child gets SIGTERM if the demo dies without cleaning up (kill -9), so nothing is orphaned."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


class ProcessGroup:
    """Named children; ``stop()`` sends SIGTERM (they finish their batch), then SIGKILL after a grace."""

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir = log_dir
        self.env = env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, cmd: list[str], *, show_output: bool = False) -> subprocess.Popen[bytes]:
        out = None if show_output else open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(cmd, env={**os.environ, **self.env}, stdout=out,
                                stderr=subprocess.STDOUT if out else None, start_new_session=True,
                                preexec_fn=die_with_parent)
        self.procs[name] = proc
        where = "output below" if show_output else f"log {self.log_dir / f'{name}.log'}"
        log.info("started %s (pid %s), %s", name, proc.pid, where)
        return proc

    def died(self) -> list[tuple[str, int]]:
        """Children that exited on their own, with their exit codes."""
        return [(n, p.returncode) for n, p in self.procs.items() if p.poll() is not None]

    def stop(self, grace: float = 15.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %ss; killing it", name, grace)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()
