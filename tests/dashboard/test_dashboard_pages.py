"""Every page under AppTest against the real, seeded Postgres: what it shows and what its actions store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from dash_helpers import add_article, texts
from sqlalchemy import select

from dashboard.seed_demo import seed_demo
from monitor.learning import register_version
from monitor.store.orm import Alert, AlertMute, Label, ModelVersion

pytestmark = pytest.mark.integration


@pytest.fixture
def seeded(db):
    with db() as s:
        return seed_demo(s, days=1, articles=500, seed=3)


def no_exceptions(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, texts(at.error)


def test_overview_on_an_empty_database_says_how_to_stream_data_in(app):
    at = app()
    no_exceptions(at)
    assert "Overview" in texts(at.title)
    assert any("monitor demo" in t and "monitor produce" in t for t in texts(at.info))
    assert not at.get("vega_lite_chart")


def test_overview_shows_volume_share_alerts_and_pipeline(app, seeded):
    at = app()
    no_exceptions(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Articles"] == f"{seeded.articles:,}"
    assert metrics["Open alerts"] == "1"
    assert metrics["Throughput (texts/s)"] == "359"  # 182.4 + 176.9 from the two live workers
    assert metrics["Consumer lag"] == "45"
    charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert len(charts) == 3  # volume, negative share, stored per minute
    chosen = at.multiselect(key="overview_topics").value
    assert "Earnings" in chosen and len(chosen) == 5
    assert any("Earnings:" in t and "negative" in t for t in texts(at.markdown))
    assert [row for row in at.dataframe[0].value["worker"]] == ["worker-1", "worker-2"]


def test_overview_topic_selection_changes_the_charts(app, seeded):
    at = app()
    at.multiselect(key="overview_topics").set_value(["Macro"]).run()
    no_exceptions(at)
    volume = at.get("vega_lite_chart")[0].proto
    assert "Macro" in volume.spec and "Earnings" not in volume.spec  # the colour domain is the selection


def test_alerts_page_shows_figures_and_examples_and_acknowledges(app, seeded, db):
    at = app("views/alerts.py", analyst="maria")
    no_exceptions(at)
    labels = [m.label for m in at.metric]
    assert labels.count("Opened at") == 2  # the open and the resolved alert
    assert sum(t.startswith("**Opened:**") for t in texts(at.caption)) == 2  # why each one fired
    assert any("Example headlines" in t for t in texts(at.markdown))
    at.button(key=f"ack-{seeded.alert_id}").click().run()
    no_exceptions(at)
    with db() as s:
        alert = s.get(Alert, seeded.alert_id)
        assert alert.acknowledged_by == "maria" and alert.acknowledged_at is not None
    assert any("Acknowledged by maria" in t for t in texts(at.caption))


def test_alerts_page_mutes_a_topic_and_unmutes_it(app, seeded, db):
    at = app("views/alerts.py")
    form_scope = next(sb for sb in at.selectbox if sb.label == "Topic" and sb.options[0] == "All topics")
    form_scope.select("Macro")
    next(sb for sb in at.selectbox if sb.label == "For").select("24 hours")
    next(t for t in at.text_input if t.label == "Reason").input("Fed week")
    next(b for b in at.button if b.label == "Mute").click().run()
    no_exceptions(at)
    with db() as s:
        mute = s.get(AlertMute, "Macro")
        assert mute.reason == "Fed week"
        assert timedelta(hours=23) < mute.muted_until - datetime.now(UTC) <= timedelta(hours=24)
    assert any("Macro until" in t for t in texts(at.markdown))
    at.button(key="unmute-Macro").click().run()
    with db() as s:
        assert s.get(AlertMute, "Macro") is None


def test_alerts_link_from_a_webhook_opens_that_alert(app, seeded):
    from dash_helpers import APP
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["alert_id"] = str(seeded.alert_id)
    at.run()
    at.switch_page("views/alerts.py").run()
    no_exceptions(at)
    expanded = [e for e in at.expander if e.proto.expanded]
    assert len(expanded) == 1 and expanded[0].label.startswith("Earnings:") and "linked" in expanded[0].label


def test_writes_need_the_password_when_one_is_set(app, seeded, db, monkeypatch):
    monkeypatch.setenv("MONITOR_DASHBOARD__PASSWORD", "s3cret")
    at = app("views/alerts.py")
    assert not [b for b in at.button if b.key and b.key.startswith("ack-")]
    assert not [b for b in at.button if b.label == "Mute"]
    password = next(t for t in at.text_input if t.label == "Dashboard password")
    password.input("wrong")
    next(b for b in at.button if b.label == "Unlock").click().run()
    assert any("not the dashboard password" in t for t in texts(at.error))
    next(t for t in at.text_input if t.label == "Dashboard password").input("s3cret")
    next(b for b in at.button if b.label == "Unlock").click().run()
    at.button(key=f"ack-{seeded.alert_id}").click().run()
    with db() as s:
        assert s.get(Alert, seeded.alert_id).acknowledged_at is not None


def test_labeling_and_models_pages_are_read_only_until_unlocked(app, seeded, monkeypatch):
    monkeypatch.setenv("MONITOR_DASHBOARD__PASSWORD", "s3cret")
    at = app("views/labeling.py")
    no_exceptions(at)
    assert "Save label" not in [b.label for b in at.button]
    assert any("Model's guess" in t for t in texts(at.caption))  # the queue still shows, read-only
    at.switch_page("views/models.py").run()
    assert not [b for b in at.button if b.key in ("promote", "rollback")]
    assert "Champion: minilm-2" in [h.value for h in at.subheader]


def test_alerts_page_empty_state(app):
    at = app("views/alerts.py")
    no_exceptions(at)
    assert any("monitor alerts check" in t for t in texts(at.info))


def test_articles_page_filters_and_shows_predictions(app, db):
    with db() as s:
        add_article(
            s,
            "Tesla recalls cars",
            topic="Company | Product News",
            sentiment="negative",
            sentiment_confidence=0.61,
        )
        add_article(s, "Gold rallies", topic="Gold | Metals | Materials", sentiment="positive")
    at = app("views/articles.py")
    no_exceptions(at)
    assert len(at.dataframe[0].value) == 2
    at.text_input(key="articles_search").input("tesla").run()
    table = at.dataframe[0].value
    assert table["headline"].tolist() == ["Tesla recalls cars"]
    assert table["sentiment"].tolist() == ["negative"]
    assert table["sentiment_confidence"].tolist() == [pytest.approx(0.61)]
    at.multiselect(key="articles_sentiments").set_value(["positive"]).run()
    assert any("No article matches" in t for t in texts(at.info))


def test_labeling_queue_saves_a_correction_and_counts_it(app, db):
    with db() as s:
        unsure = add_article(s, "Rates may rise", topic="Macro", sentiment="neutral", topic_confidence=0.3)
        add_article(
            s,
            "Sure thing",
            topic="Earnings",
            sentiment="positive",
            topic_confidence=0.99,
            sentiment_confidence=0.99,
        )
    at = app("views/labeling.py", analyst="maria")
    no_exceptions(at)
    assert {m.label: m.value for m in at.metric}["Labels waiting for the next retrain"] == "0"
    first = at.selectbox(key=f"topic-{unsure.id}")  # least sure comes first
    assert first.value is None and "Macro (30%)" in first.label  # the guess beside, not chosen
    assert at.radio(key=f"sentiment-{unsure.id}").value is None
    first.select("Fed | Central Banks")
    at.radio(key=f"sentiment-{unsure.id}").set_value("negative")
    at.button[[b.label for b in at.button].index("Save label")].click().run()
    no_exceptions(at)
    with db() as s:
        label = s.scalars(select(Label)).one()
    assert (label.article_id, label.topic, label.sentiment) == (unsure.id, "Fed | Central Banks", "negative")
    assert (label.origin, label.author, label.text) == ("dashboard", "maria", "Rates may rise")
    assert {m.label: m.value for m in at.metric}["Labels waiting for the next retrain"] == "1"
    assert any(f"article {unsure.id}" in t for t in texts(at.success))
    assert f"topic-{unsure.id}" not in [sb.key for sb in at.selectbox]  # labeled: out of the queue


def test_labeling_not_sure_stores_only_the_other_task(app, db):
    with db() as s:
        article = add_article(s, "Odd headline", topic="IPO", sentiment="neutral", topic_confidence=0.2)
    at = app("views/labeling.py")
    at.selectbox(key=f"topic-{article.id}").select("— not sure —")
    at.radio(key=f"sentiment-{article.id}").set_value("positive")
    at.button[[b.label for b in at.button].index("Save label")].click().run()
    with db() as s:
        label = s.scalars(select(Label)).one()
    assert (label.topic, label.sentiment, label.author) == (None, "positive", "dashboard")


def test_labeling_queue_empty_state(app):
    at = app("views/labeling.py")
    no_exceptions(at)
    assert any("monitor demo" in t for t in texts(at.info))


def test_models_page_shows_versions_runs_and_promotes_and_rolls_back(app, seeded, db):
    at = app("views/models.py")
    no_exceptions(at)
    metrics = {m.label: m.value for m in at.metric}
    assert "Champion: minilm-2" in [h.value for h in at.subheader]
    assert metrics["Topic accuracy"] == "0.889" and metrics["Sentiment macro-F1"] == "0.830"
    assert not at.button(key="rollback").disabled  # minilm-1 was champion before
    versions, runs = (df.value for df in at.dataframe)
    assert versions["version"].tolist() == ["minilm-2", "minilm-1"]
    assert runs["outcome"].tolist() == ["promoted"]
    assert len(at.get("vega_lite_chart")) == 1

    at.selectbox(key="promote_version").select("minilm-1")
    at.button(key="promote").click().run()
    no_exceptions(at)
    with db() as s:
        status = dict(s.execute(select(ModelVersion.version, ModelVersion.status)).all())
    assert status == {"minilm-1": "champion", "minilm-2": "retired"}
    assert any("minilm-1 is now the champion" in t for t in texts(at.success))

    at.button(key="rollback").click().run()
    no_exceptions(at)
    with db() as s:
        status = dict(s.execute(select(ModelVersion.version, ModelVersion.status)).all())
    assert status["minilm-2"] == "champion"


def test_models_page_disables_rollback_when_nothing_came_before(app, db):
    with db() as s:
        register_version("only", "/m/only", session=s, status="champion")
    at = app("views/models.py")
    no_exceptions(at)
    assert at.button(key="rollback").disabled
    assert "Nothing to roll back to" in at.button(key="rollback").help


def test_models_page_shows_the_card_and_says_the_starter_is_below_target(app, db, tmp_path):
    starter = tmp_path / "models" / "starter"
    starter.mkdir(parents=True)
    (starter / "config.json").write_text(json.dumps({"training": {"arguments": {"epochs": 1, "limit": 8000}}}))
    (starter / "card.md").write_text("# Model card\n\nTrained on **26,930** examples.\n")
    scores = {"topic": {"accuracy": 0.756, "macro_f1": 0.685}, "sentiment": {"accuracy": 0.787, "macro_f1": 0.729}}
    with db() as s:
        register_version("v20261130-starter", str(starter), session=s, status="champion", scores=scores)
    at = app("views/models.py")
    no_exceptions(at)
    assert "Champion: v20261130-starter" in [h.value for h in at.subheader]
    warning = " ".join(texts(at.warning))
    assert "quick starter" in warning and "Topic accuracy 0.756 vs 0.879" in warning
    assert any("Trained on **26,930** examples." in t for t in texts(at.markdown))
    assert [e.label for e in at.expander] == ["Model card"]
    assert any("No retraining yet" in t for t in texts(at.caption))


def test_models_page_empty_state(app):
    at = app("views/models.py")
    no_exceptions(at)
    assert any("No model version" in t for t in texts(at.info))


def test_an_unreachable_or_unmigrated_database_is_one_clear_line(app, pg_admin_url, monkeypatch):
    import uuid

    from sqlalchemy.engine import make_url

    from monitor.local.postgres import create_database, drop_database

    missing = make_url(pg_admin_url).set(
        database=f"nope_{uuid.uuid4().hex[:8]}", drivername="postgresql+psycopg"
    )
    monkeypatch.setenv("MONITOR_DATABASE__URL", missing.render_as_string(hide_password=False))
    at = app()
    assert not at.exception
    assert any("cannot reach Postgres" in t and "MONITOR_DATABASE__URL" in t for t in texts(at.error))

    name = f"empty_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("MONITOR_DATABASE__URL", create_database(pg_admin_url, name))
    try:
        import streamlit as st

        st.cache_data.clear()
        at = app("views/models.py")
        assert not at.exception
        assert any("monitor db upgrade" in t for t in texts(at.error))
    finally:
        drop_database(pg_admin_url, name)


def test_labeling_shows_tweets_as_plain_text(app, db):
    tweet = "**$USO** spikes\n1. Brent up\n2. WTI up :red[no]"
    with db() as s:
        add_article(s, tweet, topic="Energy | Oil", sentiment="positive", topic_confidence=0.1)
    at = app("views/labeling.py")
    no_exceptions(at)
    assert tweet in [t.value for t in at.text]  # exactly as written: no bold, no list, no colour
    assert not any("USO" in t for t in texts(at.markdown))


def test_alerts_page_says_how_far_the_detector_judged_and_which_partition_it_waits_for(app, seeded, db):
    from sqlalchemy import func, text

    from monitor.store.orm import Article

    with db() as s:
        latest = s.scalar(select(func.max(Article.event_time)))
        s.execute(text("insert into partition_progress (topic, partition, event_time, stored_at, advanced_at, lag, "
                       "lag_at) values ('news', 0, :latest, now(), now(), 0, now()), "
                       "('news', 1, :behind, now(), now(), 12, now())"),
                  {"latest": latest, "behind": latest - timedelta(hours=1)})
    at = app("views/alerts.py")
    no_exceptions(at)
    captions = texts(at.caption)
    assert "Not judged yet" in captions
    waiting = [t for t in captions if t.startswith("Waiting for partitions still being read")]
    assert waiting and "news[1]" in waiting[0] and "12 message(s) behind" in waiting[0] and "news[0]" not in waiting[0]
