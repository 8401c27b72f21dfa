"""The CLI's promises: secrets masked, bad settings as one line naming the variable."""

import json
import subprocess
import sys

import pytest


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_config_show_masks_secrets():
    res = run_cli("config", "show", env={"MONITOR_DATABASE__URL": "postgresql://bob:hunter2@db:5432/m",
                                         "MONITOR_KAFKA__SASL_PASSWORD": "s3cret"})
    assert res.returncode == 0, res.stderr
    shown = json.loads(res.stdout)
    assert "hunter2" not in res.stdout and "s3cret" not in res.stdout
    assert shown["database"]["url"] == "postgresql://bob:***@db:5432/m"
    assert shown["kafka"]["sasl_password"] == "**********"


@pytest.mark.parametrize("variable", ["MONITOR_STREAM__MAX_BATCH_SIZE", "MONITOR_MODEL__MAX_BATCH_SIZE"])
def test_bad_setting_is_one_line_naming_the_variable(variable):
    res = run_cli("config", "show", env={variable: "lots"})  # the old name too, while it is still read
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and variable in res.stderr
    assert "Traceback" not in res.stderr


def test_unreachable_database_is_one_line():
    res = run_cli("db", "upgrade", env={"MONITOR_DATABASE__URL": "postgresql://postgres@127.0.0.1:1/none"})
    assert res.returncode == 2
    assert "MONITOR_DATABASE__URL" in res.stderr and "Traceback" not in res.stderr
