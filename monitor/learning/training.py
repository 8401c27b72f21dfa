"""Train a candidate in a child process (``monitor train --request FILE``): a crash, a hang or a memory spike
there fails the run, never the scheduler. The recipe goes in as a typed request, the scores come back as a
typed result (:mod:`monitor.model.handoff`)."""

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
from pathlib import Path

from monitor.errors import MonitorError
from monitor.model.arguments import preset
from monitor.model.corpora import DOMAIN_CORPORA
from monitor.model.handoff import TrainingRequest, TrainingResult
from monitor.settings import LearningSettings

log = logging.getLogger(__name__)


class TrainingFailed(MonitorError):
    """The training subprocess did not produce a model; the message carries the end of its log."""


def training_request(learning: LearningSettings, *, out_dir: Path, version: str, workdir: Path,
                     extra_file: Path | None, init_from: Path | None = None,
                     teacher: Path | None = None) -> TrainingRequest:
    """The retrain job's request; ``init_from`` (the champion) makes it a warm start with the warm preset;
    ``teacher`` (the champion, in a from-scratch run) fills missing labels with its confident predictions; with
    ``distillation`` set its probabilities are soft targets too (from scratch: beside its hard labels, when
    ``scratch_teacher``; warm: alone).

    The recipe is the preset plus every recipe field set in the learning section (``recipe_overrides``).
    """
    unknown = sorted(set(learning.domains or ()) - set(DOMAIN_CORPORA))
    if unknown:
        raise MonitorError(f"MONITOR_LEARNING__DOMAINS names unknown corpora {', '.join(unknown)}; "
                           f"use some of {', '.join(DOMAIN_CORPORA)} (or [] for none)")
    warm = init_from is not None
    overrides = learning.recipe_overrides(warm=warm)
    if not warm and learning.scratch_teacher and overrides.get("distillation"):
        overrides["distill_with_pseudo_labels"] = True  # the teacher's hard labels stay, its soft targets add
    arguments = preset("warm" if warm else learning.preset, **overrides)
    return TrainingRequest(arguments=arguments, out=out_dir, version=version, result_file=workdir / "result.json",
                           extra=extra_file, init_from=init_from, data_root=learning.data_root,
                           backbone=learning.backbone, teacher=teacher)


def trainer_command(request_file: Path) -> list[str]:
    return [sys.executable, "-m", "monitor", "train", "--request", str(request_file)]


def _prefer_oom_kill(pid: int) -> None:
    # If memory runs out, the kernel should pick the trainer, not the scheduler (raising needs no privilege).
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/oom_score_adj").write_text("1000")


def run_training(
    request: TrainingRequest,
    *,
    workdir: Path,
    timeout_s: float,
    stop: threading.Event | None = None,
    command: list[str] | None = None,
) -> TrainingResult:
    """Run the trainer on ``request`` in a child process and read back its result; raise
    :class:`TrainingFailed` on any non-zero exit, timeout, stop or missing result. ``command`` replaces
    the trainer (tests)."""
    request_file = request.write(workdir / "request.json")
    request.result_file.unlink(missing_ok=True)  # a stale result must not pass for this run's
    log_file = workdir / "train.log"
    cmd = command or trainer_command(request_file)
    log.info("training %s: %s", request.version, " ".join(cmd))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
        _prefer_oom_kill(proc.pid)
        reason = _wait(proc, timeout_s, stop)
    if reason is None and proc.returncode == 0:
        try:
            return TrainingResult.read(request.result_file)
        except MonitorError as exc:
            raise TrainingFailed(f"training {request.version} exited without a result: {exc}") from None
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
            return f"timed out after {timeout_s:.0f} s (MONITOR_LEARNING__TRAINING_TIMEOUT_MINUTES)"
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
