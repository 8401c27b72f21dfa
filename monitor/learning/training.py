"""Train a candidate in a child process (``python -m monitor train``): a crash, a hang or a memory spike
there fails the run, never the scheduler."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import MonitorError
from monitor.settings import SchedulerSettings

log = logging.getLogger(__name__)


class TrainingFailed(MonitorError):
    """The training subprocess did not produce a model; the message carries the end of its log."""


@dataclass(frozen=True)
class TrainRequest:
    out_dir: Path
    version: str
    extra_file: Path | None
    preset: str = "quick"
    backbone: str | None = None
    epochs: int | None = None
    max_steps: int | None = None
    base_limit: int | None = None
    seed: int = 0
    learning_rate: float | None = None
    data_root: Path | None = None
    init_from: Path | None = None  # warm start: the model directory to fine-tune
    replay: int | None = None

    @classmethod
    def from_settings(cls, s: SchedulerSettings, *, out_dir: Path, version: str, extra_file: Path | None,
                      init_from: Path | None = None):
        """The retrain job's request; ``init_from`` (the champion) makes it a warm start with the warm preset."""
        return cls(out_dir=out_dir, version=version, extra_file=extra_file,
                   preset="warm" if init_from else s.retrain_preset,
                   backbone=s.retrain_backbone, epochs=s.retrain_epochs, max_steps=s.retrain_max_steps,
                   base_limit=s.retrain_base_limit, seed=s.retrain_seed,
                   learning_rate=s.retrain_learning_rate, data_root=s.retrain_data_root,
                   init_from=init_from, replay=s.retrain_replay_per_corpus if init_from else None)

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "monitor", "train", "--preset", self.preset,
               "--out", str(self.out_dir), "--version", self.version, "--seed", str(self.seed)]
        optional = {"--extra": self.extra_file, "--backbone": self.backbone, "--epochs": self.epochs,
                    "--max-steps": self.max_steps, "--limit": self.base_limit,
                    "--learning-rate": self.learning_rate, "--data-root": self.data_root,
                    "--init-from": self.init_from, "--replay": self.replay}
        for flag, value in optional.items():
            if value is not None:
                cmd += [flag, str(value)]
        return cmd


def _prefer_oom_kill(pid: int) -> None:
    # If memory runs out, the kernel should pick the trainer, not the scheduler (raising needs no privilege).
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/oom_score_adj").write_text("1000")


def run_training(
    request: TrainRequest, *, log_file: Path, timeout_s: float, stop: threading.Event | None = None
) -> None:
    """Run the trainer to completion; raise :class:`TrainingFailed` on any non-zero exit, timeout or stop."""
    cmd = request.command()
    log.info("training %s: %s", request.version, " ".join(cmd))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
        _prefer_oom_kill(proc.pid)
        reason = _wait(proc, timeout_s, stop)
    if reason is None and proc.returncode == 0:
        return
    if reason is None:
        code = proc.returncode
        reason = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
        if code == -signal.SIGKILL:
            reason += " (out of memory?)"
    raise TrainingFailed(f"training {request.version} {reason}; log {log_file}:\n{tail(log_file)}")


def _wait(proc: subprocess.Popen[bytes], timeout_s: float, stop: threading.Event | None) -> str | None:
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None:
        if stop is not None and stop.is_set():
            _terminate(proc)
            return "interrupted: the scheduler is shutting down"
        if time.monotonic() > deadline:
            _terminate(proc)
            return f"timed out after {timeout_s:.0f} s (MONITOR_SCHEDULER__RETRAIN_TIMEOUT_MINUTES)"
        time.sleep(0.2)
    return None


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tail(path: Path, lines: int = 15) -> str:
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            return "".join(deque(fh, maxlen=lines)).rstrip()
    except OSError:
        return "(no log)"
