"""Every table can be written and read back on the real Postgres; the constraints hold."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from monitor.store import transaction
from monitor.store.orm import (
    Alert,
    AlertMute,
    Article,
    Label,
    ModelVersion,
    Prediction,
    TrainingRun,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WorkerHeartbeat,
)

pytestmark = pytest.mark.integration
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _article(offset: int, external_id: str | None = None) -> Article:
    return Article(external_id=external_id, text=f"text {offset}", source="wire", event_time=NOW,
                   kafka_topic="news", kafka_partition=0, kafka_offset=offset, extra={"k": "v"}, tickers=["AAPL"])


def test_write_and_read_every_table(session_factory):
    with transaction(session_factory) as s:
        art = _article(1, "a-1")
        s.add(art)
        s.flush()
        s.add(Prediction(article_id=art.id, model_version="v1", topic="Earnings", topic_confidence=0.9,
                         sentiment="negative", sentiment_confidence=0.8, p_negative=0.8, p_neutral=0.15,
                         p_positive=0.05))
        run = TrainingRun(trigger="manual", status="running", n_labels=3)
        s.add(run)
        s.flush()
        s.add(Label(dedupe_key="k1", text="t", topic="Earnings", origin="import", used_by_run_id=run.id))
        s.add(ModelVersion(version="v1", path="/m/v1", status="champion", scores={"topic": {"accuracy": 0.9}},
                           training_run_id=run.id))
        alert = Alert(scope="Earnings", status="open", window_start=NOW - timedelta(hours=1), window_end=NOW,
                      baseline_start=NOW - timedelta(days=1), window_count=40, window_negative=30,
                      baseline_count=400, baseline_negative=80, observed_share=0.75, baseline_share=0.2,
                      peak_share=0.75, statistic=7.1, p_value=1e-9, examples=["bad news"])
        s.add(alert)
        s.add(AlertMute(scope="Macro", muted_until=NOW + timedelta(hours=2)))
        ep = WebhookEndpoint(url="https://example.com/hook", secret="whsec_x", topics=["Earnings"])
        s.add(ep)
        s.flush()
        d = WebhookDelivery(webhook_id="msg_1", alert_id=alert.id, endpoint_id=ep.id, event_type="alert.opened",
                            payload={"type": "alert.opened"}, status="pending")
        s.add(d)
        s.flush()
        s.add(WebhookAttempt(delivery_id=d.id, status_code=500, error="boom", duration_ms=12.5))
        s.add(WorkerHeartbeat(worker_id="w1", model_version="v1", lag={"news[0]": 3}))

    with session_factory() as s:
        art = s.scalar(select(Article))
        assert (art.external_id, art.extra, art.tickers, art.event_time) == ("a-1", {"k": "v"}, ["AAPL"], NOW)
        assert art.received_at is not None
        assert s.scalar(select(Prediction.sentiment)) == "negative"
        assert s.scalar(select(Label.used_by_run_id)) == s.scalar(select(TrainingRun.id))
        assert s.scalar(select(ModelVersion.scores)) == {"topic": {"accuracy": 0.9}}
        assert s.scalar(select(Alert.examples)) == ["bad news"]
        assert s.scalar(select(AlertMute.scope)) == "Macro"
        assert s.scalar(select(WebhookEndpoint.enabled)) is True
        assert s.scalar(select(WebhookDelivery.attempts)) == 0
        assert s.scalar(select(WebhookAttempt.status_code)) == 500
        assert s.scalar(select(WorkerHeartbeat.lag)) == {"news[0]": 3}


@pytest.mark.parametrize(
    "duplicate",
    [lambda: _article(1, "other-id"), lambda: _article(99, "a-1")],
    ids=["same-kafka-coordinates", "same-external-id"],
)
def test_articles_are_unique_by_id_and_by_kafka_coordinates(session_factory, duplicate):
    with transaction(session_factory) as s:
        s.add(_article(1, "a-1"))
    with pytest.raises(IntegrityError), transaction(session_factory) as s:
        s.add(duplicate())


def test_only_one_champion_and_one_open_alert_per_scope(session_factory):
    with pytest.raises(IntegrityError), transaction(session_factory) as s:
        s.add_all([ModelVersion(version=v, path=v, status="champion") for v in ("a", "b")])
    base = dict(window_start=NOW, window_end=NOW, baseline_start=NOW, window_count=1, window_negative=1,
                baseline_count=1, baseline_negative=0, observed_share=1.0, baseline_share=0.0, peak_share=1.0,
                statistic=1.0, p_value=0.1)
    with pytest.raises(IntegrityError), transaction(session_factory) as s:
        s.add_all([Alert(scope="Macro", status="open", **base), Alert(scope="Macro", status="open", **base)])
    with transaction(session_factory) as s:  # a resolved one beside an open one is fine
        s.add_all([Alert(scope="Macro", status="resolved", **base), Alert(scope="Macro", status="open", **base)])
