"""Fixtures for the dashboard: the app under AppTest against the real test database, and seeding helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import streamlit as st
from dash_helpers import APP
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from monitor.store import transaction


@pytest.fixture
def dashboard_env(database_url: str, clean_db: Engine, monkeypatch: pytest.MonkeyPatch) -> str:
    """The app reads this run's emptied database; cached reads from earlier tests are dropped."""
    monkeypatch.setenv("MONITOR_DATABASE__URL", database_url)
    monkeypatch.delenv("MONITOR_DASHBOARD__PASSWORD", raising=False)
    st.cache_data.clear()
    return database_url


@pytest.fixture
def app(dashboard_env: str) -> Callable[..., Any]:
    """``app(page=None)`` → an AppTest of the dashboard that has run once (on ``page`` when given)."""
    from streamlit.testing.v1 import AppTest

    def run(page: str | None = None, **state: Any) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=60)
        for key, value in state.items():
            at.session_state[key] = value
        at.run()
        if page:
            at.switch_page(page).run()
        return at

    return run


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Callable[[], Iterator[Session]]:
    """``with db() as s:`` one committed transaction on the test database."""
    return lambda: transaction(session_factory)
