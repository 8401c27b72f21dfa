"""A hung database (connections accepted, no answers): the worker says it paused, then stores everything."""

from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from monitor.settings import DatabaseSettings, Settings
from monitor.store import make_engine

from .conftest import committed_offsets, count_stored, expected_commits, news, send, stored, wait_until
from .proxy import TcpProxy

pytestmark = pytest.mark.integration

STATEMENT_TIMEOUT_MS = 1000  # the client deadline is then 2 s


def gauge(worker, name: str) -> float:
    return worker.worker.metrics.registry.get_sample_value(name) or 0.0


def logged(caplog: pytest.LogCaptureFixture, words: str) -> bool:
    return any(words in r.getMessage() for r in caplog.records)


def test_a_hung_database_is_visible_backpressure_and_nothing_is_lost(
    fast_settings: Settings, clean_db: Engine, start_worker, broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="monitor")
    fast_settings.kafka.max_poll_interval_ms = 8000  # a 2 s deadline must not cost the group membership
    url = make_url(fast_settings.database.url.get_secret_value())
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    via_proxy = make_engine(
        DatabaseSettings(
            url=url.set(port=proxy.port).render_as_string(hide_password=False),
            statement_timeout_ms=STATEMENT_TIMEOUT_MS,
            connect_timeout_seconds=1,
        )
    )
    topic, group = fast_settings.kafka.input_topic, fast_settings.kafka.consumer_group
    try:
        worker = start_worker(engine=via_proxy)
        first = send(broker.bootstrap_servers, topic, news(50, "before"))
        wait_until(lambda: count_stored(clean_db) == 50, 60, "the first 50 articles")
        assert gauge(worker, "monitor_worker_paused") == 0

        proxy.stall()
        hung_at = time.monotonic()
        second = send(broker.bootstrap_servers, topic, news(50, "during"))
        wait_until(lambda: gauge(worker, "monitor_worker_paused") == 1, 15, "the paused gauge")
        wait_until(lambda: logged(caplog, "paused"), 5, "a log line saying the worker paused")
        assert time.monotonic() - hung_at < 10, "the pause must show within the deadline, not when TCP gives up"
        assert gauge(worker, "monitor_worker_backpressure_total") >= 1
        time.sleep(3)  # several retries against the hung database
        assert count_stored(clean_db) == 50
        assert committed_offsets(broker.bootstrap_servers, group, topic) == expected_commits(first)

        with clean_db.connect() as conn:
            healed_at = conn.execute(text("select now()")).scalar_one()
        proxy.heal()
        wait_until(lambda: count_stored(clean_db) == 100, 60, "all 100 articles after the database answers")
        wait_until(lambda: gauge(worker, "monitor_worker_paused") == 0, 10, "the gauge back at 0")
        assert logged(caplog, "resumed")
        everything = {**first, **{i + 50: w for i, w in second.items()}}
        wait_until(
            lambda: committed_offsets(broker.bootstrap_servers, group, topic) == expected_commits(everything),
            20,
            "all offsets committed",
        )
        worker.stop()
    finally:
        proxy.heal()
        proxy.cut()
        via_proxy.dispose()
    # Resuming, it announced its partitions again before storing them (the detector's watermark waits for them).
    with clean_db.connect() as conn:
        progress = conn.execute(text("select announced_at, stored_at from partition_progress")).all()
    assert len(progress) == 3 and all(healed_at < announced for announced, _ in progress), progress
    assert all(announced <= stored for announced, stored in progress if stored > healed_at), progress
    rows = stored(clean_db)
    assert len(rows) == 100 and len({(r[0], r[1]) for r in rows}) == 100
    assert all(n == 1 for *_, n in rows)


def test_a_worker_started_while_the_database_hangs_joins_its_group_and_stores_everything_once_it_answers(
    fast_settings: Settings, clean_db: Engine, start_worker, broker, caplog: pytest.LogCaptureFixture
) -> None:
    """Every heartbeat and announcement against the hung database blocks the consumer thread for the answer
    deadline; at a heartbeat every 0.5 s that left no time to poll, and the member never got its partitions."""
    caplog.set_level(logging.INFO, logger="monitor")
    fast_settings.kafka.max_poll_interval_ms = 8000
    url = make_url(fast_settings.database.url.get_secret_value())
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    via_proxy = make_engine(DatabaseSettings(url=url.set(port=proxy.port).render_as_string(hide_password=False),
                                             statement_timeout_ms=STATEMENT_TIMEOUT_MS, connect_timeout_seconds=1))
    topic, group = fast_settings.kafka.input_topic, fast_settings.kafka.consumer_group
    try:
        proxy.stall()
        worker = start_worker(engine=via_proxy)
        sent = send(broker.bootstrap_servers, topic, news(40, "hung-start"))
        wait_until(lambda: len(worker.worker.assignment()) == 3, 40,
                   "the partitions assigned while the database hangs")
        time.sleep(2)
        assert count_stored(clean_db) == 0
        assert logged(caplog, "cannot write the heartbeat")
        proxy.heal()
        wait_until(lambda: count_stored(clean_db) == 40, 60, "all 40 articles once the database answers")
        wait_until(lambda: committed_offsets(broker.bootstrap_servers, group, topic) == expected_commits(sent), 20,
                   "all offsets committed")
        worker.stop()
    finally:
        proxy.heal()
        proxy.cut()
        via_proxy.dispose()
    assert all(n == 1 for *_, n in stored(clean_db))
