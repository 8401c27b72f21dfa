"""The real dashboard in a real browser: `streamlit run` headless, the overview opened in headless Chromium.

Set MONITOR_SCREENSHOT_TO=docs/overview.png to keep the screenshot (that is how the README's was made).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dash_browser import CHROMIUM, open_page
from dash_helpers import APP, ROOT
from sqlalchemy import select

from dashboard.seed_demo import seed_demo
from monitor.store.orm import Alert

pytestmark = pytest.mark.integration

# Every chart on the page has drawn into its canvas/svg, the script is no longer running.
CHARTS_DRAWN = """(() => {
  const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')];
  const drawn = charts.filter(c => c.querySelector('canvas, svg'));
  const running = document.querySelector('[data-testid="stStatusWidget"]');
  return charts.length >= 3 && drawn.length === charts.length && !running ? drawn.length : 0;
})()"""
EXCEPTIONS = "[...document.querySelectorAll('[data-testid=\"stException\"]')].map(e => e.innerText)"
METRICS = "[...document.querySelectorAll('[data-testid=\"stMetricLabel\"]')].map(e => e.innerText.trim())"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dashboard_url(dashboard_env: str, db, tmp_path: Path) -> Iterator[str]:
    """The dashboard served by `streamlit run` on a free loopback port, over three days of demo data."""
    if not CHROMIUM.exists():
        pytest.skip(f"headless browser check needs Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    with db() as s:
        seed_demo(s, days=3, articles=6000)
    port = free_port()
    env = {**os.environ, "MONITOR_DATABASE__URL": dashboard_env}
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.headless=true",
        f"--server.port={port}",
        "--server.address=127.0.0.1",
        "--browser.gatherUsageStats=false",
        "--client.toolbarMode=minimal",
        "--server.fileWatcherType=none",
    ]
    log = (tmp_path / "streamlit.log").open("w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/_stcore/health", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer {url} within {timeout} s")


SIDEBAR = "document.querySelector('[data-testid=\"stSidebar\"]')?.innerText || ''"
EXPANDED = "[...document.querySelectorAll('details[open] summary')].map(e => e.innerText)"


def test_overview_renders_its_charts_in_a_real_browser(dashboard_url: str, tmp_path: Path):
    shot = tmp_path / "overview.png"
    with open_page(f"{dashboard_url}/?range=3d", tmp_path / "chromium", height=1380) as page:
        drawn = page.wait_for(CHARTS_DRAWN, timeout=90)
        time.sleep(1.5)  # let Vega finish its transitions before the picture
        assert page.evaluate(EXCEPTIONS) == []
        assert {"Articles", "Negative share", "Open alerts"} <= set(page.evaluate(METRICS))
        assert "Earnings: " in page.evaluate("document.body.innerText")  # the open alert
        page.screenshot(shot)
    assert drawn >= 3
    assert shot.stat().st_size > 50_000  # a blank page is a few kB
    if target := os.environ.get("MONITOR_SCREENSHOT_TO"):
        shutil.copyfile(shot, Path(target) if Path(target).is_absolute() else ROOT / target)


def test_an_alert_link_from_a_webhook_opens_the_app_on_that_alert(dashboard_url: str, db, tmp_path: Path):
    # Webhook payloads link to /alerts?alert_id=N; that must run app.py (navigation, settings), not the
    # page file alone, and open that alert rather than the newest.
    with db() as s:
        older = s.scalar(select(Alert.id).where(Alert.status == "resolved"))
    with open_page(f"{dashboard_url}/alerts?alert_id={older}", tmp_path / "chromium") as page:
        page.wait_for("document.querySelector('h1')?.innerText === 'Alerts'", timeout=60)
        page.wait_for(f"({SIDEBAR}).includes('Labeling queue')", timeout=30)
        expanded = page.wait_for(EXPANDED, timeout=30)
        assert page.evaluate(EXCEPTIONS) == []
    assert len(expanded) == 1 and "All topics:" in expanded[0]
