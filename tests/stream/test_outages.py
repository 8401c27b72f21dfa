"""Failures mid-stream: Postgres unreachable for a while, a worker killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from monitor.settings import DatabaseSettings, Settings, settings_env
from monitor.store import make_engine

from .conftest import committed_offsets, count_stored, expected_commits, news, send, stored, wait_until
from .proxy import TcpProxy

pytestmark = pytest.mark.integration


def test_postgres_unreachable_for_a_while_worker_waits_then_finishes(
    fast_settings: Settings, clean_db: Engine, start_worker, broker
) -> None:
    url = make_url(fast_settings.database.url.get_secret_value())
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    proxied_url = url.set(port=proxy.port).render_as_string(hide_password=False)
    via_proxy = make_engine(DatabaseSettings(url=proxied_url))
    topic, group = fast_settings.kafka.input_topic, fast_settings.kafka.consumer_group
    try:
        worker = start_worker(engine=via_proxy)
        first = send(broker.bootstrap_servers, topic, news(100, "before"))
        wait_until(lambda: count_stored(clean_db) == 100, 60, "the first 100 articles")
        wait_until(
            lambda: committed_offsets(broker.bootstrap_servers, group, topic) == expected_commits(first),
            20,
            "the first offsets to be committed",
        )

        with clean_db.connect() as conn:
            cut_at = conn.execute(text("select now()")).scalar_one()
        proxy.cut()
        second = send(broker.bootstrap_servers, topic, news(100, "during"))
        wait_until(lambda: worker.worker.metrics.backpressure._value.get() >= 1, 30, "the worker to back off")
        time.sleep(2.0)  # several backoff rounds while Postgres stays unreachable
        assert count_stored(clean_db) == 100
        assert committed_offsets(broker.bootstrap_servers, group, topic) == expected_commits(first)

        proxy.start()  # same port: the worker's engine reconnects on its own
        wait_until(lambda: count_stored(clean_db) == 200, 60, "all 200 articles after the outage")
        everything = {**first, **{i + 100: w for i, w in second.items()}}
        wait_until(
            lambda: committed_offsets(broker.bootstrap_servers, group, topic) == expected_commits(everything),
            20,
            "all offsets to be committed",
        )
        worker.stop()
    finally:
        proxy.cut()
        via_proxy.dispose()
    # Resuming, the worker announced its partitions again (the detector's watermark: a resumed backlog is moving).
    with clean_db.connect() as conn:
        announced = conn.execute(text("select partition, announced_at from partition_progress")).all()
    assert len(announced) == 3 and all(at > cut_at for _, at in announced), (cut_at, announced)
    rows = stored(clean_db)
    assert len(rows) == 200 and len({(r[0], r[1]) for r in rows}) == 200
    assert all(n == 1 for *_, n in rows)
    assert sorted(r[3] for r in rows) == sorted(
        v.decode().split('"')[3] for v in news(100, "before") + news(100, "during")
    )


def worker_process(settings: Settings, model_dir, log_path, cwd, extra_env: dict | None = None) -> subprocess.Popen:
    env = {
        **os.environ,
        **settings_env(settings),
        "MONITOR_METRICS__PORT": "0",
        "MONITOR_MODEL__DEVICE": "cpu",
        "MONITOR_STREAM__MAX_BATCH_SIZE": "8",
        "MONITOR_STREAM__MAX_WAIT_MS": "50",
        **(extra_env or {}),
    }
    cmd = [sys.executable, "-c", "from monitor.cli import main; main()", "worker", "--model", str(model_dir)]
    return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT)


def test_worker_killed_with_sigkill_mid_stream_then_restarted_loses_and_doubles_nothing(
    fast_settings: Settings, clean_db: Engine, broker, tmp_path
) -> None:
    from monitor.model.testing import make_tiny_model

    model_dir = make_tiny_model(tmp_path / "tiny", version="tiny-kill")
    topic, log_path = fast_settings.kafka.input_topic, tmp_path / "worker.log"
    warmup = send(broker.bootstrap_servers, topic, news(10, "warm-up"))
    stream: dict[int, tuple[int, int]] = {}

    def produce_slowly() -> None:  # 1,200 messages over about 4 s, so the kill lands mid-stream
        for chunk in range(12):
            sent = send(broker.bootstrap_servers, topic, news(100, f"stream-{chunk}"))
            stream.update({chunk * 100 + i: w for i, w in sent.items()})
            time.sleep(0.3)

    first = worker_process(fast_settings, model_dir, log_path, tmp_path)
    second = None
    try:
        wait_until(lambda: count_stored(clean_db) >= 10, 90, "the first worker to store the warm-up")
        producer = threading.Thread(target=produce_slowly)
        producer.start()
        wait_until(lambda: count_stored(clean_db) >= 150, 60, "the first worker to be busy")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        at_kill = count_stored(clean_db)
        producer.join(60)
        assert at_kill < 1210, "the kill came too late to be mid-stream"

        second = worker_process(fast_settings, model_dir, log_path, tmp_path)
        wait_until(lambda: count_stored(clean_db) == 1210, 120, "the restarted worker to store everything")
        everything = {**{i: w for i, w in warmup.items()}, **{i + 10: w for i, w in stream.items()}}
        group = fast_settings.kafka.consumer_group
        wait_until(
            lambda: committed_offsets(broker.bootstrap_servers, group, topic) == expected_commits(everything),
            30,
            "every offset to be committed",
        )
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, log_path.read_text()[-3000:]
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
    rows = stored(clean_db)
    assert len(rows) == 1210 and len({(r[0], r[1]) for r in rows}) == 1210
    assert all(n == 1 for *_, n in rows)
    assert "worker stopped" in log_path.read_text()
