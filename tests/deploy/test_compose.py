"""The production compose file validates and wires every part (needs Debian's docker-compose; no engine)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = shutil.which("docker-compose")
needs_compose = pytest.mark.skipif(COMPOSE is None, reason="docker-compose is not installed "
                                   "(apt-get install docker-compose); the file is not validated here")


def _config(*files: str) -> str:
    args = [COMPOSE]
    for f in files:
        args += ["-f", str(ROOT / f)]
    res = subprocess.run([*args, "config"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 0, res.stderr
    return res.stdout


@needs_compose
def test_compose_file_validates_with_every_service():
    import yaml

    cfg = yaml.safe_load(_config("docker-compose.yml"))
    assert {"kafka", "postgres", "migrate", "worker", "scheduler", "dashboard"} <= set(cfg["services"])
    worker = cfg["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker  # --scale worker=N must work
    assert worker["environment"]["MONITOR_KAFKA__BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert cfg["services"]["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for service in ("kafka", "postgres", "worker", "dashboard"):
        assert "healthcheck" in cfg["services"][service], service
    # Each image carries what it runs: the dashboard's has the dashboard extra and no torch.
    dashboard = cfg["services"]["dashboard"]
    assert dashboard["build"]["args"] == {"EXTRAS": "dashboard", "TORCH_VERSION": ""}
    assert dashboard["image"] != worker["image"] and dashboard["command"][:2] == ["monitor", "dashboard"]


@needs_compose
def test_gpu_overlay_validates():
    import yaml

    cfg = yaml.safe_load(_config("docker-compose.yml", "docker-compose.gpu.yml"))
    assert cfg["services"]["worker"]["build"]["dockerfile"] == "Dockerfile.cuda"
