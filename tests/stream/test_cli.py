"""``monitor produce`` and ``monitor worker`` as a user runs them (subprocesses, real broker)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from monitor.settings import Settings

from .conftest import read_topic

pytestmark = pytest.mark.integration


def run_cli(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **env},
        timeout=120,
    )


def test_produce_csv_creates_the_topic_and_sends_keyed_messages(broker, tmp_path) -> None:
    topic = f"produce-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "tweets.csv"
    path.write_text(
        "text,label,created_at,row_id\nStocks rise,positive,2020-04-09T00:00:03Z,11\n"
        "Oil falls,negative,2020-04-09T00:00:05Z,12\nGold flat,neutral,,13\n"
    )
    res = run_cli(
        "produce",
        str(path),
        "--topic",
        topic,
        "--partitions",
        "2",
        "--limit",
        "2",
        env={"MONITOR_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap_servers},
    )
    assert res.returncode == 0, res.stderr
    assert f"created topic {topic} with 2 partitions" in res.stderr and "sent 2 messages" in res.stderr
    got = sorted(read_topic(broker.bootstrap_servers, topic, 2), key=lambda r: r.key)
    assert [r.key for r in got] == [b"11", b"12"]
    assert json.loads(got[0].value) == {
        "text": "Stocks rise",
        "label": "positive",
        "id": "11",
        "published_at": "2020-04-09T00:00:03Z",
    }
    assert {r.partition for r in got} <= {0, 1}


def test_produce_jsonl_from_stdin_at_a_rate(broker) -> None:
    topic = f"produce-{uuid.uuid4().hex[:8]}"
    lines = "".join(json.dumps({"id": i, "text": f"t{i}"}) + "\n" for i in range(6))
    started = time.monotonic()
    res = run_cli(
        "produce",
        "-",
        "--topic",
        topic,
        "--rate",
        "10",
        stdin=lines,
        env={"MONITOR_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap_servers},
    )
    assert res.returncode == 0, res.stderr
    assert time.monotonic() - started >= 0.5  # 6 messages at 10/s take at least 0.5 s
    got = read_topic(broker.bootstrap_servers, topic, 6)
    assert sorted(json.loads(r.value)["text"] for r in got) == [f"t{i}" for i in range(6)]


def test_a_replay_with_a_long_silence_waits_at_most_max_pause(broker, tmp_path) -> None:
    """A day without messages at 60x is 24 minutes of waiting; --max-pause 0.5 takes it down to half a second."""
    topic = f"produce-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "gap.jsonl"
    times = ["2020-05-09T23:00:00Z", "2020-05-09T23:00:30Z", "2020-05-10T23:00:30Z", "2020-05-10T23:01:00Z"]
    path.write_text("".join(json.dumps({"id": i, "text": f"t{i}", "published_at": t}) + "\n"
                            for i, t in enumerate(times)))
    env = {"MONITOR_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap_servers}
    started = time.monotonic()
    res = run_cli("produce", str(path), "--topic", topic, "--replay", "--speedup", "60", "--max-pause", "0.5", env=env)
    took = time.monotonic() - started
    assert res.returncode == 0, res.stderr
    assert took < 60, f"{took:.0f} s"  # start-up included; the silence alone would be 1,440 s
    got = sorted(read_topic(broker.bootstrap_servers, topic, 4), key=lambda r: r.key)
    assert [json.loads(r.value)["published_at"] for r in got] == times  # the times themselves are untouched
    res = run_cli("produce", str(path), "--topic", topic, "--max-pause", "1", env=env)
    assert res.returncode == 2 and res.stderr.strip() == "error: --max-pause goes with --replay", res.stderr


def test_produce_bad_file_is_one_line(broker, tmp_path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("headline\nno text column here\n")
    res = run_cli("produce", str(path), env={"MONITOR_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap_servers})
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "no `text` column" in res.stderr


@pytest.mark.parametrize("command", [["produce", "FILE"], ["worker", "--model", "MODEL"]])
def test_unreachable_broker_is_one_line_naming_the_setting(command, settings: Settings, tmp_path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"text": "a"}\n')
    args = [str(path) if a == "FILE" else str(tmp_path) if a == "MODEL" else a for a in command]
    res = run_cli(
        *args,
        env={
            "MONITOR_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1",
            "MONITOR_KAFKA__CONNECT_TIMEOUT_MS": "1000",
            "MONITOR_DATABASE__URL": settings.database.url.get_secret_value(),
        },
    )
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "MONITOR_KAFKA__BOOTSTRAP_SERVERS" in lines[0], res.stderr
