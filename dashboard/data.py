"""The dashboard's only door to Postgres: cached reads (short TTLs, the data is live) and the write actions.

Settings are read per script run (cheap) so the page follows the environment; the engine is built once per
database URL on first use, never at import time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import Engine, inspect
from sqlalchemy.orm import Session

import monitor.alerts.actions as actions
from dashboard import queries
from monitor.errors import MonitorError
from monitor.learning import NewLabel, count_unused_labels, insert_labels, list_versions
from monitor.learning import promote_version as _promote_version
from monitor.learning import rollback_champion as _rollback_champion
from monitor.settings import Settings, load_settings
from monitor.store import check_connection, make_engine, make_session_factory, transaction

log = logging.getLogger(__name__)

LIVE_TTL = 10  # seconds; below the overview's refresh period so each refresh sees new rows
SLOW_TTL = 60


def settings() -> Settings:
    return load_settings()


@st.cache_resource(show_spinner=False)
def _engine_for(url: str) -> Engine:
    from monitor.settings import DatabaseSettings

    return make_engine(DatabaseSettings(url=url))


def engine() -> Engine:
    return _engine_for(settings().database.url.get_secret_value())


@contextmanager
def session() -> Iterator[Session]:
    """One transaction: commits when the block succeeds, rolls back otherwise."""
    with transaction(make_session_factory(engine())) as s:
        yield s


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def database_problem() -> str | None:
    """None when Postgres answers and is migrated, else one line saying what to do."""
    try:
        eng = engine()
        check_connection(eng)
        if not inspect(eng).has_table("articles"):
            return "the database has no tables yet: run `monitor db upgrade`, then reload this page"
    except MonitorError as exc:
        return str(exc)
    return None


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def time_bounds() -> tuple[datetime | None, datetime | None]:
    with session() as s:
        return queries.fetch_time_bounds(session=s)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def topic_series(start: datetime, end: datetime, bucket: timedelta) -> pd.DataFrame:
    with session() as s:
        return queries.fetch_topic_series(start, end, bucket, session=s)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def stored_per_minute(since: datetime) -> pd.DataFrame:
    with session() as s:
        return queries.fetch_stored_per_minute(since, session=s)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def heartbeats() -> list[dict[str, Any]]:
    with session() as s:
        return queries.fetch_heartbeats(session=s)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def alerts(
    status: str | None = None, scope: str | None = None, since: datetime | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    with session() as s:
        return queries.fetch_alerts(session=s, status=status, scope=scope, since=since, limit=limit)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def detector_status() -> tuple[datetime | None, list[dict[str, Any]]]:
    """Per scope: what the alert detector can decide now (rate, usable window scales, or why not)."""
    from monitor.alerts import describe_scopes

    with session() as s:
        now, scopes = describe_scopes(settings().alerts, session=s)
    return now, [{"scope": x.scope, "per_day": x.articles_per_day, "usable": x.usable, "verdict": x.verdict}
                 for x in scopes]


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def detector_progress(latest: datetime) -> dict[str, Any]:
    """How far the detector has judged, and the partitions (still being read) that hold the next check back."""
    from monitor.alerts import describe_progress

    with session() as s:
        p = describe_progress(settings().alerts, latest, session=s)
    return {"judged": p.judged, "stops_at": p.stops_at, "holders": p.holders, "stalled": p.stalled}


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def active_mutes() -> list[dict[str, Any]]:
    with session() as s:
        return [
            {"scope": m.scope, "muted_until": m.muted_until, "reason": m.reason}
            for m in actions.list_active_mutes(session=s)
        ]


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def articles(flt: queries.ArticleFilter, limit: int = 500) -> tuple[pd.DataFrame, int]:
    with session() as s:
        return queries.fetch_articles(flt, session=s, limit=limit)


@st.cache_data(ttl=SLOW_TTL, show_spinner=False)
def sources() -> list[str]:
    with session() as s:
        return queries.fetch_sources(session=s)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def label_queue(since: datetime | None, topic: str | None, limit: int) -> pd.DataFrame:
    with session() as s:
        return queries.fetch_label_queue(session=s, since=since, topic=topic, limit=limit)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def unused_labels() -> int:
    with session() as s:
        return count_unused_labels(session=s)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def versions() -> list[dict[str, Any]]:
    with session() as s:
        return [queries.row_dict(v) for v in list_versions(session=s)]


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def training_runs() -> list[dict[str, Any]]:
    with session() as s:
        return queries.fetch_training_runs(session=s)


@st.cache_data(ttl=SLOW_TTL, show_spinner=False)
def model_files(path: str) -> dict[str, Any]:
    """From a model directory: its ``card.md`` (None when absent) and its training arguments (config.json)."""
    from monitor.errors import MonitorError
    from monitor.model.directory import ModelDirectory

    folder = ModelDirectory(path)
    try:
        training = folder.config.training
    except (MonitorError, OSError, TypeError):  # unreadable, not JSON, or not a model config
        return {"card": folder.card() if folder.path.is_dir() else None, "arguments": None, "readable": False}
    arguments = training.get("arguments") if isinstance(training, dict) else None
    return {
        "card": folder.card(),
        "arguments": arguments if isinstance(arguments, dict) else None,
        "readable": True,
    }


# Writes: one transaction each, then every cached read is dropped so the page shows the change at once.


def save_label(article_id: int, topic: str | None, sentiment: str | None, author: str | None) -> bool:
    """Store an analyst's label for an article; False when the same label was already stored."""
    with session() as s:
        article = queries.fetch_article(article_id, session=s)
        if article is None:
            raise MonitorError(f"article {article_id} no longer exists; reload the queue")
        label = NewLabel(
            text=_label_text(article),
            topic=topic,
            sentiment=sentiment,
            origin="dashboard",
            article_id=article_id,
            author=author or None,
        )
        new = insert_labels([label], session=s)
    _changed()
    return bool(new)


def acknowledge(alert_id: int, by: str) -> None:
    with session() as s:
        actions.acknowledge_alert(alert_id, by, session=s)
    _changed()


def mute(scope: str, until: datetime, reason: str | None) -> None:
    with session() as s:
        actions.mute_scope(scope, until, reason, session=s)
    _changed()


def unmute(scope: str) -> bool:
    with session() as s:
        removed = actions.unmute_scope(scope, session=s)
    _changed()
    return removed


def promote(version: str) -> None:
    with session() as s:
        _promote_version(version, session=s)
    log.info("model %s promoted from the dashboard", version)
    _changed()


def rollback() -> str:
    with session() as s:
        version = _rollback_champion(session=s).version
    log.info("champion rolled back to %s from the dashboard", version)
    _changed()
    return version


def _label_text(article: dict[str, Any]) -> str:
    # The label carries the text the worker classified, so retraining learns from what the model saw.
    return article["text"]


def _changed() -> None:
    st.cache_data.clear()
