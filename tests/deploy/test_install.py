"""A non-editable install, run from outside the checkout, migrates, runs a worker and serves the dashboard.

The wheel is built from this checkout and installed (without dependencies: they are this virtualenv's)
into a folder of its own that comes first on PYTHONPATH, so nothing below can reach the checkout's files.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from monitor.local.broker import free_port
from monitor.local.postgres import create_database, drop_database
from monitor.model.testing import make_tiny_model
from monitor.store.engine import normalize_url

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
COPY_IGNORE = (".git", ".venv", ".local", "build", "dist", "models", "runs", ".whl", "__pycache__", "*.egg-info",
               ".pytest_cache", ".ruff_cache", ".hypothesis", "tests", "docs", "bench")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """site-packages-like folder holding only this project, built as a wheel (no editable links)."""
    work = tmp_path_factory.mktemp("install")
    source = work / "source"  # a copy, so the build's scratch folders never land in the checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*COPY_IGNORE))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(work / "dist"), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    if build.returncode != 0:
        pytest.fail(f"building the wheel failed: {build.stderr[-2000:]}")
    wheel = next((work / "dist").glob("fin_news_monitor-*.whl"))
    site = work / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True, timeout=300)
    return site


def _env(site: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(site), "MONITOR_METRICS__PORT": "0", **extra}


def _run(site: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], cwd=cwd, env=_env(site, **env),
        capture_output=True, text=True, timeout=180,
    )


def test_the_wheel_holds_the_migrations_and_the_dashboard(installed: Path, tmp_path: Path) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", "import monitor, dashboard; from monitor.store.migrate import migrations_dir;"
         "print(monitor.__file__); print(dashboard.__file__); print(migrations_dir())"],
        cwd=tmp_path, env=_env(installed), capture_output=True, text=True, check=True,
    )
    paths = probe.stdout.split()
    assert all(p.startswith(str(installed)) for p in paths), paths
    versions = Path(paths[2]) / "versions"
    assert sorted(p.name for p in versions.glob("*.py") if p.name != "__init__.py"), "no migration shipped"
    assert (Path(paths[1]).parent / "app.py").is_file()


@pytest.fixture
def empty_database(pg_admin_url: str) -> Iterator[str]:
    """A database of this test's own, never migrated by anything but the installed package."""
    name = f"monitor_install_{uuid.uuid4().hex[:10]}"
    url = create_database(pg_admin_url, name, exist_ok=False)
    yield url
    drop_database(pg_admin_url, name)


def test_installed_package_migrates_and_runs_a_worker(
    installed: Path, tmp_path: Path, empty_database: str, broker, kafka_topic: str
) -> None:
    env = {
        "MONITOR_DATABASE__URL": empty_database,
        "MONITOR_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "MONITOR_KAFKA__INPUT_TOPIC": kafka_topic,
        "MONITOR_KAFKA__DEAD_LETTER_TOPIC": f"{kafka_topic}.dlq",
        "MONITOR_KAFKA__CONSUMER_GROUP": f"g-{kafka_topic}",
        "MONITOR_MODEL__DIRECTORY": str(make_tiny_model(tmp_path / "model")),
        "MONITOR_MODEL__REGISTRY_DIR": str(tmp_path / "registry"),
        "MONITOR_STREAM__MAX_WAIT_MS": "50",
    }
    migrated = _run(installed, tmp_path, "db", "upgrade", **env)
    assert migrated.returncode == 0, migrated.stderr

    messages = tmp_path / "news.jsonl"
    lines = (json.dumps({"id": f"i-{i}", "text": f"Shares of X fall {i}%"}) for i in range(5))
    messages.write_text("".join(f"{line}\n" for line in lines))
    produced = _run(installed, tmp_path, "produce", str(messages), **env)
    assert produced.returncode == 0, produced.stderr

    worker = subprocess.Popen(
        [sys.executable, "-m", "monitor", "worker"], cwd=tmp_path, env=_env(installed, **env),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    engine = create_engine(normalize_url(empty_database))
    try:
        deadline = time.monotonic() + 120
        stored = 0
        while time.monotonic() < deadline and stored < 5 and worker.poll() is None:
            time.sleep(0.5)
            with engine.connect() as conn:
                stored = conn.scalar(text("select count(*) from articles a join predictions p on p.article_id = a.id"))
        assert stored == 5, f"stored {stored} of 5; worker exit {worker.poll()}"
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
        engine.dispose()
    assert worker.returncode == 0, err[-2000:]


def test_installed_package_serves_the_dashboard(installed: Path, tmp_path: Path, database_url: str) -> None:
    pytest.importorskip("streamlit")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "dashboard", "--port", str(port)], cwd=tmp_path,
        env=_env(installed, MONITOR_DATABASE__URL=database_url),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline, body = time.monotonic() + 90, ""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as resp:
                    body = resp.read().decode()
                    break
            except OSError:
                time.sleep(0.5)
        assert body == "ok", f"no health answer; dashboard exit {proc.poll()}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
