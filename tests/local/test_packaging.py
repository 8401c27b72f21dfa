"""The Docker build context and the GPU overlay, checked without a Docker engine."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _ignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [ln.strip().rstrip("/") for ln in lines if ln.strip() and not ln.startswith("#")]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule for these simple patterns: a pattern matches the path or one of its parent folders."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        bare = pattern.removeprefix("**/")
        if any(fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p.rsplit("/", 1)[-1], bare) for p in prefixes):
            return True
    return False


def test_build_context_leaves_local_state_out():
    patterns = _ignore_patterns()
    for heavy in (".venv/lib/python3.11/site-packages/torch/__init__.py", ".local/postgres/PG_VERSION",
                  ".local/models/starter/model.safetensors", "models/current/config.json", "runs/1/log.txt",
                  ".pytest_cache/v/cache", "monitor/__pycache__/cli.cpython-311.pyc", ".ruff_cache/x", ".git/HEAD",
                  "fin_news_monitor.egg-info/PKG-INFO", "build/lib/monitor/__init__.py", ".env"):
        assert _ignored(heavy, patterns), heavy


def test_build_context_keeps_what_the_images_copy():
    patterns = _ignore_patterns()
    for dockerfile in ("Dockerfile", "Dockerfile.cuda"):
        text = (ROOT / dockerfile).read_text(encoding="utf-8")
        copied = [src for line in re.findall(r"^COPY (.+)$", text, re.M) for src in line.split()[:-1]]
        assert copied, dockerfile
        for src in copied:
            assert (ROOT / src).exists() and not _ignored(src, patterns), (dockerfile, src)
    assert not _ignored("monitor/datasets/stock-market-tweets/timeline.csv", patterns)
    assert not _ignored("migrations/versions/env.py", patterns)


def test_gpu_overlay_puts_inference_and_retraining_on_the_cuda_image():
    overlay = yaml.safe_load((ROOT / "docker-compose.gpu.yml").read_text(encoding="utf-8"))["services"]
    base = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    for name in ("worker", "scheduler"):  # the scheduler's retrain job trains the model
        service = overlay[name]
        assert service["build"]["dockerfile"] == "Dockerfile.cuda", name
        assert service["image"] == "fin-news-monitor:cuda", name
        assert service["environment"]["MONITOR_MODEL__DEVICE"] == "cuda", name
        assert service["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"], name
        assert name in base, name
    assert "build" not in overlay.get("dashboard", {})  # the dashboard needs no GPU
