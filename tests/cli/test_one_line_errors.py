"""Issue 11, item 7: every bad CLI input is one line naming what to fix, a non-zero exit, no traceback.

The cases the issue names run the real CLI in a subprocess, as a user would; the sweep over every
command and every setting (test_cli_fuzz.py) runs ``main()`` in-process to stay fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

GARBAGE = bytes(range(256)) * 8 + b"\xff\xfe\x00\x81text,label\n\xc3\x28"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


def run_in_process(monkeypatch, capsys, *args: str) -> subprocess.CompletedProcess[str]:
    """main() in this process (torch already imported): for the cases a subprocess would only slow down."""
    from monitor.cli import main

    monkeypatch.setattr(sys, "argv", ["monitor", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, exit_info.value.code, out, err)


def assert_one_line(res: subprocess.CompletedProcess[str], *needles: str, code: int = 2) -> None:
    assert res.returncode == code, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith("error: "), res.stderr
    for needle in needles:
        assert needle in res.stderr, (needle, res.stderr)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from monitor.model.testing import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny"), version="tiny-edges")


def test_evaluate_with_binary_garbage_data(tiny_model, tmp_path):
    data = tmp_path / "garbage.csv"
    data.write_bytes(GARBAGE)
    res = run_cli("evaluate", str(tiny_model), "--data", str(data), "--task", "sentiment")
    assert_one_line(res, str(data), "not UTF-8", "save it as UTF-8")


def test_evaluate_with_a_csv_field_over_the_size_limit(monkeypatch, capsys, tiny_model, tmp_path):
    data = tmp_path / "huge.csv"
    data.write_text('text,label\n"' + "x" * 200_000 + '",neutral\n')
    res = run_in_process(monkeypatch, capsys, "evaluate", str(tiny_model), "--data", str(data), "--task", "sentiment")
    assert_one_line(res, "line 2", "not valid CSV")  # the line the bad row starts on, as label files say


@pytest.mark.parametrize("content", [GARBAGE, b"[1, 2]"])
def test_model_directory_with_a_broken_config(monkeypatch, capsys, tmp_path, content):
    (tmp_path / "config.json").write_bytes(content)
    res = run_in_process(monkeypatch, capsys, "evaluate", str(tmp_path), "--data", "x.csv", "--task", "topic")
    assert_one_line(res, "config.json")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://postgres@127.0.0.1:5x/monitor", "port that is not a number"),
        ("postgresql://postgres@127.0.0.1:-1/monitor", "from 1 to 65535"),
        ("postgresql://postgres@127.0.0.1:0/monitor", "from 1 to 65535"),
    ],
)
def test_database_url_with_a_bad_port(url, message):
    assert_one_line(run_cli("db", "upgrade", env={"MONITOR_DATABASE__URL": url}), "MONITOR_DATABASE__URL", message)


@pytest.mark.parametrize("how", ["env", "option"])
def test_unknown_log_level(how):
    if how == "env":
        res = run_cli("config", "show", env={"MONITOR_LOG_LEVEL": "LOUD"})
    else:
        res = run_cli("--log-level", "LOUD", "config", "show")
    assert_one_line(res, "MONITOR_LOG_LEVEL", "'LOUD'", "DEBUG, INFO, WARNING, ERROR")


def test_log_level_is_case_insensitive():
    res = run_cli("config", "show", env={"MONITOR_LOG_LEVEL": "debug"})
    assert res.returncode == 0 and '"log_level": "DEBUG"' in res.stdout, res.stderr


@pytest.mark.parametrize("port", ["-5", "65536", "http"])
def test_metrics_port_out_of_range(port):
    assert_one_line(run_cli("config", "show", env={"MONITOR_METRICS__PORT": port}), "MONITOR_METRICS__PORT")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("no-such-command",), "No such command"),
        (("produce", "x.jsonl", "--limit", "lots"), "'--limit'"),
        (("evaluate",), "Missing argument"),
        (("webhooks", "disable", "99999999999999999999"), "endpoint_id"),
        (("config", "show", "--bogus"), "No such option"),
    ],
)
def test_usage_mistakes(args, needle):
    assert_one_line(run_cli(*args), needle, "--help")


def test_unknown_migration_revision(database_url):
    res = run_cli("db", "upgrade", "no-such-revision", env={"MONITOR_DATABASE__URL": database_url})
    assert_one_line(res, "no-such-revision", "alembic history")


def test_bad_json_in_a_settings_group():
    res = run_cli("config", "show", env={"MONITOR_ALERTS__WINDOW_SCALES_MINUTES": "60 and 360"})
    assert_one_line(res, "MONITOR_ALERTS", "JSON")


def test_label_file_with_a_csv_field_over_the_size_limit(database_url, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text('text,topic\nok,Earnings\n"' + "x" * 200_000 + '",Earnings\n')
    res = run_cli("labels", "import", str(path), env={"MONITOR_DATABASE__URL": database_url})
    assert_one_line(res, str(path), "line 3", "not valid CSV")


def test_a_path_that_is_a_directory(monkeypatch, capsys, tiny_model, tmp_path):
    data = tmp_path / "valid.csv"
    data.write_text("text,label\nShares slump,Bearish\n")
    args = ("evaluate", str(tiny_model), "--data", str(data), "--task", "sentiment", "--save", str(tmp_path))
    res = run_in_process(monkeypatch, capsys, *args)
    assert_one_line(res, str(tmp_path), "check the path")


def test_produce_reads_a_csv_with_a_byte_order_mark(tmp_path):
    """Spreadsheet programs write one; it must not hide the `text` column."""
    from monitor.stream.sources import read_messages

    path = tmp_path / "excel.csv"
    path.write_bytes("\ufefftext,id\nFed holds rates,a1\n".encode())
    assert [json.loads(m.value)["text"] for m in read_messages(str(path))] == ["Fed holds rates"]
