"""``monitor worker --processes N``: children started, watched and stopped together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from monitor.local.supervisor import WorkerProcesses, child_envs
from monitor.settings import Settings, settings_env

from .conftest import count_stored, news, send, wait_until

CHILD = """
import os, signal, sys, time
marker = sys.argv[1]
def stop(signum, frame):
    open(marker, "w").write("stopped")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop if sys.argv[2] == "polite" else signal.SIG_IGN)
open(marker + ".started", "w").write(os.environ.get("MONITOR_METRICS__PORT", "?"))
time.sleep(float(sys.argv[3]))
sys.exit(int(sys.argv[4]))
"""


def child(tmp_path: Path, name: str, manner: str = "polite", lives: float = 60, status: int = 0) -> list[str]:
    return [sys.executable, "-c", CHILD, str(tmp_path / name), manner, str(lives), str(status)]


def started(tmp_path: Path, names: list[str]) -> bool:
    return all((tmp_path / f"{n}.started").exists() for n in names)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_stop_request_stops_every_child_gently(tmp_path) -> None:
    group = WorkerProcesses([child(tmp_path, "a"), child(tmp_path, "b")], child_envs(2, None, 9300)).start()
    wait_until(lambda: started(tmp_path, ["a", "b"]), 30, "the children to start")
    group.request_stop()
    assert group.wait() == 0
    assert (tmp_path / "a").read_text() == (tmp_path / "b").read_text() == "stopped"
    assert [(tmp_path / f"{n}.started").read_text() for n in "ab"] == ["9300", "9301"]  # a metrics port each
    assert not any(alive(pid) for pid in group.pids)


def test_a_child_that_exits_stops_the_others_and_its_status_is_reported(tmp_path) -> None:
    group = WorkerProcesses(
        [child(tmp_path, "dies", lives=1, status=3), child(tmp_path, "stays")], child_envs(2, "w", 0)
    ).start()
    assert group.wait() == 3
    assert (tmp_path / "stays").read_text() == "stopped"


def test_a_child_that_exits_cleanly_on_its_own_is_still_a_failure(tmp_path) -> None:
    group = WorkerProcesses([child(tmp_path, "quits", lives=0.5, status=0)], [{}]).start()
    assert group.wait() == 1


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace(tmp_path) -> None:
    group = WorkerProcesses([child(tmp_path, "stubborn", manner="deaf")], [{}], grace=1).start()
    wait_until(lambda: started(tmp_path, ["stubborn"]), 30, "the child to start")
    began = time.monotonic()
    group.request_stop()
    group.wait()
    assert time.monotonic() - began < 10 and not any(alive(pid) for pid in group.pids)


def test_child_envs_name_each_member() -> None:
    envs = child_envs(3, "gpu0", 0)
    assert [e["MONITOR_METRICS__WORKER_ID"] for e in envs] == ["gpu0-0", "gpu0-1", "gpu0-2"]
    assert {e["MONITOR_METRICS__PORT"] for e in envs} == {"0"}


@pytest.mark.integration
def test_monitor_worker_processes_runs_n_group_members_and_stops_on_sigterm(
    fast_settings: Settings, clean_db: Engine, broker, tmp_path
) -> None:
    from monitor.model.testing import make_tiny_model

    model_dir = make_tiny_model(tmp_path / "tiny", version="tiny-procs")
    log_path = tmp_path / "worker.log"
    cmd = [sys.executable, "-c", "from monitor.cli import main; main()", "worker", "--model", str(model_dir),
           "--processes", "2"]
    env = {**os.environ, **_env_of(fast_settings)}
    with open(log_path, "ab") as out:
        parent = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
    try:
        send(broker.bootstrap_servers, fast_settings.kafka.input_topic, news(60, "procs"))
        wait_until(lambda: count_stored(clean_db) >= 60, 180, "two worker processes to store everything")
        wait_until(lambda: _members(clean_db) >= 2, 60, "two heartbeating group members")
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(90) == 0, log_path.read_text()[-3000:]
    finally:
        if parent.poll() is None:
            parent.kill()
    assert log_path.read_text().count("worker stopped") == 2
    assert count_stored(clean_db) == 60


def _members(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("select count(distinct worker_id) from worker_heartbeats")).scalar_one()


def _env_of(settings: Settings) -> dict[str, str]:
    return settings_env(settings) | {
        "MONITOR_METRICS__PORT": "0",
        "MONITOR_METRICS__HEARTBEAT_SECONDS": "0.5",
        "MONITOR_MODEL__DEVICE": "cpu",
        "MONITOR_STREAM__MAX_BATCH_SIZE": "8",
        "MONITOR_STREAM__MAX_WAIT_MS": "50",
    }
