"""Serving: the registry's champion is served, swapped between batches, and a bad one never serves."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.errors import MonitorError
from monitor.learning.registry import promote_version, register_version
from monitor.learning.serving import RegistryModelSource
from monitor.settings import Settings
from monitor.store import transaction
from monitor.stream import StaticModelSource

pytestmark = pytest.mark.integration


@dataclass
class FakePredictor:
    """Stands for a loaded model: only its version matters to the source."""

    version: str


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def loader(path: Path) -> FakePredictor:
    """Loads a "model directory" made by make_dir below; anything else fails like a broken model."""
    marker = path / "version.txt"
    if not marker.is_file():
        raise FileNotFoundError(f"no model in {path}")
    return FakePredictor(version=marker.read_text())


def make_dir(root: Path, version: str) -> Path:
    path = root / version
    path.mkdir(parents=True)
    (path / "version.txt").write_text(version)
    return path


def test_static_source_never_changes() -> None:
    source = StaticModelSource(FakePredictor(version="v"))
    assert source.current().version == "v" and source.refresh() is False


def test_falls_back_to_the_configured_directory_without_a_champion(
    settings: Settings, session_factory, tmp_path: Path
) -> None:
    settings.model.directory = make_dir(tmp_path, "fallback")
    source = RegistryModelSource(settings, session_factory, loader=loader)
    assert source.current().version == "fallback"


def test_no_model_at_all_is_a_one_line_error(settings: Settings, session_factory) -> None:
    source = RegistryModelSource(settings, session_factory, loader=loader)
    with pytest.raises(MonitorError, match="MONITOR_MODEL__DIRECTORY"):
        source.current()


def test_new_champion_is_swapped_in_at_the_next_check_only(
    settings: Settings, session_factory, tmp_path: Path
) -> None:
    clock = FakeClock()
    with transaction(session_factory) as s:
        register_version("v1", str(make_dir(tmp_path, "v1")), session=s, status="champion")
    source = RegistryModelSource(settings, session_factory, check_seconds=30, loader=loader, clock=clock)
    assert source.current().version == "v1"
    with transaction(session_factory) as s:
        register_version("v2", str(make_dir(tmp_path, "v2")), session=s)
        promote_version("v2", session=s)
    clock.now += 10
    assert source.refresh() is False and source.current().version == "v1"  # not checked yet
    clock.now += 25
    assert source.refresh() is True and source.current().version == "v2"
    clock.now += 31
    assert source.refresh() is False  # same champion: nothing reloaded


def test_a_broken_champion_keeps_the_old_model_serving(
    settings: Settings, session_factory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    with transaction(session_factory) as s:
        register_version("good", str(make_dir(tmp_path, "good")), session=s, status="champion")
    source = RegistryModelSource(settings, session_factory, check_seconds=1, loader=loader, clock=clock)
    assert source.current().version == "good"
    with transaction(session_factory) as s:
        register_version("broken", str(tmp_path / "missing"), session=s)
        promote_version("broken", session=s)
    clock.now += 2
    with caplog.at_level(logging.ERROR):
        assert source.refresh() is False
    assert source.current().version == "good"
    assert any("cannot load model broken" in r.message and r.levelno == logging.ERROR for r in caplog.records)


def test_default_loader_serves_a_real_model_directory(settings: Settings, session_factory, tmp_path) -> None:
    from monitor.model.testing import make_tiny_model

    path = make_tiny_model(tmp_path / "tiny", version="tiny-reg")
    with transaction(session_factory) as s:
        register_version("tiny-reg", str(path), session=s, status="champion")
    settings.model.device = "cpu"
    predictor = RegistryModelSource(settings, session_factory).current()
    assert predictor.version == "tiny-reg"
    [prediction] = predictor.predict(["Fed raises rates"])
    assert prediction.sentiment in ("negative", "neutral", "positive")
