"""Postgres tables as typed SQLAlchemy 2 mappings; ``migrations/`` must match these exactly."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ALL_TOPICS = "__all__"
"""Alert scope meaning every topic together."""
ALL_TOPICS_LABEL = "All topics"


def scope_label(scope: str) -> str:
    """How people read a scope: the all-topics scope by words (terminal, logs, dashboard), never its stored key."""
    return ALL_TOPICS_LABEL if scope == ALL_TOPICS else scope


Timestamp = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: Timestamp, dict[str, Any]: JSONB, list[Any]: JSONB}


class Article(Base):
    """One news text as it arrived from Kafka; unique by producer id and by Kafka coordinates."""

    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("kafka_topic", "kafka_partition", "kafka_offset"),
        Index("ix_articles_event_time", "event_time"),
        Index("ix_articles_source_event_time", "source", "event_time"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    external_id: Mapped[str | None] = mapped_column(String(512), unique=True)
    source: Mapped[str | None] = mapped_column(String(256))
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(String(16))
    tickers: Mapped[list[Any] | None]
    extra: Mapped[dict[str, Any] | None]
    published_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())
    event_time: Mapped[datetime]
    kafka_topic: Mapped[str] = mapped_column(String(256))
    kafka_partition: Mapped[int] = mapped_column(Integer)
    kafka_offset: Mapped[int] = mapped_column(BigInteger)


class Prediction(Base):
    """The model's output for one article by one model version."""

    __tablename__ = "predictions"
    __table_args__ = (UniqueConstraint("article_id", "model_version"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    model_version: Mapped[str] = mapped_column(String(128), index=True)
    topic: Mapped[str] = mapped_column(String(128), index=True)
    topic_confidence: Mapped[float] = mapped_column(Float)
    sentiment: Mapped[str] = mapped_column(String(32))
    sentiment_confidence: Mapped[float] = mapped_column(Float)
    p_negative: Mapped[float] = mapped_column(Float)
    p_neutral: Mapped[float] = mapped_column(Float)
    p_positive: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class TrainingRun(Base):
    """One retraining attempt: what it trained on, both scores, and the decision."""

    __tablename__ = "training_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trigger: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)  # running | promoted | rejected | failed
    started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    finished_at: Mapped[datetime | None]
    n_base_examples: Mapped[int | None] = mapped_column(Integer)
    n_labels: Mapped[int | None] = mapped_column(Integer)
    n_new_labels: Mapped[int | None] = mapped_column(Integer)
    candidate_version: Mapped[str | None] = mapped_column(String(128))
    champion_version: Mapped[str | None] = mapped_column(String(128))
    candidate_scores: Mapped[dict[str, Any] | None]
    champion_scores: Mapped[dict[str, Any] | None]
    decision: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class Label(Base):
    """A human label for a text (topic and/or sentiment); stored once per text and label pair."""

    __tablename__ = "labels"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    text: Mapped[str] = mapped_column(Text)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"), index=True)
    topic: Mapped[str | None] = mapped_column(String(128))
    sentiment: Mapped[str | None] = mapped_column(String(32))
    origin: Mapped[str] = mapped_column(String(32))  # import | kafka | dashboard
    author: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)
    used_by_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("training_runs.id", ondelete="SET NULL"), index=True
    )


class ModelVersion(Base):
    """A trained model directory and its scores; at most one is champion."""

    __tablename__ = "model_versions"
    __table_args__ = (
        Index(
            "uq_model_versions_one_champion",
            "status",
            unique=True,
            postgresql_where=text("status = 'champion'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(128), unique=True)
    path: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # candidate | champion | retired | rejected
    scores: Mapped[dict[str, Any] | None]
    training_run_id: Mapped[int | None] = mapped_column(ForeignKey("training_runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    promoted_at: Mapped[datetime | None]


class AlertGroup(Base):
    """Alerts of all scopes that opened together or soon after one another (``GROUP_WINDOW_MINUTES``): one
    notification thread. Several may be open: an episode lingering from days ago beside a new burst's."""

    __tablename__ = "alert_groups"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(16))  # open | resolved
    opened_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Alert(Base):
    """One negative-share spike episode for a scope: a topic, ``__all__`` or a ``$TICKER``.

    The plain figure columns hold the latest window with enough data, always against the baseline
    frozen at opening; ``opening``, ``peak`` and ``resolution`` keep those moments' figures for good.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        Index("uq_alerts_one_open_per_scope", "scope", unique=True, postgresql_where=text("status = 'open'")),
        Index("ix_alerts_scope_opened_at", "scope", "opened_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), index=True)  # open | resolved
    opened_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    resolved_at: Mapped[datetime | None]
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    baseline_start: Mapped[datetime]
    window_count: Mapped[int] = mapped_column(Integer)
    window_negative: Mapped[int] = mapped_column(Integer)
    baseline_count: Mapped[int] = mapped_column(Integer)
    baseline_negative: Mapped[int] = mapped_column(Integer)
    observed_share: Mapped[float] = mapped_column(Float)
    baseline_share: Mapped[float] = mapped_column(Float)
    peak_share: Mapped[float] = mapped_column(Float)
    statistic: Mapped[float] = mapped_column(Float)
    p_value: Mapped[float] = mapped_column(Float)
    examples: Mapped[list[Any] | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("alert_groups.id", ondelete="SET NULL"), index=True)
    window_minutes: Mapped[int] = mapped_column(
        Integer, default=lambda ctx: _window_minutes(ctx.get_current_parameters())
    )
    opening: Mapped[dict[str, Any]] = mapped_column(default=lambda ctx: _plain_figures(ctx.get_current_parameters()))
    peak: Mapped[dict[str, Any]] = mapped_column(default=lambda ctx: _plain_figures(ctx.get_current_parameters()))
    resolution: Mapped[dict[str, Any] | None] = mapped_column(default=lambda ctx: _resolved_figures(ctx))


def _resolved_figures(ctx: Any) -> dict[str, Any] | None:
    row = ctx.get_current_parameters()
    return _plain_figures(row) if row.get("status") == "resolved" else None


def _window_minutes(row: dict[str, Any]) -> int:
    return round((row["window_end"] - row["window_start"]).total_seconds() / 60)


def _plain_figures(row: dict[str, Any]) -> dict[str, Any]:
    """An alert inserted with only its plain figure columns opened (and peaked) at those figures;
    migration 0003 applies the same rule to alerts stored before it."""
    return {
        "window_minutes": _window_minutes(row),
        "window_start": row["window_start"].isoformat(),
        "window_end": row["window_end"].isoformat(),
        "window_count": row["window_count"],
        "window_negative": row["window_negative"],
        "baseline_start": row["baseline_start"].isoformat(),
        "baseline_end": row["window_start"].isoformat(),
        "baseline_count": row["baseline_count"],
        "baseline_negative": row["baseline_negative"],
        "observed_share": row["observed_share"],
        "baseline_share": row["baseline_share"],
        "rise": row["observed_share"] - row["baseline_share"],
        "statistic": row["statistic"],
        "p_value": row["p_value"],
    }


class AlertMute(Base):
    """A scope muted by an analyst until a time: no new alerts open for it meanwhile."""

    __tablename__ = "alert_mutes"

    scope: Mapped[str] = mapped_column(String(128), primary_key=True)
    muted_until: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class WebhookEndpoint(Base):
    """A receiver of alert webhooks; ``topics`` null means every scope."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(128))
    topics: Mapped[list[Any] | None]
    enabled: Mapped[bool] = mapped_column(server_default=text("true"))
    description: Mapped[str | None] = mapped_column(Text)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class WebhookDelivery(Base):
    """Outbox row: one event for one endpoint, written with the alert change that caused it."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(String(64), unique=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed | cancelled
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    delivered_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """Every HTTP attempt of a delivery, for the audit trail."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(server_default=func.now())
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float | None] = mapped_column(Float)


class WorkerHeartbeat(Base):
    """Last known state of each worker process, for the dashboard's pipeline panel."""

    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    model_version: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    messages_stored: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    messages_dead_lettered: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    texts_per_second: Mapped[float | None] = mapped_column(Float)
    lag: Mapped[dict[str, Any] | None]


class PartitionProgress(Base):
    """How far each input partition has been stored, in event time, and its backlog as its worker last saw it.

    Written by the worker in the transaction that stores a batch (``event_time``, ``stored_offset``,
    ``stored_at``, and ``advanced_at`` when ``event_time`` moved forward) and with each heartbeat (``lag``,
    ``lag_at``; ``announced_at`` too when a worker takes the partition over or resumes it); read by the
    detector, which judges a window only once every partition still receiving data has got past it
    (docs/alerts.md, Late data).
    """

    __tablename__ = "partition_progress"

    topic: Mapped[str] = mapped_column(String(256), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_time: Mapped[datetime | None]
    stored_offset: Mapped[int | None] = mapped_column(BigInteger)
    stored_at: Mapped[datetime | None]
    advanced_at: Mapped[datetime | None]
    lag: Mapped[int | None] = mapped_column(BigInteger)
    lag_at: Mapped[datetime | None]
    announced_at: Mapped[datetime | None]
    worker_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class DetectorCheckpoint(Base):
    """How far in event time the alert detector has evaluated, so each run catches up step by step."""

    __tablename__ = "detector_checkpoints"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    evaluated_until: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
