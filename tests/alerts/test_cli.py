"""`monitor alerts` and `monitor webhooks` as a user runs them (subprocess, real Postgres, real receiver)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text

from monitor.store import transaction
from monitor.store.orm import WebhookEndpoint

from .receiver import Receiver
from .streams import BURST_START, T0, stream, volume_burst, write_items

pytestmark = pytest.mark.integration


def run_cli(*args: str, database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MONITOR_DATABASE__URL": database_url,
        "MONITOR_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES": "true",
        "MONITOR_WEBHOOKS__TIMEOUT_SECONDS": "2",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_webhooks_add_list_test_disable(session_factory, database_url):
    receiver = Receiver().start()
    try:
        res = run_cli("webhooks", "add", receiver.url, "--topics", "Earnings,all", database_url=database_url)
        assert res.returncode == 0, res.stderr
        secret = res.stdout.split("store it now): ")[1].strip()
        assert secret.startswith("whsec_")
        receiver.secret = secret
        listed = run_cli("webhooks", "list", database_url=database_url)
        assert "enabled" in listed.stdout and secret not in listed.stdout and secret[-4:] in listed.stdout
        with transaction(session_factory) as session:
            [endpoint] = session.scalars(select(WebhookEndpoint)).all()
        assert sorted(endpoint.topics) == ["Earnings", "__all__"]

        tested = run_cli("webhooks", "test", str(endpoint.id), database_url=database_url)
        assert tested.returncode == 0, tested.stderr
        assert "delivered (HTTP 200)" in tested.stdout
        [got] = receiver.received
        assert got.verified and got.body["type"] == "test"

        off = run_cli("webhooks", "disable", str(endpoint.id), database_url=database_url)
        assert off.returncode == 0 and "disabled" in off.stdout
        again = run_cli("webhooks", "test", str(endpoint.id), database_url=database_url)
        assert again.returncode == 2 and "is disabled" in again.stderr and "Traceback" not in again.stderr
    finally:
        receiver.stop()


def test_webhooks_add_refuses_loopback_in_one_line(clean_db, database_url):
    res = run_cli(
        "webhooks",
        "add",
        "http://127.0.0.1:9/x",
        database_url=database_url,
        MONITOR_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES="false",
    )
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "MONITOR_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES" in res.stderr


def test_alerts_check_then_list_then_relay(session_factory, database_url):
    receiver = Receiver().start()
    try:
        with transaction(session_factory) as session:
            write_items(stream(seed=11, burst=volume_burst()), session=session)
        added = run_cli("webhooks", "add", receiver.url, "--topic", "Earnings", database_url=database_url)
        receiver.secret = added.stdout.split("store it now): ")[1].strip()
        env = {"MONITOR_ALERTS__MIN_COUNT": "10", "MONITOR_ALERTS__BASELINE_MINUTES": "720"}
        now = (BURST_START + timedelta(minutes=50)).isoformat()
        checked = run_cli("alerts", "check", "--now", now, database_url=database_url, **env)
        assert checked.returncode == 0, checked.stderr
        assert "opened   #1 Earnings" in checked.stdout or "opened   #2 Earnings" in checked.stdout
        listed = run_cli("alerts", "list", database_url=database_url)
        assert "Earnings" in listed.stdout and "open" in listed.stdout
        relayed = run_cli("webhooks", "relay", database_url=database_url)
        assert "delivered 1," in relayed.stdout  # only the Earnings alert matches the filter
        assert [r.body["data"]["scope"] for r in receiver.received if r.verified] == ["Earnings"]
        bad = run_cli("alerts", "check", "--now", "yesterday", database_url=database_url)
        assert bad.returncode == 2 and "ISO 8601" in bad.stderr
    finally:
        receiver.stop()


@pytest.fixture
def stored_burst(session_factory) -> dict[str, str]:
    """The Earnings burst stream stored; the settings the CLI runs on it with (a 12-hour baseline)."""
    with transaction(session_factory) as session:
        write_items(stream(seed=12, burst=volume_burst()), session=session)
    return {"MONITOR_ALERTS__BASELINE_MINUTES": "720"}


def test_alerts_backfill_status_and_list_show_the_opening_figures(stored_burst, database_url):
    env = stored_burst
    status = run_cli("alerts", "status", database_url=database_url, **env)
    assert status.returncode == 0, status.stderr
    assert "Earnings" in status.stdout and "decides on 1 h, 6 h windows" in status.stdout
    # Each window length's share of the rate (0.005 x length / 1 d, at most all of it).
    assert "windows 1 h at 0.000208, 6 h at 0.00125, 1 d at 0.005, 3 d at 0.005" in status.stdout
    assert "the all-topics scope's tests weigh 4x" in status.stdout
    filled = run_cli("alerts", "backfill", database_url=database_url, **env)
    assert filled.returncode == 0, filled.stderr
    assert "opened   #" in filled.stdout and "Earnings" in filled.stdout
    # The all-topics scope by words in every line a person reads, the detector's log lines included.
    assert "All topics" in filled.stdout and "opened for All topics" in filled.stderr
    assert "__all__" not in filled.stdout + filled.stderr
    evaluated_from = datetime.fromisoformat(filled.stdout.split(" step(s) from ")[1].split()[0])
    assert T0 - timedelta(minutes=20) <= evaluated_from <= T0  # from the first stored event, not the last window
    listed = run_cli("alerts", "list", "--status", "all", database_url=database_url)
    line = next(x for x in listed.stdout.splitlines() if " Earnings " in x)
    assert "resolved" in line and "opened at " in line and "; peak " in line and "; resolved at " in line
    again = run_cli("alerts", "backfill", "--since", T0.isoformat(), database_url=database_url, **env)
    assert again.returncode == 2 and "already evaluated" in again.stderr and "Traceback" not in again.stderr
    assert again.stderr.count("\n") == 1
    bad = run_cli("alerts", "backfill", "--since", "last week", database_url=database_url)
    assert bad.returncode == 2 and "--since" in bad.stderr and "ISO 8601" in bad.stderr


def test_alerts_replay_prints_what_would_open_and_stores_nothing(stored_burst, database_url):
    env = stored_burst
    replayed = run_cli("alerts", "replay", database_url=database_url, **env)
    assert replayed.returncode == 0, replayed.stderr
    assert "from a clean slate" in replayed.stdout and "nothing was written or sent" in replayed.stdout
    line = next(x for x in replayed.stdout.splitlines() if " Earnings " in x)
    assert line.lstrip().startswith("#") and "opened at " in line and "; peak " in line
    assert "All topics" in replayed.stdout and "__all__" not in replayed.stdout + replayed.stderr
    assert "opened for" not in replayed.stderr  # the detector's "alert N opened" log lines: nothing was opened
    listed = run_cli("alerts", "list", "--status", "all", database_url=database_url)
    assert listed.stdout.strip() == "no all alerts"
    # The same decisions as the backfill that does store them.
    filled = run_cli("alerts", "backfill", database_url=database_url, **env)
    stored = run_cli("alerts", "list", "--status", "all", "--limit", "100", database_url=database_url)
    count = int(replayed.stdout.split("clean slate: ")[1].split()[0])
    assert filled.returncode == 0 and len(stored.stdout.splitlines()) == count == 2
    bad = run_cli("alerts", "replay", "--until", "soon", database_url=database_url)
    assert bad.returncode == 2 and "--until" in bad.stderr and "Traceback" not in bad.stderr


def test_check_status_and_backfill_say_which_partition_holds_them_back(stored_burst, session_factory, database_url):
    env = stored_burst
    behind = T0 + timedelta(hours=10)
    with transaction(session_factory) as session:
        session.execute(text("insert into partition_progress (topic, partition, event_time, stored_at, advanced_at, "
                             "lag, lag_at) values ('news', 1, :at, now(), now(), 40, now())"), {"at": behind})
    status = run_cli("alerts", "status", database_url=database_url, **env)
    assert status.returncode == 0, status.stderr
    assert "detector not run yet; latest event " in status.stdout
    # Steps end every 10 minutes; an article of partition 1 may still come dated exactly at 10:00.
    last_step = behind - timedelta(minutes=10)
    assert f"the next check judges up to {last_step.isoformat()}, held by news[1] " \
           f"({behind.isoformat()}, 40 message(s) behind)" in status.stdout
    checked = run_cli("alerts", "check", database_url=database_url, **env)
    assert checked.returncode == 0, checked.stderr
    assert f"checked up to {last_step.isoformat()}" in checked.stdout
    assert "held short of the latest event" in checked.stdout and "news[1]" in checked.stdout
    assert "detector judged up to " in run_cli("alerts", "status", database_url=database_url, **env).stdout
    with transaction(session_factory) as session:  # a partition just assigned: its end not known, nothing stored
        session.execute(text("update partition_progress set event_time = null, lag = null"))
    waiting = run_cli("alerts", "backfill", "--since", behind.isoformat(), database_url=database_url, **env)
    assert waiting.returncode == 2 and "Traceback" not in waiting.stderr and waiting.stderr.count("\n") == 1
    assert "news[1] (nothing stored yet, backlog not known yet) has a backlog" in waiting.stderr


def test_alerts_status_on_an_empty_store(clean_db, database_url):
    res = run_cli("alerts", "status", database_url=database_url)
    assert res.returncode == 0 and "no articles stored yet" in res.stdout


def test_a_listed_moment_says_when_a_thin_scope_was_judged_against_all_topics():
    from monitor.cli.alerts import _moment

    figures = {"observed_share": 0.7, "baseline_share": 0.11, "window_negative": 7, "window_count": 10,
               "window_minutes": 1440, "window_end": "2024-03-07T12:40:00+00:00", "p_value": 1e-5}
    assert "against" not in _moment(figures)  # its own baseline, or an alert stored before kinds were recorded
    assert "against all topics' baseline" in _moment(figures | {"baseline_kind": "borrowed"})
    assert "filled up to the minimum" in _moment(figures | {"baseline_kind": "filled"})


def test_a_listed_moment_gives_the_reading_rise_when_the_window_was_judged_on_readings():
    from monitor.cli.alerts import _moment

    figures = {"observed_share": 0.2, "baseline_share": 0.1, "window_negative": 2, "window_count": 10,
               "window_minutes": 1440, "window_end": "2024-03-07T12:40:00+00:00", "p_value": 1e-4}
    assert "delta" not in _moment(figures)  # the label signal, or an alert stored before
    assert "read more negative than the baseline by delta +0.42" in _moment(figures | {"reading_rise": 0.42})
