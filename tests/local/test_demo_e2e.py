"""The local stack end to end: `monitor demo` headless replays tweets with a burst, and the alert
arrives at its local receiver with a valid Standard Webhooks signature."""

import csv
import os
import subprocess
import sys

import pytest

from monitor.datasets import path as dataset_path
from monitor.local.broker import free_port
from monitor.local.replay import Burst, burst_rows
from monitor.model.testing import make_tiny_encoder

pytestmark = pytest.mark.integration


def _monitor(*args: str, timeout: float, cwd=None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MONITOR_LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd)


@pytest.fixture(scope="module")
def burst_aware_model(tmp_path_factory):
    """A tiny encoder trained for seconds on burst-like headlines (negative) and real tweets (neutral):
    enough for the pipeline to see a burst; model quality is tested elsewhere."""
    root = tmp_path_factory.mktemp("e2e-model")
    from datetime import UTC, datetime

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
                   "--seed", "1", "--version", "e2e-tiny", "--out", str(out), timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    return out


def test_demo_headless_alert_reaches_receiver_signed(burst_aware_model, fresh_database, tmp_path):
    res = _monitor("demo", "--model-dir", str(burst_aware_model), "--database-url", fresh_database,
                   "--data-dir", str(tmp_path / "local"), "--no-dashboard", "--limit", "600",
                   "--speedup", "20000", "--metrics-port", str(free_port()), "--exit-after-alert",
                   "--timeout", "300", timeout=420)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    # The receiver prints only deliveries whose signature verified with the standardwebhooks package.
    opened = [line for line in res.stdout.splitlines() if line.startswith("[webhook] alert.opened")]
    assert opened, res.stdout
    assert "alert received and verified" in res.stdout
