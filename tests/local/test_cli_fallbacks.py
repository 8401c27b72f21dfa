"""`monitor predict` finds the model the workers serve, or says in one line why there is none."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from monitor.learning import register_version
from monitor.store import transaction

pytestmark = pytest.mark.integration


def _predict(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", "predict", "Fed signals two more rate hikes"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **env})


def _one_line_error(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stderr.strip().count("\n") == 0 and "Traceback" not in res.stderr, res.stderr
    return res.stderr


def test_no_champion_and_no_model_directory_is_one_line(database_url, clean_db, tmp_path):
    err = _one_line_error(_predict({"MONITOR_DATABASE__URL": database_url,
                                    "MONITOR_MODEL__DIRECTORY": str(tmp_path / "nothing")}))
    assert "no champion is registered" in err and "MONITOR_MODEL__DIRECTORY" in err and "--model" in err


def test_a_champion_whose_folder_is_gone_is_named(database_url, session_factory, tmp_path):
    with transaction(session_factory) as s:
        register_version("gone", str(tmp_path / "gone"), session=s, status="champion")
    err = _one_line_error(_predict({"MONITOR_DATABASE__URL": database_url,
                                    "MONITOR_MODEL__DIRECTORY": str(tmp_path / "nothing")}))
    assert f"the champion's directory {tmp_path / 'gone'} is missing" in err


def test_an_unreachable_registry_falls_back_to_the_directory_setting(tmp_path):
    err = _one_line_error(_predict({"MONITOR_DATABASE__URL": "postgresql+psycopg://postgres@127.0.0.1:1/monitor",
                                    "MONITOR_MODEL__DIRECTORY": str(tmp_path / "nothing")}))
    assert "the model registry is unreachable" in err and str(tmp_path / "nothing") in err
