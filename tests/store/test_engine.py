"""Connection errors are one line and name the setting to fix."""

import pytest

from monitor.errors import ConfigError, DatabaseUnavailable
from monitor.settings import DatabaseSettings
from monitor.store import check_connection, make_engine
from monitor.store.engine import normalize_url


def test_plain_postgres_urls_use_psycopg3():
    assert normalize_url("postgres://u:p@h:5/db").startswith("postgresql+psycopg://u:p@h:5/db")


@pytest.mark.parametrize("url", ["mysql://x@y/z", "not a url at all"])
def test_non_postgres_url_is_a_config_error(url):
    with pytest.raises(ConfigError, match="MONITOR_DATABASE__URL"):
        normalize_url(url)


def test_unreachable_database_names_the_setting():
    engine = make_engine(DatabaseSettings(url="postgresql+psycopg://postgres:secret@127.0.0.1:1/x"))
    with pytest.raises(DatabaseUnavailable) as info:
        check_connection(engine)
    message = str(info.value)
    assert "MONITOR_DATABASE__URL" in message and "\n" not in message and "secret" not in message
