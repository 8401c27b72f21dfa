"""Pieces of the demo a newcomer reads: its webhook lines, its progress lines, and the settings it hands out."""

from __future__ import annotations

import subprocess

import pytest
from sqlalchemy import Engine, text

from monitor.local.progress import StoredProgress
from monitor.local.receiver import describe_event
from monitor.local.shell import export_lines, read_env_file, shared_settings, write_env_file


def test_webhook_lines_name_the_scope_readably_and_link_the_alert():
    opened = {"type": "alert.opened", "data": {
        "scope": "__all__", "all_topics": True, "observed_share": 0.78, "baseline_share": 0.17, "statistic": 5.8,
        "dashboard_url": "http://localhost:8501/alerts?alert_id=2"}}
    assert describe_event(opened) == ("[webhook] alert.opened All topics: negative share 78% vs baseline 17% "
                                      "(z=5.8) http://localhost:8501/alerts?alert_id=2")
    test = describe_event({"type": "test", "data": {"endpoint_id": 1, "message": "Test event"}})
    assert test == "[webhook] test event for endpoint 1: signature verified"
    assert "?" not in test and "__all__" not in describe_event(opened)


def _child(alert_id, scope, opened_at, share, base):
    return {"alert_id": alert_id, "scope": scope, "status": "open", "opened_at": opened_at,
            "opening": {"observed_share": share, "baseline_share": base},
            "dashboard_url": f"http://localhost:8501/alerts?alert_id={alert_id}"}


def test_group_lines_say_which_scopes_joined_rather_than_repeat_the_lead():
    lead = {"scope": "__all__", "observed_share": 0.81, "baseline_share": 0.25, "statistic": 6.1,
            "dashboard_url": "http://localhost:8501/alerts?alert_id=14", "group": {"id": 4}}
    first = [_child(14, "__all__", "2020-07-16T17:33:00+00:00", 0.81, 0.25),
             _child(13, "Financials", "2020-07-16T17:33:00+00:00", 1.0, 0.24)]
    opened = describe_event({"type": "alert.opened", "data": {**lead, "children": first}})
    assert opened == ("[webhook] alert.opened group 4 All topics: negative share 81% vs baseline 25% (z=6.1); "
                      "with Financials http://localhost:8501/alerts?alert_id=14")
    later = first + [_child(15, "$MSFT", "2020-07-16T18:03:00+00:00", 0.69, 0.23),
                     _child(16, "$TSLA", "2020-07-16T18:03:00+00:00", 0.54, 0.26)]
    updated = describe_event({"type": "alert.updated", "data": {**lead, "children": later}})
    assert updated == ("[webhook] alert.updated group 4: + $MSFT (69% vs 23%), $TSLA (54% vs 26%) joined "
                       "(4 scopes in the group) http://localhost:8501/alerts?alert_id=15")
    odd = describe_event({"type": "alert.updated", "data": {"children": [{"scope": "$X", "opened_at": None}]}})
    assert odd == "[webhook] alert.updated: + $X joined (1 scope in the group)"


def test_env_file_round_trips_through_a_real_shell(tmp_path):
    env = {"MONITOR_DATABASE__URL": "postgresql+psycopg://postgres@/monitor?host=/tmp/x y/.s.PGSQL",
           "MONITOR_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:41234", "MONITOR_METRICS__PORT": "9108"}
    settings = shared_settings(env, {"MONITOR_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES": "true"})
    assert "MONITOR_METRICS__PORT" not in settings  # a worker started from that shell would collide with the demo's
    path = write_env_file(tmp_path / "demo.env", settings)
    shown = subprocess.run(["bash", "-c", f'source "{path}" && echo "$MONITOR_DATABASE__URL"'],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert shown == env["MONITOR_DATABASE__URL"]  # a space in the socket path survives the quoting
    assert read_env_file(path) == settings
    assert export_lines(settings, ("MONITOR_KAFKA__BOOTSTRAP_SERVERS",)) == [
        "export MONITOR_KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:41234"
    ]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _store(engine: Engine, n: int, start: int) -> None:
    with engine.begin() as conn:
        for i in range(start, start + n):
            conn.execute(text("insert into articles (external_id, text, event_time, kafka_topic, kafka_partition, "
                              "kafka_offset) values (:id, 'x', now(), 'news', 0, :off)"), {"id": f"p-{i}", "off": i})


@pytest.mark.integration
def test_progress_lines_measure_the_replay_from_the_first_stored_articles(clean_db: Engine):
    _store(clean_db, 5, 0)  # an earlier run's articles are not this replay's progress
    clock = Clock()
    progress = StoredProgress(clean_db, total=100, every=10, clock=clock)
    clock.now = 5
    assert progress.report() is None  # not due yet
    clock.now = 20
    assert "stored 0 of 100" in progress.report()
    _store(clean_db, 20, 5)
    clock.now = 30
    assert progress.report().startswith("stored 20 of 100 messages")
    _store(clean_db, 40, 25)
    clock.now = 40
    line = progress.report()
    assert line == "stored 60 of 100 messages (4.0/s measured, about 10s to go)"  # 40 in 10 s since the first
    _store(clean_db, 40, 65)
    clock.now = 50
    assert progress.report().startswith("all 100 messages stored in 50s")
    clock.now = 70
    assert progress.report() is None  # said once


def test_a_child_logging_to_a_file_writes_its_progress_as_lines(tmp_path):
    """A bar redraws itself with carriage returns: in the demo's log files that was one endless line. The
    project's bars (``monitor.progress``) write a line per update there instead, and the last one says 5/5."""
    import sys

    from monitor.local.processes import ProcessGroup

    script = ("import time\nfrom tqdm import tqdm\nfrom monitor import progress\nprogress.LOG_INTERVAL_SECONDS = 0.05\n"
              "for _ in tqdm(range(5), desc='news', **progress.bar_options()): time.sleep(0.06)\n"
              "print('sent 5 messages')")
    group = ProcessGroup(tmp_path / "logs", {})
    group.start("produce", [sys.executable, "-c", script]).wait(60)
    log = (tmp_path / "logs" / "produce.log").read_bytes().decode()
    lines = log.splitlines()
    assert "\r" not in log and len(lines) >= 3, log
    assert all(line.startswith("news: ") for line in lines[:-1]) and "5/5" in lines[-2]
    assert lines[-1] == "sent 5 messages"
