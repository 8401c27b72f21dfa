"""The dashboard's SQL against the real Postgres: latest prediction per article, buckets, filters, queue."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from dash_helpers import add_article

from dashboard import queries
from dashboard.queries import ArticleFilter
from monitor.learning import NewLabel, insert_labels
from monitor.store.orm import ALL_TOPICS, Alert, Prediction
from monitor.store.reads import list_alerts

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


def test_series_counts_each_article_once_by_its_latest_prediction(db):
    t0 = NOW.replace(minute=0, second=0) - timedelta(hours=3)  # on an hour boundary, like the buckets
    with db() as s:
        a = add_article(
            s, "Apple beats", topic="Earnings", sentiment="positive", at=t0 + timedelta(minutes=1)
        )
        add_article(
            s, "Fed holds", topic="Fed | Central Banks", sentiment="negative", at=t0 + timedelta(minutes=2)
        )
        add_article(s, "Late one", topic="Earnings", sentiment="negative", at=t0 + timedelta(minutes=70))
        # A newer model relabels the first article: only that prediction may count.
        s.add(
            Prediction(
                article_id=a.id,
                model_version="v2",
                topic="Macro",
                topic_confidence=0.7,
                sentiment="negative",
                sentiment_confidence=0.8,
                p_negative=0.8,
                p_neutral=0.1,
                p_positive=0.1,
                created_at=datetime.now(UTC) + timedelta(seconds=5),
            )
        )
    with db() as s:
        series = queries.fetch_topic_series(t0, NOW, timedelta(hours=1), session=s)
    rows = {(r.bucket.to_pydatetime(), r.topic): (r.articles, r.negative) for r in series.itertuples()}
    assert rows[(t0, "Macro")] == (1, 1)
    assert rows[(t0, "Fed | Central Banks")] == (1, 1)
    assert rows[(t0 + timedelta(hours=1), "Earnings")] == (1, 1)
    assert series["articles"].sum() == 3  # the relabelled article is not counted twice


def test_series_and_bounds_ignore_articles_outside_the_range_or_without_prediction(db):
    with db() as s:
        add_article(s, "old", at=NOW - timedelta(days=5))
        add_article(s, "new", at=NOW - timedelta(minutes=10))
        s.flush()
    with db() as s:
        series = queries.fetch_topic_series(NOW - timedelta(hours=1), NOW, timedelta(minutes=5), session=s)
        earliest, latest = queries.fetch_time_bounds(session=s)
    assert series["articles"].sum() == 1
    assert earliest == NOW - timedelta(days=5) and latest == NOW - timedelta(minutes=10)


def test_time_bounds_of_an_empty_database(db):
    with db() as s:
        assert queries.fetch_time_bounds(session=s) == (None, None)


def test_article_filter_narrows_by_text_topic_sentiment_source_time_and_confidence(db):
    with db() as s:
        add_article(
            s,
            "Tesla recalls 50% of cars",
            topic="Company | Product News",
            sentiment="negative",
            source="Reuters",
            sentiment_confidence=0.55,
        )
        add_article(
            s,
            "Tesla deliveries rise",
            topic="Company | Product News",
            sentiment="positive",
            source="CNBC",
            sentiment_confidence=0.95,
        )
        add_article(
            s, "Gold steady", topic="Gold | Metals | Materials", source="Reuters", at=NOW - timedelta(days=2)
        )

    def ids(flt: ArticleFilter) -> list[str]:
        with db() as s:
            frame, total = queries.fetch_articles(flt, session=s)
        assert total == len(frame)
        return sorted(frame["text"])

    assert len(ids(ArticleFilter())) == 3
    assert ids(ArticleFilter(search="tesla")) == ["Tesla deliveries rise", "Tesla recalls 50% of cars"]
    assert ids(ArticleFilter(search="50%")) == ["Tesla recalls 50% of cars"]  # % is literal, not a wildcard
    assert ids(ArticleFilter(sentiments=("negative",))) == ["Tesla recalls 50% of cars"]
    assert ids(ArticleFilter(sources=("Reuters",), topics=("Gold | Metals | Materials",))) == ["Gold steady"]
    assert ids(ArticleFilter(start=NOW - timedelta(hours=1))) == [
        "Tesla deliveries rise",
        "Tesla recalls 50% of cars",
    ]
    assert ids(ArticleFilter(sentiment_confidence=(0.0, 0.6))) == ["Tesla recalls 50% of cars"]


def test_article_list_is_capped_but_reports_the_full_count(db):
    with db() as s:
        for i in range(7):
            add_article(s, f"item {i}", at=NOW - timedelta(minutes=i))
    with db() as s:
        frame, total = queries.fetch_articles(ArticleFilter(), session=s, limit=3)
    assert total == 7
    assert frame["text"].tolist() == ["item 0", "item 1", "item 2"]  # newest first


def test_label_queue_puts_the_least_sure_first_and_skips_labeled_articles(db):
    with db() as s:
        sure = add_article(s, "sure", topic_confidence=0.99, sentiment_confidence=0.99)
        unsure_topic = add_article(s, "unsure topic", topic_confidence=0.31, sentiment_confidence=0.99)
        unsure_sent = add_article(s, "unsure sentiment", topic_confidence=0.9, sentiment_confidence=0.4)
        labeled = add_article(s, "already labeled", topic_confidence=0.2, sentiment_confidence=0.2)
        insert_labels(
            [
                NewLabel(
                    text="already labeled", sentiment="neutral", origin="dashboard", article_id=labeled.id
                )
            ],
            session=s,
        )
    with db() as s:
        queue = queries.fetch_label_queue(session=s, limit=10)
        only_macro = queries.fetch_label_queue(session=s, topic="Macro")
    assert queue["article_id"].tolist() == [unsure_topic.id, unsure_sent.id, sure.id]
    assert only_macro.empty


def test_the_detector_and_the_dashboard_agree_on_an_articles_current_label(db):
    """Two predictions whose created_at order disagrees with their insertion order (two workers'
    transactions committing out of order): both sides take the newest by id."""
    from monitor.alerts.counts import load_bucket_counts
    from monitor.store.orm import ALL_TOPICS

    at = NOW - timedelta(minutes=30)
    with db() as s:
        a = add_article(s, "Oil slides as OPEC adds supply", topic="Energy | Oil", sentiment="neutral", at=at)
        s.add(Prediction(article_id=a.id, model_version="v2", topic="Energy | Oil", topic_confidence=0.9,
                         sentiment="negative", sentiment_confidence=0.9, p_negative=0.9, p_neutral=0.05,
                         p_positive=0.05, created_at=NOW - timedelta(days=1)))  # inserted last, stamped first
    with db() as s:
        shown = queries.fetch_article(a.id, session=s)
        counts = load_bucket_counts(at - timedelta(hours=1), 2, timedelta(hours=1), tickers=False, session=s)
    assert shown["sentiment"] == "negative" and shown["model_version"] == "v2"
    assert counts.negative[ALL_TOPICS].sum() == 1 and counts.total[ALL_TOPICS].sum() == 1


def _add_alert(s, scope: str, status: str, opened_at: datetime) -> int:
    alert = Alert(
        scope=scope, status=status, opened_at=opened_at,
        window_start=opened_at - timedelta(hours=1), window_end=opened_at, baseline_start=opened_at - timedelta(days=1),
        window_count=40, window_negative=25, baseline_count=400, baseline_negative=80,
        observed_share=0.625, baseline_share=0.2, peak_share=0.65, statistic=5.1, p_value=1e-7, examples=[],
    )
    s.add(alert)
    s.flush()
    return alert.id


def _cli_alert_ids(database_url: str, *args: str) -> list[int]:
    env = {**os.environ, "MONITOR_DATABASE__URL": database_url}
    res = subprocess.run([sys.executable, "-m", "monitor", "alerts", "list", *args],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    return [int(m) for m in re.findall(r"^#(\d+) ", res.stdout, flags=re.MULTILINE)]


def test_dashboard_and_cli_list_the_same_alerts_for_the_same_filters(db, database_url):
    t0 = NOW - timedelta(days=2)
    with db() as s:
        for hours, scope, status in [(0, "Earnings", "resolved"), (5, ALL_TOPICS, "resolved"),
                                     (5, "Earnings", "open"), (9, "$AAPL", "open"), (12, ALL_TOPICS, "open")]:
            _add_alert(s, scope, status, t0 + timedelta(hours=hours))
    since = t0 + timedelta(hours=5)
    cases = [  # (dashboard filters, the same filters as CLI options)
        ({}, ["--status", "all"]),
        ({"status": "open"}, ["--status", "open"]),
        ({"status": "resolved", "scope": "Earnings"}, ["--status", "resolved", "--scope", "Earnings"]),
        ({"scope": ALL_TOPICS, "since": since}, ["--status", "all", "--scope", "all", "--since", since.isoformat()]),
        ({"limit": 2}, ["--status", "all", "--limit", "2"]),
    ]
    for filters, options in cases:
        with db() as s:
            shown = queries.fetch_alerts(session=s, **filters)
            stored = [a.id for a in list_alerts(session=s, **filters)]
        assert [a["id"] for a in shown] == stored, filters
        assert _cli_alert_ids(database_url, *options) == stored, options
    assert len(shown) == 2 and {"group_id", "opening", "peak", "resolution", "acknowledged_by"} <= shown[0].keys()
