"""The local stack end to end, as the README's first hour runs it.

`monitor demo` replays tweets with a burst and the alert reaches its local receiver with a valid Standard
Webhooks signature; the README's everyday commands work in another shell from the demo's ``demo.env``; a
second run in the same folder alerts again. Waits follow the demo's measured speed (``demo_watch``).
"""

import csv
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from demo_watch import DemoRun

from monitor.datasets import path as dataset_path
from monitor.local.broker import free_port
from monitor.local.postgres import create_database, drop_database
from monitor.local.replay import Burst, burst_rows
from monitor.local.rerun import inspect_database
from monitor.local.shell import read_env_file
from monitor.model.testing import make_tiny_encoder

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]

ALERT_LINE = r"^\[webhook\] alert\.opened "
BIN = Path(sys.executable).parent  # where `monitor` is installed, as after `source .venv/bin/activate`
README_LINES = '{"id": "my-1", "text": "Oil slides as OPEC+ adds supply"}\nnot json\n'


def _monitor(*args: str, timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "HF_HUB_OFFLINE": "1", "MONITOR_LOG_LEVEL": "WARNING", **(env or {})}
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True,
                          timeout=timeout, env=full)


@pytest.fixture(scope="module")
def burst_aware_model(tmp_path_factory):
    """A tiny encoder trained for seconds on burst-like headlines (negative) and real tweets (neutral):
    enough for the pipeline to see a burst; model quality is tested elsewhere."""
    root = tmp_path_factory.mktemp("e2e-model")
    negative = burst_rows(datetime(2020, 1, 1, tzinfo=UTC), Burst(count=80, seed=99))
    with open(dataset_path("stock-market-tweets") / "timeline.csv", newline="", encoding="utf-8") as fh:
        tweets = [r["text"] for _, r in zip(range(80), csv.DictReader(fh), strict=False)]
    extra = root / "extra.csv"
    with open(extra, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "topic", "sentiment"])
        w.writerows([r["text"], "Earnings", "negative"] for r in negative)
        w.writerows([t, "", "neutral"] for t in tweets)
    out = root / "model"
    res = _monitor("train", "--preset", "full", "--backbone", str(make_tiny_encoder(root / "enc")),
                   "--extra", str(extra), "--limit", "40", "--epochs", "15", "--learning-rate", "3e-3",
                   "--seed", "1", "--version", "e2e-tiny", "--out", str(out), timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def demo_database(pg_admin_url):
    """The demo's own database (the demo may drop and recreate it, so not the suite's shared one)."""
    name = f"monitor_demo_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_admin_url, name, exist_ok=False)
    yield url
    drop_database(pg_admin_url, name)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("demo") / "local"


def _demo_args(model, database, data_dir, *extra: str) -> list[str]:
    return ["--model-dir", str(model), "--database-url", database, "--data-dir", str(data_dir), "--no-dashboard",
            "--limit", "600", "--speedup", "20000", "--metrics-port", str(free_port()),
            "--progress-seconds", "5", *extra]


def test_first_hour_alert_then_everyday_commands_against_the_running_demo(
    burst_aware_model, demo_database, data_dir
):
    demo = DemoRun(_demo_args(burst_aware_model, demo_database, data_dir))
    try:
        alert = demo.wait_for_line(ALERT_LINE)
        # Verified by the standardwebhooks package; readable scope and the dashboard link, never `__all__`.
        assert "/alerts?alert_id=" in alert and "__all__" not in alert
        assert "export MONITOR_DATABASE__URL=" in demo.output
        assert "export MONITOR_KAFKA__BOOTSTRAP_SERVERS=" in demo.output
        env = read_env_file(data_dir / "demo.env")
        assert env["MONITOR_DATABASE__URL"] == demo_database
        _everyday_commands(data_dir / "demo.env", demo)
    finally:
        code = demo.stop()
    assert code == 0, demo.output
    assert not (data_dir / "demo.env").exists()  # nobody sources a dead demo's addresses
    logs = data_dir / "logs"
    assert "serving model" in (logs / "worker.log").read_text()  # INFO logs say what the children did
    assert "scheduler started" in (logs / "scheduler.log").read_text()
    assert "/train.log" not in demo.output


def _everyday_commands(env_file, demo: DemoRun) -> None:
    """The README's first-hour block, line for line, in a shell that sourced the demo's demo.env."""
    def ok(command: str, stdin: str | None = None) -> str:
        res = subprocess.run(["bash", "-c", f'source "{env_file}" && {command}'], capture_output=True, text=True,
                             timeout=300, input=stdin, env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"})
        assert res.returncode == 0, f"{command}: {res.stdout}{res.stderr}"
        return res.stdout + res.stderr

    listed = ok("monitor models list")
    assert "e2e-tiny" in listed and "champion" in listed
    assert "no training runs yet" in ok("monitor models runs")
    predicted = ok('monitor predict "Fed signals two more rate hikes"')  # the champion; no models/current here
    assert "Fed signals" in predicted and "neg " in predicted
    endpoints = ok("monitor webhooks list")
    assert "/hooks/alerts" in endpoints and "for every alert" in endpoints and "__all__" not in endpoints
    assert "delivered" in ok("monitor webhooks test 1")  # the demo's receiver on loopback, allowed as for the demo
    demo.wait_for_line(r"^\[webhook\] test event for endpoint 1: signature verified")
    for command in ("monitor alerts check", "monitor alerts list"):
        assert "__all__" not in ok(command), command  # the all-topics scope by name, as everywhere else
    produced = ok("monitor produce - --skip-invalid", stdin=README_LINES)
    assert "sent 1 message to news" in produced and "skipped 1 invalid line" in produced
    stopped = subprocess.run(["bash", "-c", f'source "{env_file}" && "{sys.executable}" -m monitor produce -'],
                             capture_output=True, text=True, timeout=120, input=README_LINES)
    # Without --skip-invalid: stops at the bad line, having said how many went out.
    assert stopped.returncode == 2 and "sent 1 message to news" in stopped.stderr, stopped.stderr
    assert read_env_file(env_file)["MONITOR_KAFKA__BOOTSTRAP_SERVERS"] in ok("monitor config show")


def test_a_second_run_in_the_same_folder_alerts_again(burst_aware_model, demo_database, data_dir):
    """Same database, same stream ids: the demo starts the database afresh and says so, then alerts."""
    if inspect_database(demo_database).articles == 0:  # run alone: make the first run here
        first = DemoRun(_demo_args(burst_aware_model, demo_database, data_dir, "--exit-after-alert"))
        first.wait_for_line(ALERT_LINE)
        assert first.stop() == 0, first.output
    demo = DemoRun(_demo_args(burst_aware_model, demo_database, data_dir, "--exit-after-alert"))
    try:
        demo.wait_for_line(ALERT_LINE)
    finally:
        code = demo.stop()
    assert code == 0, demo.output
    assert "dropped and created again, so this replay alerts again" in demo.output
