"""Unit tests of the dashboard's pure shaping functions (no Streamlit, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dash_helpers  # noqa: F401  (puts the repository root on sys.path)
import pandas as pd
import pytest

from dashboard import shaping
from dashboard.shaping import ALL_TOPICS_LABEL, Window
from monitor.store.orm import ALL_TOPICS

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("span", "bucket"),
    [
        (timedelta(hours=1), timedelta(minutes=1)),
        (timedelta(hours=6), timedelta(minutes=5)),
        (timedelta(hours=24), timedelta(minutes=15)),
        (timedelta(days=3), timedelta(hours=1)),
        (timedelta(days=7), timedelta(hours=2)),
        (timedelta(days=30), timedelta(hours=6)),
        (timedelta(days=3000), timedelta(days=30)),
    ],
)
def test_bucket_grows_with_the_range_and_keeps_charts_under_the_point_limit(span, bucket):
    assert shaping.choose_bucket(span) == bucket
    assert span / bucket <= shaping.MAX_BUCKETS or bucket == shaping.BUCKET_LADDER[-1]


def test_window_ends_now_when_recent_data_exists():
    w = shaping.resolve_window(timedelta(hours=6), NOW, NOW - timedelta(days=2), NOW - timedelta(minutes=3))
    assert (w.start, w.end, w.shifted) == (NOW - timedelta(hours=6), NOW, False)


def test_window_moves_back_to_the_latest_article_when_the_range_would_be_empty():
    latest = NOW - timedelta(days=400)  # a replay of old tweets
    w = shaping.resolve_window(timedelta(hours=24), NOW, latest - timedelta(days=30), latest)
    assert w.shifted
    assert w.start == latest - timedelta(hours=24)
    assert w.start <= latest < w.end


def test_all_time_window_spans_the_data_not_up_to_today():
    earliest = NOW - timedelta(days=9)
    w = shaping.resolve_window(None, NOW, earliest, NOW - timedelta(hours=1))
    assert (w.start, w.end, w.shifted) == (earliest, NOW - timedelta(hours=1) + timedelta(seconds=1), False)
    replay_end = NOW - timedelta(days=2000)  # 2020 tweets replayed in 2026: no six empty years on the axis
    w = shaping.resolve_window(None, NOW, replay_end - timedelta(days=90), replay_end)
    assert w.end - replay_end == timedelta(seconds=1) and w.shifted


def test_default_range_widens_from_the_latest_event_to_take_in_the_latest_alert():
    latest = NOW - timedelta(days=2000)  # a replay: the burst alerted 25 days before its last tweet
    assert shaping.default_range(NOW, latest, [latest - timedelta(days=25)]) == "Last 30 days"
    assert shaping.default_range(NOW, latest, [latest - timedelta(hours=5)]) == "Last 24 hours"
    assert shaping.default_range(NOW, latest, [latest - timedelta(days=2)]) == "Last 3 days"
    assert shaping.default_range(NOW, latest, []) == "Last 24 hours"
    assert shaping.default_range(NOW, latest, [latest - timedelta(days=90)]) == "All time"
    assert shaping.default_range(NOW, latest, [latest + timedelta(days=1)]) == "Last 24 hours"  # not yet
    live = NOW - timedelta(seconds=5)
    assert shaping.default_range(NOW, live, [NOW - timedelta(hours=30)]) == "Last 3 days"
    assert shaping.default_range(NOW, live, [NOW - timedelta(hours=2)], fallback="All time") == "All time"


@pytest.mark.parametrize(
    ("span", "fmt"),
    [(timedelta(hours=6), "%H:%M"), (timedelta(days=3), "%a %b %d"), (timedelta(days=30), "%b %d, %Y"),
     (timedelta(days=2000), "%b %Y")],
)
def test_time_axis_names_the_year_beyond_ten_days(span, fmt):
    from dashboard.charts import time_axis

    assert time_axis(pd.Timedelta(span)).format == fmt


def _series(rows):
    frame = pd.DataFrame(rows, columns=["bucket", "topic", "articles", "negative"])
    frame["bucket"] = pd.to_datetime(frame["bucket"], utc=True)
    return frame


def test_shape_series_fills_empty_buckets_adds_all_topics_and_hides_thin_shares():
    t0 = NOW - timedelta(hours=3)
    series = _series(
        [
            (t0, "Earnings", 10, 5),
            (t0, "Macro", 30, 3),
            (t0 + timedelta(hours=2), "Earnings", 2, 2),
        ]
    )
    window = Window(t0, t0 + timedelta(hours=2, minutes=30))
    shaped = shaping.shape_series(series, ["Earnings"], window, timedelta(hours=1), smooth=1, min_articles=5)

    earnings = shaped[shaped["topic"] == "Earnings"].set_index("bucket")
    assert earnings["articles"].tolist() == [10, 0, 2]  # the empty middle hour is drawn as zero
    assert earnings["share"].iloc[0] == pytest.approx(0.5)
    assert earnings["share"].iloc[1:].isna().all()  # 0 and 2 articles: too few for a share
    everything = shaped[shaped["topic"] == ALL_TOPICS_LABEL]
    assert everything["articles"].tolist() == [40, 0, 2]  # all topics, not only the selected ones
    assert everything["share"].iloc[0] == pytest.approx(8 / 40)
    assert set(shaped["topic"]) == {"Earnings", ALL_TOPICS_LABEL}


def test_shape_series_share_is_taken_over_trailing_buckets():
    t0 = NOW - timedelta(hours=3)
    series = _series([(t0, "Earnings", 6, 0), (t0 + timedelta(hours=1), "Earnings", 6, 6)])
    shaped = shaping.shape_series(
        series,
        ["Earnings"],
        Window(t0, t0 + timedelta(hours=1)),
        timedelta(hours=1),
        smooth=2,
        min_articles=8,
    )
    shares = shaped[shaped["topic"] == "Earnings"]["share"].tolist()
    assert pd.isna(shares[0])  # 6 < 8 articles
    assert shares[1] == pytest.approx(0.5)  # 6 negative of the 12 in both buckets


def test_recent_share_and_range_totals():
    t0 = NOW - timedelta(hours=4)
    series = _series([(t0 + timedelta(hours=h), "Earnings", 10, n) for h, n in enumerate([1, 1, 1, 9])])
    window = Window(t0, t0 + timedelta(hours=3, minutes=1))
    shaped = shaping.shape_series(series, ["Earnings"], window, timedelta(hours=1))
    assert shaping.range_totals(series) == (40, pytest.approx(12 / 40))
    assert shaping.recent_share(shaped, tail_buckets=1) == pytest.approx(0.9)
    assert shaping.range_totals(series.iloc[0:0]) == (0, None)


def test_top_topics_by_volume():
    series = _series(
        [(NOW, "A", 1, 0), (NOW, "B", 5, 0), (NOW, "C", 3, 0), (NOW - timedelta(hours=1), "A", 1, 0)]
    )
    assert shaping.top_topics(series, 2) == ["B", "C"]
    assert shaping.top_topics(series.iloc[0:0]) == []


@pytest.mark.parametrize(
    ("lag", "total"),
    [
        (None, None),
        (7, 7),
        ({"news[0]": 3, "news[1]": 4}, 7),
        ({"news": {"0": 1, "1": 2}}, 3),
        ([1, 2, None], 3),
        ({}, None),
        ("n/a", None),
        (True, None),
    ],
)
def test_total_lag_sums_whatever_shape_a_worker_reported(lag, total):
    assert shaping.total_lag(lag) == total


def test_workers_summary_marks_stale_ones_and_counts_only_live_speed_and_lag():
    beats = [
        {
            "worker_id": "w1",
            "updated_at": NOW - timedelta(seconds=5),
            "model_version": "v2",
            "texts_per_second": 150.0,
            "lag": {"p0": 10},
            "messages_stored": 100,
            "messages_dead_lettered": 1,
        },
        {
            "worker_id": "w2",
            "updated_at": NOW - timedelta(hours=3),
            "model_version": "v1",
            "texts_per_second": 99.0,
            "lag": {"p0": 500},
            "messages_stored": 5,
            "messages_dead_lettered": 0,
        },
    ]
    workers = shaping.summarize_workers(beats, NOW, timedelta(minutes=2))
    assert workers["status"].tolist() == ["live", "stale"]
    assert workers["last_seen"].tolist() == ["5 s ago", "3 h ago"]
    assert shaping.pipeline_totals(workers) == (1, 150.0, 10)
    empty = shaping.summarize_workers([], NOW, timedelta(minutes=2))
    assert shaping.pipeline_totals(empty) == (0, 0.0, None)


def test_alert_text_and_example_headlines():
    alert = {
        "scope": ALL_TOPICS,
        "observed_share": 0.42,
        "baseline_share": 0.2,
        "window_negative": 21,
        "window_count": 50,
    }
    assert shaping.alert_summary(alert) == "All topics: 42% negative (baseline 20%, 21 of 50)"
    examples = [
        {"headline": "Shares  slump\nafter miss"},
        {"title": "Profit warning"},
        "plain text",
        {"x": 1},
    ]
    assert shaping.example_headlines(examples) == ["Shares slump after miss", "Profit warning", "plain text"]
    assert shaping.example_headlines(None) == []


def test_alerts_are_placed_at_their_window_end_and_only_inside_the_range():
    window = Window(NOW - timedelta(hours=6), NOW)
    alerts = [
        {"scope": "Macro", "window_end": NOW - timedelta(hours=1), "observed_share": 0.5},
        {"scope": ALL_TOPICS, "window_end": NOW - timedelta(days=2), "observed_share": 0.4},
    ]
    marks = shaping.alerts_in_window(alerts, window)
    assert marks.to_dict("records") == [
        {"scope": "Macro", "at": NOW - timedelta(hours=1), "observed_share": 0.5}
    ]


def test_scores_nested_or_flat_give_the_same_headline_figures():
    nested = {"topic": {"accuracy": 0.9, "macro_f1": 0.8, "n": 100}, "sentiment": {"accuracy": 0.85}}
    flat = {"topic_accuracy": 0.9, "topic_macro_f1": 0.8, "sentiment_accuracy": 0.85, "note": "x"}
    expected = {"topic.accuracy": 0.9, "topic.macro_f1": 0.8, "sentiment.accuracy": 0.85}
    assert shaping.headline_scores(nested) == expected
    assert shaping.headline_scores(flat) == expected
    assert shaping.flatten_scores(nested)["topic.n"] == 100.0
    assert shaping.headline_scores(None) == {}


def test_version_and_run_tables():
    versions = [
        {
            "version": "v2",
            "status": "champion",
            "created_at": NOW,
            "promoted_at": NOW,
            "path": "/m/v2",
            "scores": {"topic": {"accuracy": 0.9}},
        }
    ]
    rows = shaping.version_rows(versions)
    assert rows.loc[0, "topic.accuracy"] == 0.9 and rows.loc[0, "status"] == "champion"
    assert shaping.scores_long(versions).to_dict("records") == [
        {"version": "v2", "metric": "Topic accuracy", "value": 0.9, "status": "champion"}
    ]
    runs = [
        {
            "started_at": NOW - timedelta(minutes=30),
            "finished_at": NOW,
            "trigger": "labels",
            "status": "rejected",
            "n_new_labels": 250,
            "candidate_version": "v3",
            "champion_version": "v2",
            "candidate_scores": {"topic": {"accuracy": 0.88}},
            "champion_scores": {"topic": {"accuracy": 0.9}},
            "decision": "topic accuracy fell 0.02",
            "error": None,
        }
    ]
    table = shaping.run_rows(runs)
    assert table.loc[0, "outcome"] == "rejected"
    assert table.loc[0, "took"] == "30 min"
    assert table.loc[0, "Δ topic.accuracy"] == pytest.approx(-0.02)
    assert pd.isna(table.loc[0, "Δ sentiment.accuracy"])


def test_label_options_offer_the_labels_and_skip_and_store_nothing_unchosen():
    assert shaping.label_options(["negative", "neutral", "positive"]) == [
        "negative", "neutral", "positive", shaping.SKIP_LABEL
    ]
    assert shaping.chosen_label(None) is None and shaping.chosen_label(shaping.SKIP_LABEL) is None
    assert shaping.chosen_label("neutral") == "neutral"
    assert shaping.model_guess("Fed | Central Banks", 0.1) == "Fed | Central Banks (10%)"


def test_the_quick_starter_and_scores_below_the_full_preset_are_recognised():
    starter = {"topic": {"accuracy": 0.756, "macro_f1": 0.685}, "sentiment": {"accuracy": 0.787, "macro_f1": 0.729}}
    low = shaping.below_target(starter)
    assert set(low) == set(shaping.HEADLINE_SCORES) and low["topic.accuracy"] == (0.756, 0.879)
    assert shaping.below_target({"topic": {"accuracy": 0.88, "macro_f1": 0.87}}) == {}
    assert shaping.is_quick_starter("/x/.local/models/starter", None)
    assert shaping.is_quick_starter("/m/v1", {"epochs": 1, "limit": 8000, "seed": 0})
    assert not shaping.is_quick_starter("/m/v2", {"epochs": 3, "limit": None})


def test_rollback_target_is_the_champion_before_the_current_one():
    def v(name, status, promoted):
        return {"version": name, "status": status, "promoted_at": NOW - timedelta(days=promoted) if promoted else None}

    assert shaping.rollback_target([v("starter", "champion", 1)]) is None  # nothing to roll back to
    assert shaping.rollback_target([v("starter", "champion", 1), v("cand", "rejected", None)]) is None
    versions = [v("v3", "champion", 1), v("v2", "archived", 3), v("v1", "archived", 9)]
    assert shaping.rollback_target(versions) == "v2"


def test_article_rows_use_the_title_else_the_text():
    articles = pd.DataFrame(
        [
            {
                "article_id": 1,
                "event_time": NOW,
                "source": "R",
                "title": "Title",
                "text": "body",
                "topic": "Macro",
                "topic_confidence": 0.9,
                "sentiment": "negative",
                "sentiment_confidence": 0.8,
                "p_negative": 0.8,
                "model_version": "v1",
            },
            {
                "article_id": 2,
                "event_time": NOW,
                "source": None,
                "title": None,
                "text": "only text",
                "topic": "IPO",
                "topic_confidence": 0.5,
                "sentiment": "neutral",
                "sentiment_confidence": 0.6,
                "p_negative": 0.1,
                "model_version": "v1",
            },
        ]
    )
    rows = shaping.article_rows(articles)
    assert rows["headline"].tolist() == ["Title", "only text"]
    assert list(rows.columns) == shaping.ARTICLE_COLUMNS
    assert shaping.article_rows(articles.iloc[0:0]).empty


@pytest.mark.parametrize(
    ("age", "text"),
    [
        (timedelta(seconds=4), "4 s ago"),
        (timedelta(minutes=5), "5 min ago"),
        (timedelta(hours=5), "5 h ago"),
        (timedelta(days=3), "3 d ago"),
        (timedelta(seconds=-3), "0 s ago"),
    ],
)
def test_format_age(age, text):
    assert shaping.format_age(age) == text


def test_format_span():
    assert [shaping.format_span(timedelta(minutes=m)) for m in (5, 120, 2880)] == ["5 min", "2 h", "2 d"]


def test_an_expired_resolution_says_there_was_no_evidence_not_a_share():
    figures = {"reason": "expired", "window_end": "2024-03-07T12:40:00+00:00",
               "evidence_until": "2024-03-04T12:40:00+00:00", "observed_share": 1.0, "window_count": 1}
    line = shaping.moment_line(figures)
    assert line.startswith("expired at 2024-03-07 12:40 UTC") and "since 2024-03-04 12:40 UTC" in line
    assert "%" not in line  # a one-article window's share is not shown as if it meant something


@pytest.mark.parametrize(("kind", "says"), [
    ("borrowed", "all topics' baseline"), ("filled", "usually more negative"), ("own", None), (None, None),
])
def test_a_moment_says_what_a_thin_scope_was_judged_against(kind, says):
    figures = {"observed_share": 0.7, "baseline_share": 0.11, "window_negative": 7, "window_count": 10,
               "window_minutes": 1440, "window_end": "2024-03-07T12:40:00+00:00", "baseline_negative": 400,
               "baseline_count": 3600, "statistic": 4.2, "p_value": 1e-5}
    if kind is not None:
        figures["baseline_kind"] = kind
    line = shaping.moment_line(figures)
    assert line.startswith("70% negative vs baseline 11%")
    if says:
        assert says in line
    else:
        assert "(" not in line  # a scope's own baseline (or an alert stored before kinds) adds nothing


def test_a_moment_gives_the_reading_rise_only_when_the_window_was_judged_on_readings():
    figures = {"observed_share": 0.2, "baseline_share": 0.1, "window_negative": 2, "window_count": 10,
               "window_minutes": 1440, "window_end": "2024-03-07T12:40:00+00:00", "baseline_negative": 10,
               "baseline_count": 100, "statistic": 3.1, "p_value": 1e-4}
    assert "delta" not in shaping.moment_line(figures)
    assert "read more negative by delta +0.35" in shaping.moment_line(figures | {"reading_rise": 0.35})
