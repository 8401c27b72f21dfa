"""A demo's second run: its own database starts afresh; somebody else's data is never dropped by default."""

import uuid

import psycopg
import pytest

from monitor.local.postgres import create_database, drop_database
from monitor.local.rerun import inspect_database, prepare_database
from monitor.store import migrate

pytestmark = pytest.mark.integration


@pytest.fixture
def database(pg_admin_url):
    name = f"monitor_rerun_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_admin_url, name, exist_ok=False)
    yield url
    drop_database(pg_admin_url, name)


def _add_article(url: str) -> None:
    migrate.upgrade(url)
    libpq = url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute("insert into articles (external_id, text, event_time, kafka_topic, kafka_partition, "
                     "kafka_offset) values ('x-1', 'Stocks slide', now(), 'news', 0, 0)")


def test_a_database_the_demo_filled_is_emptied_on_the_next_run(database):
    assert "is empty" in prepare_database(database, None)  # first run: marks it as the demo's
    _add_article(database)
    said = prepare_database(database, None)
    assert "held 1 article and 0 alerts" in said and "dropped and created again" in said
    state = inspect_database(database)
    assert state.articles == 0 and state.marked


def test_keep_data_keeps_it_and_says_no_alert_will_come(database):
    prepare_database(database, None)
    _add_article(database)
    said = prepare_database(database, False)
    assert "expect no new alert" in said and "without --keep-data" in said
    assert inspect_database(database).articles == 1


def test_somebody_elses_data_is_kept_unless_fresh_is_asked(database):
    _add_article(database)  # filled before any demo run: not the demo's database
    said = prepare_database(database, None)
    assert "expect no new alert" in said and "--fresh" in said
    assert inspect_database(database).articles == 1
    assert "dropped and created again" in prepare_database(database, True)
    assert inspect_database(database).articles == 0
