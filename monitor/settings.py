"""The one typed configuration tree of the service (env prefix ``MONITOR_``, nested with ``__``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, PositiveInt, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

log = logging.getLogger(__name__)


class KafkaSettings(BaseModel):
    bootstrap_servers: str = Field("127.0.0.1:9092", description="Comma-separated Kafka bootstrap servers.")
    input_topic: str = Field("news", description="Topic that news messages are produced to.")
    consumer_group: str = Field("monitor-worker", description="Consumer group shared by all workers.")
    dead_letter_topic: str = Field("news.dlq", description="Topic that invalid messages go to, with a reason.")
    label_topic: str = Field("news.labels", description="Topic of label events consumed by `monitor labels`.")
    label_dead_letter_topic: str = Field(
        "news.labels.dlq", description="Topic that invalid label events go to, with a reason (same headers)."
    )
    client_id: str = Field("fin-news-monitor", description="Kafka client id prefix.")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka security protocol."
    )
    sasl_mechanism: str | None = Field(None, description="SASL mechanism, e.g. PLAIN or SCRAM-SHA-512.")
    sasl_username: str | None = Field(None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(None, description="SASL password.")
    ssl_cafile: Path | None = Field(None, description="CA bundle used to verify the brokers' certificates.")
    request_timeout_ms: int = Field(30000, ge=1, description="Client request timeout.")
    connect_timeout_ms: int = Field(
        10000, ge=100, description="How long clients wait for the brokers at start-up before giving up."
    )
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        "earliest", description="Where a consumer group without committed offsets starts reading."
    )
    session_timeout_ms: int = Field(
        45000, ge=1000, description="Group membership is lost after this long without heartbeats."
    )
    heartbeat_interval_ms: int = Field(3000, ge=100, description="Heartbeat period of a group member.")
    max_poll_interval_ms: int = Field(
        300000, ge=1000, description="Longest gap between polls (one batch's work) before the member is evicted; "
        "also how long a rebalance waits for members to rejoin."
    )

    def client_options(self) -> dict[str, Any]:
        """Connection and security options shared by every kafka-python client."""
        opts: dict[str, Any] = {
            "bootstrap_servers": [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()],
            "security_protocol": self.security_protocol,
            "request_timeout_ms": self.request_timeout_ms,
        }
        if self.sasl_mechanism:
            opts["sasl_mechanism"] = self.sasl_mechanism
            opts["sasl_plain_username"] = self.sasl_username
            opts["sasl_plain_password"] = self.sasl_password.get_secret_value() if self.sasl_password else None
        if self.ssl_cafile:
            opts["ssl_cafile"] = str(self.ssl_cafile)
        return opts


class StreamSettings(BaseModel):
    """The consumers (news worker, label events): batch policy, backoff, message limits, the breaker."""

    max_batch_size: Literal["auto"] | PositiveInt = Field(
        "auto",
        description="Flush a micro-batch when it holds this many messages (sorted by length, then cut into "
        "forward passes); auto = 1024 when the model runs on CUDA, 128 on CPU.",
    )
    max_wait_ms: int = Field(
        50, ge=1, description="Flush a micro-batch when its oldest message waited this long in the worker (a full "
        "batch goes at once). Bounds latency under light traffic: 200 gave p95 1.1-1.3 s at half capacity on 2 CPU "
        "cores, 50 gives 0.63 s (docs/worker.md).",
    )
    backoff_initial_seconds: float = Field(
        0.5, gt=0, description="First wait after Postgres or the dead-letter topic refused a batch."
    )
    backoff_max_seconds: float = Field(30.0, gt=0, description="Cap on the doubling wait between retries.")
    max_message_bytes: int = Field(65536, ge=1, description="Messages larger than this go to the dead-letter topic.")
    max_text_chars: int = Field(
        20000, ge=1, description="Texts longer than this go to the dead-letter topic (and label imports refuse them)."
    )
    max_json_depth: int = Field(
        64, ge=2, le=500, description="Messages nested deeper (objects and arrays) go to the dead-letter topic."
    )
    earliest_published_at: datetime = Field(
        datetime(1970, 1, 1, tzinfo=UTC), description="Messages with an earlier `published_at` are dead-lettered."
    )
    max_future_skew_hours: float = Field(
        24.0, ge=0, le=87600, description="Messages with a `published_at` further ahead of the clock are dead-lettered."
    )
    breaker_batches: int = Field(
        3,
        ge=1,
        description="Stop the worker (exit non-zero, offsets uncommitted) after this many consecutive batches in "
        "which the model or the store failed every message, a known-good one included.",
    )
    overlap: bool = Field(
        True,
        description="Write each batch in a store thread while the next one is polled, validated, classified and "
        "formatted; false: each batch is committed before the next poll (for a single-core container, say).",
    )


class DatabaseSettings(BaseModel):
    url: SecretStr = Field(
        SecretStr("postgresql+psycopg://postgres@127.0.0.1:5432/monitor"),
        description="SQLAlchemy URL of the Postgres database (driver postgresql+psycopg).",
    )
    pool_size: int = Field(5, ge=1, description="Connection pool size per process.")
    echo: bool = Field(False, description="Log every SQL statement (debugging only).")
    connect_timeout_seconds: int = Field(5, ge=1, description="Give up on opening a connection after this long.")
    statement_timeout_ms: int = Field(
        60000,
        ge=0,
        description="Postgres cancels a statement running longer (0 = no limit). The client also gives up on a "
        "connection that stays silent this long plus min(5 s, this), so a hung server or network is backpressure.",
    )
    lock_timeout_ms: int = Field(10000, ge=0, description="Postgres cancels a statement waiting longer for a lock.")
    keepalives_idle_seconds: int = Field(30, ge=1, description="TCP keepalive: idle time before the first probe.")
    keepalives_interval_seconds: int = Field(10, ge=1, description="TCP keepalive: time between probes.")
    keepalives_count: int = Field(
        3, ge=1, description="TCP keepalive: unanswered probes (or seconds of unacknowledged data) before the drop."
    )


class ModelSettings(BaseModel):
    directory: Path = Field(
        Path("models/current"), description="Model directory served when no champion is registered."
    )
    registry_dir: Path = Field(Path("models"), description="Folder where trained model versions are kept.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Inference device.")
    precision: Literal["auto", "fp32", "bf16", "bf16-weights"] = Field(
        "auto",
        description="auto = bf16 weights on CUDA (softmax in fp32), fp32 on CPU; bf16 = bf16 autocast "
        "(pays on CPUs with AVX-512-bf16); bf16-weights = cast the weights on any device.",
    )
    inference_batch_size: Literal["auto"] | PositiveInt = Field(
        "auto",
        description="Most texts per forward pass, each pass padded to its own longest text; "
        "auto = 1024 on CUDA, 32 on CPU.",
    )
    max_tokens: Literal["auto"] | PositiveInt = Field(
        "auto",
        description="Token budget of one forward pass (texts x longest text); auto = 65536 on CUDA, "
        "inference_batch_size x max_length on CPU (the text count alone decides there).",
    )
    max_length: int = Field(64, ge=8, description="Token limit per text at inference.")
    threads: int | None = Field(None, ge=1, description="torch CPU threads (default: torch's choice).")


class AlertSettings(BaseModel):
    window_scales_minutes: list[int] = Field(
        [60, 360, 1440, 4320],
        min_length=1,
        description="Window lengths tested at every step (each a multiple of step_minutes); "
        "every scale with enough data is tested, so a quiet feed is judged on days and a busy one on hours.",
    )
    baseline_minutes: int = Field(
        7 * 24 * 60, ge=1, description="Length of the trailing baseline that ends where the window starts."
    )
    min_count: int = Field(10, ge=1, description="Articles a window needs to open, peak or resolve an alert.")
    min_baseline_count: int = Field(30, ge=1, description="Articles the baseline needs before a window is tested.")
    false_discovery_rate: float = Field(
        0.005,
        gt=0,
        lt=1,
        description="Weighted Benjamini-Hochberg level over all scopes and scales tested at one step (one one-sided "
        "test per window, as SIGNAL says); a window shorter than FULL_RATE_MINUTES gets its share of it.",
    )
    full_rate_minutes: int = Field(
        1440,
        ge=1,
        description="Windows this long or longer are tested at the full FALSE_DISCOVERY_RATE; a shorter one at "
        "the rate times its length over this (1 h: 1/24), since it looks that many more times a day. The "
        "shortest window length gives every window the full rate.",
    )
    borrow_level: float = Field(
        0.01,
        ge=0,
        lt=1,
        description="A scope with fewer than MIN_BASELINE_COUNT baseline articles (a quiet ticker) is judged "
        "against the all-topics baseline, unless its own articles are more negative than all topics' at this "
        "one-sided level (a ticker usually named in bearish posts): then against its own, filled up to "
        "MIN_BASELINE_COUNT at the all-topics share. 0: always borrow.",
    )
    all_topics_weight: float = Field(
        4.0,
        ge=1,
        le=100,
        description="Weight of the all-topics scope's tests in the correction across one step's tests, against 1 "
        "for each topic and ticker scope (weighted Benjamini-Hochberg; the weights are scaled to average at most 1, "
        "so the false-discovery rate stays at FALSE_DISCOVERY_RATE and the weight comes from the other scopes). The "
        "all-topics scope pools every article, so it has the most power for a surge across the feed. 1: all alike.",
    )
    signal: Literal["label", "reading"] = Field(
        "reading",
        description="What a window is judged on. label: the share of articles called negative (exact Fisher test; "
        "the rise is the share's). reading: how negative the model reads them, p_negative, by rank "
        "(Wilcoxon-Mann-Whitney test, exact at small counts, by saddlepoint above; the rise is Cliff's delta, which "
        "equals the share's rise for hard labels): a model that reads a new kind of text imperfectly still ranks it.",
    )
    min_rise: float = Field(
        0.15, ge=0, le=1,
        description="Minimum rise: of the negative share (label signal), or Cliff's delta (reading signal).",
    )
    resolve_margin: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Resolve when the rise over the frozen baseline falls below this fraction of min_rise.",
    )
    expire_minutes: int = Field(
        4320,
        ge=0,
        description="An open alert whose scope has had no window of MIN_COUNT articles for this long (event time) "
        "resolves as expired: no evidence either way, so it stops holding its group open. 0: never.",
    )
    group_window_minutes: int = Field(
        4320,
        ge=0,
        description="An episode that opens joins the newest open group (one notification) only if its newest scope "
        "opened at most this long before (event time); else it starts a new group, so an episode still open from "
        "days ago does not turn a new burst into an update of its old notification. 0: only scopes opening at the "
        "same step group.",
    )
    cooldown_minutes: int = Field(60, ge=0, description="After resolving, no new alert for the scope this long.")
    check_interval_seconds: int = Field(60, ge=1, description="How often the scheduler runs the detector.")
    step_minutes: int = Field(
        10, ge=1, description="Event-time step between evaluated windows, which end on multiples of it since the "
        "epoch (so checks, backfills and replays judge the same windows); a run steps through all unevaluated time. "
        "An alert waits for its step's end."
    )
    partition_idle_seconds: int = Field(
        60,
        ge=0,
        description="The scheduled check judges windows only up to the newest event stored from the slowest input "
        "partition that stored a batch within this many seconds (wall clock) or whose worker last reported a "
        "backlog on it, so a partition read behind the others does not leave windows judged without its articles. "
        "0: judge up to the latest stored event.",
    )
    partition_max_hold_seconds: int = Field(
        900,
        ge=1,
        description="A partition that has not moved for this long (its newest stored event time did not go forward "
        "and no worker took it over or resumed it) stops holding the check back, logged as a warning; a backlog "
        "reported longer ago than this no longer counts. A stuck or vanished worker delays alerts at most this long.",
    )
    max_history_days: int = Field(
        3650,
        ge=1,
        description="Articles more than this before the latest event time are left out of detection (counted and "
        "logged), so one mis-dated row cannot make a run step through centuries.",
    )
    ticker_scopes: bool = Field(True, description="Also alert per ticker (cashtags in the text and the tickers field).")
    dashboard_url: str = Field("http://localhost:8501", description="Link put in alert payloads.")
    max_examples: int = Field(3, ge=0, le=20, description="Negative headlines quoted in an alert and its webhook.")

    @model_validator(mode="after")
    def _scales_fit_steps(self) -> AlertSettings:
        bad = [s for s in self.window_scales_minutes if s < self.step_minutes or s % self.step_minutes]
        if bad:
            raise ValueError(
                f"window_scales_minutes {bad} must be positive multiples of step_minutes ({self.step_minutes})"
            )
        self.window_scales_minutes = sorted(set(self.window_scales_minutes))
        return self


class WebhookSettings(BaseModel):
    timeout_seconds: float = Field(
        10.0, gt=0, allow_inf_nan=False,
        description="Each delivery attempt ends within this long, in all (resolving the host, connecting, sending, "
        "the whole answer).",
    )
    max_attempts: int = Field(12, ge=1, description="Attempts before a delivery is marked failed.")
    backoff_base_seconds: float = Field(
        5.0, ge=0, allow_inf_nan=False, description="First retry delay; doubles each attempt."
    )
    backoff_max_seconds: float = Field(3600.0, ge=0, allow_inf_nan=False, description="Cap on the retry delay.")
    relay_interval_seconds: int = Field(5, ge=1, description="How often the scheduler runs the relay.")
    relay_batch_size: int = Field(100, ge=1, description="Most deliveries one relay pass sends.")
    allow_private_addresses: bool = Field(
        False, description="Allow endpoints on loopback/private/link-local addresses (SSRF guard off)."
    )


def _recipe(argument: str) -> dict[str, Any]:
    """Marks a learning field as an override of ``TrainingArguments.<argument>`` (see ``recipe_overrides``)."""
    return {"training_argument": argument}


class LearningSettings(BaseModel):
    """The retrain job: its recipe, the promotion gate, the held-out labels and the fixed evaluation sets."""

    min_new_labels: int = Field(200, ge=1, description="New labels needed before a retrain runs.")
    mode: Literal["warm", "scratch"] = Field(
        "warm",
        description="warm: fine-tune the champion on the new labels plus a replay sample of the base corpora "
        "(minutes); scratch: train `preset` from the backbone. Warm falls back to scratch without a champion.",
    )
    preset: str = Field(
        "full", description="Training preset of a from-scratch retrain (a quick candidate cannot beat a full champion)."
    )
    backbone: str | None = Field(
        None, description="Backbone (path or name) a from-scratch retrain trains from (default: the trainer's)."
    )
    scratch_teacher: bool = Field(
        True,
        description="A from-scratch retrain lets the champion fill each train text's missing task with its "
        "confident predictions (cross-task pseudo-labels, docs/model.md).",
    )
    data_root: Path | None = Field(
        None, description="Base corpora folder laid out like monitor/datasets (default: the bundled corpora)."
    )
    # Recipe overrides: a field marked with _recipe(...) reaches the trainer's TrainingArguments by that name,
    # so a new recipe setting is one field here.
    replay_per_corpus: int | None = Field(
        None, ge=10, json_schema_extra=_recipe("replay_per_corpus"),
        description="Base-corpus train examples per task replayed in a warm retrain (default: the warm preset's 5000).",
    )
    domains: list[str] | None = Field(
        None, json_schema_extra=_recipe("domains"),
        description="Retail-investor corpora a retrain trains on, a JSON list (default: all from scratch; "
        "the champion's in a warm retrain; [] for none).",
    )
    epochs: int | None = Field(
        None, ge=1, json_schema_extra=_recipe("epochs"), description="Epochs per retrain (default: the preset's)."
    )
    max_steps: int | None = Field(
        None, ge=1, json_schema_extra=_recipe("max_steps"), description="Cap on optimizer steps per retrain."
    )
    base_limit: int | None = Field(
        None, ge=10, json_schema_extra=_recipe("limit"),
        description="Cap on examples per bundled base corpus in a retrain (default: all).",
    )
    seed: int = Field(0, json_schema_extra=_recipe("seed"), description="Random seed of the retrain's trainer.")
    learning_rate: float | None = Field(
        None, gt=0, json_schema_extra=_recipe("learning_rate"),
        description="Learning rate of a retrain (default: the preset's).",
    )
    sampling_temperature: float | None = Field(
        None, ge=1, json_schema_extra=_recipe("temperature"),
        description="Sampling temperature over the training sources in a retrain: higher gives a small label file "
        "more of the batches (default: the preset's; warm 3).",
    )
    distillation: float | None = Field(
        None, ge=0, lt=1, json_schema_extra=_recipe("distillation"),
        description="Weight of the champion's probabilities as soft targets on the corpora's texts, never on the "
        "analysts' labels (0-1; default off). Warm: keeps what the champion knew while the labels teach; from "
        "scratch: beside its hard labels when SCRATCH_TEACHER is on.",
    )
    text_preprocessing: Literal["none", "strip_links", "strip_links+name_symbols"] | None = Field(
        None, json_schema_extra=_recipe("text_preprocessing"),
        description="What the tokenizer is shown in a from-scratch retrain: strip_links+name_symbols also writes "
        "emoji and symbols as words (default: the preset's, strip_links; a warm retrain keeps the champion's).",
    )
    training_timeout_minutes: int = Field(
        240, ge=1, description="A training subprocess running longer than this is killed and the run fails."
    )
    promotion_tolerance: float = Field(0.005, ge=0, description="Allowed drop per task before rejecting.")
    promotion_adapt_tolerance: float = Field(
        0.02, ge=0, description="Allowed drop per task when the held-out labels are significantly better "
        "(the model adapting to the stream's own language), in all across retrains; at or below "
        "PROMOTION_TOLERANCE it is off.",
    )
    promotion_significance: float = Field(
        0.05, gt=0, lt=1, description="p-value at or below which the held-out labels count as significantly "
        "better (exact one-sided McNemar test over the texts exactly one model gets right).",
    )
    promotion_metric: Literal["accuracy", "macro_f1"] = Field(
        "macro_f1", description="Score the promotion gate compares per task on the fixed evaluation sets."
    )
    rescore_days: int = Field(
        10, ge=0, description="After a promotion, re-read this many days of stored articles (up to the latest "
        "event) with the new champion, so the detector's windows and baselines come from one model; 0: off.",
    )
    holdout_fraction: float = Field(
        0.2, ge=0, lt=1, description="Share of labeled texts never trained on, kept to score new labels."
    )
    holdout_seed: int = Field(0, description="Seed of the held-out slice; changing it reshuffles the slice.")
    eval_topic_path: Path | None = Field(
        None, description="CSV (text,label) of the fixed topic evaluation set (default: bundled valid split)."
    )
    eval_sentiment_path: Path | None = Field(
        None, description="CSV (text,label) of the fixed sentiment evaluation set (default: bundled valid)."
    )
    eval_limit: int | None = Field(
        None, ge=1, description="Use only the first N rows of each fixed evaluation set (tests)."
    )

    def recipe_overrides(self, *, warm: bool) -> dict[str, Any]:
        """The set recipe fields by ``TrainingArguments`` name; a replay sample belongs to warm starts only."""
        overrides = {}
        for name, field in type(self).model_fields.items():
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            argument, value = extra.get("training_argument"), getattr(self, name)
            if argument and value is not None and (warm or argument != "replay_per_corpus"):
                overrides[str(argument)] = value
        return overrides


class JobsSettings(BaseModel):
    """When the scheduler's own jobs run (the alert check and the webhook relay keep theirs in their sections)."""

    retrain_check_minutes: int = Field(30, ge=1, description="How often the retrain job checks for labels.")
    housekeeping_hours: int = Field(24, ge=1, description="How often housekeeping runs.")
    heartbeat_retention_days: int = Field(
        7, ge=1, description="Housekeeping deletes worker heartbeats older than this."
    )
    misfire_grace_seconds: int = Field(300, ge=1, description="How late a job may start and still run.")


class DashboardSettings(BaseModel):
    password: SecretStr | None = Field(None, description="If set, pages that write ask for this password.")
    refresh_seconds: int = Field(15, ge=2, description="Auto-refresh period of the overview.")
    stale_worker_seconds: int = Field(
        120, ge=1, description="A worker whose last heartbeat is older than this counts as stopped."
    )


class MetricsSettings(BaseModel):
    port: int = Field(9108, ge=0, le=65535, description="Port of the worker's Prometheus endpoint (0 disables it).")
    host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Address the metrics endpoint binds to; 0.0.0.0 (all interfaces) for a scraper on another host.",
    )
    heartbeat_seconds: float = Field(
        5.0,
        gt=0,
        allow_inf_nan=False,
        description="How often a worker upserts its row in worker_heartbeats (and refreshes lag).",
    )
    worker_id: str | None = Field(
        None, description="Name of this worker in worker_heartbeats (default: host name and process id)."
    )


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MONITOR_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings, description="Kafka connection and topics.")
    stream: StreamSettings = Field(
        default_factory=StreamSettings, description="Consumers: batch policy, backoff, message limits, breaker."
    )
    database: DatabaseSettings = Field(default_factory=DatabaseSettings, description="Postgres.")
    model: ModelSettings = Field(default_factory=ModelSettings, description="Model serving.")
    learning: LearningSettings = Field(
        default_factory=LearningSettings, description="Retraining: recipe, promotion gate, evaluation sets."
    )
    jobs: JobsSettings = Field(default_factory=JobsSettings, description="Scheduled jobs.")
    alerts: AlertSettings = Field(default_factory=AlertSettings, description="Spike detection.")
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings, description="Webhook delivery.")
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings, description="Dashboard.")
    metrics: MetricsSettings = Field(default_factory=MetricsSettings, description="Prometheus metrics.")
    log_level: LogLevel = Field(
        "INFO", description="Log level of the service's loggers: DEBUG, INFO, WARNING or ERROR."
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="wrap")
    @classmethod
    def _warn_about_old_names(cls, data: Any, handler: Any) -> Any:
        used = data.pop(LEGACY_KEY, []) if isinstance(data, dict) else []
        settings = handler(data)
        _warn_once(used)
        return settings

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Old names rank below the new ones from both the environment and .env: the new name wins.
        legacy = LegacyNamesSource(settings_cls, env_settings, dotenv_settings)
        return init_settings, env_settings, dotenv_settings, legacy, file_secret_settings


# Variables that moved when the tree was cut along the packages (stream, learning, jobs); read for one
# release under their old names, with a warning. Old name -> (section, field).
LEGACY_NAMES: dict[str, tuple[str, str]] = {
    "MONITOR_MODEL__MAX_BATCH_SIZE": ("stream", "max_batch_size"),
    "MONITOR_MODEL__MAX_WAIT_MS": ("stream", "max_wait_ms"),
    "MONITOR_KAFKA__BACKOFF_INITIAL_SECONDS": ("stream", "backoff_initial_seconds"),
    "MONITOR_KAFKA__BACKOFF_MAX_SECONDS": ("stream", "backoff_max_seconds"),
    "MONITOR_KAFKA__MAX_MESSAGE_BYTES": ("stream", "max_message_bytes"),
    "MONITOR_KAFKA__MAX_TEXT_CHARS": ("stream", "max_text_chars"),
    "MONITOR_WORKER__MAX_JSON_DEPTH": ("stream", "max_json_depth"),
    "MONITOR_WORKER__EARLIEST_PUBLISHED_AT": ("stream", "earliest_published_at"),
    "MONITOR_WORKER__MAX_FUTURE_SKEW_HOURS": ("stream", "max_future_skew_hours"),
    "MONITOR_WORKER__BREAKER_BATCHES": ("stream", "breaker_batches"),
    "MONITOR_SCHEDULER__RETRAIN_MIN_NEW_LABELS": ("learning", "min_new_labels"),
    "MONITOR_SCHEDULER__RETRAIN_MODE": ("learning", "mode"),
    "MONITOR_SCHEDULER__RETRAIN_PRESET": ("learning", "preset"),
    "MONITOR_SCHEDULER__RETRAIN_REPLAY_PER_CORPUS": ("learning", "replay_per_corpus"),
    "MONITOR_SCHEDULER__RETRAIN_BACKBONE": ("learning", "backbone"),
    "MONITOR_SCHEDULER__RETRAIN_EPOCHS": ("learning", "epochs"),
    "MONITOR_SCHEDULER__RETRAIN_MAX_STEPS": ("learning", "max_steps"),
    "MONITOR_SCHEDULER__RETRAIN_BASE_LIMIT": ("learning", "base_limit"),
    "MONITOR_SCHEDULER__RETRAIN_SEED": ("learning", "seed"),
    "MONITOR_SCHEDULER__RETRAIN_LEARNING_RATE": ("learning", "learning_rate"),
    "MONITOR_SCHEDULER__RETRAIN_DATA_ROOT": ("learning", "data_root"),
    "MONITOR_SCHEDULER__RETRAIN_TIMEOUT_MINUTES": ("learning", "training_timeout_minutes"),
    "MONITOR_SCHEDULER__PROMOTION_TOLERANCE": ("learning", "promotion_tolerance"),
    "MONITOR_SCHEDULER__PROMOTION_METRIC": ("learning", "promotion_metric"),
    "MONITOR_SCHEDULER__HOLDOUT_FRACTION": ("learning", "holdout_fraction"),
    "MONITOR_SCHEDULER__HOLDOUT_SEED": ("learning", "holdout_seed"),
    "MONITOR_SCHEDULER__EVAL_TOPIC_PATH": ("learning", "eval_topic_path"),
    "MONITOR_SCHEDULER__EVAL_SENTIMENT_PATH": ("learning", "eval_sentiment_path"),
    "MONITOR_SCHEDULER__EVAL_LIMIT": ("learning", "eval_limit"),
    "MONITOR_SCHEDULER__RETRAIN_CHECK_MINUTES": ("jobs", "retrain_check_minutes"),
    "MONITOR_SCHEDULER__MISFIRE_GRACE_SECONDS": ("jobs", "misfire_grace_seconds"),
    "MONITOR_SCHEDULER__HOUSEKEEPING_HOURS": ("jobs", "housekeeping_hours"),
    "MONITOR_SCHEDULER__HEARTBEAT_RETENTION_DAYS": ("jobs", "heartbeat_retention_days"),
}

_warned: set[str] = set()
LEGACY_KEY = "legacy_names_used"  # how the source tells the tree which old names it read


def new_name(section: str, field: str) -> str:
    return f"MONITOR_{section.upper()}__{field.upper()}"


def legacy_values(variables: Mapping[str, str | None]) -> dict[str, tuple[str, str]]:
    """The old names set in ``variables`` (any case): new variable -> (old variable, value)."""
    upper = {name.upper(): value for name, value in variables.items() if value is not None}
    return {new_name(*target): (old, upper[old]) for old, target in LEGACY_NAMES.items() if old in upper}


class LegacyNamesSource(PydanticBaseSettingsSource):
    """Moved variables under their old names, from the process environment and ``.env``, at their new place."""

    def __init__(self, settings_cls: type[BaseSettings], env: PydanticBaseSettingsSource,
                 dotenv: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._variables = {**getattr(dotenv, "env_vars", {}), **getattr(env, "env_vars", {})}

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ maps whole variables

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for old, value in legacy_values(self._variables).values():
            section, field = LEGACY_NAMES[old]
            data.setdefault(section, {})[field] = value
        if data:  # warned about once the tree is valid: a bad value is one error line naming the old name
            data[LEGACY_KEY] = sorted(old for old, _ in legacy_values(self._variables).values())
        return data


def _warn_once(old_names: list[str]) -> None:
    for old in old_names:
        if old not in _warned:
            _warned.add(old)
            log.warning("%s is deprecated and will be removed in the next release; use %s", old,
                        new_name(*LEGACY_NAMES[old]))


def settings_env(settings: Settings) -> dict[str, str]:
    """``settings`` as ``MONITOR_*`` variables for a child process (``Settings()`` there equals it).

    Fields left at None are left out: None is every optional field's default.
    """
    env = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, BaseModel):
            for field in type(value).model_fields:
                env[new_name(name, field)] = _env_value(getattr(value, field))
        else:
            env[f"MONITOR_{name.upper()}"] = _env_value(value)
    return {key: value for key, value in env.items() if value is not None}


def _env_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def load_settings() -> Settings:
    """Settings from the environment; a bad value becomes a one-line ConfigError naming the variable."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from monitor.errors import ConfigError
    from monitor.masking import mask_secrets, remember_secrets

    try:
        settings = Settings()
    except ValidationError as exc:
        errors = exc.errors()
        var = _variable(errors[0]["loc"])
        # A union (an int or "auto") fails once per branch: name every branch, not just the first.
        reasons = " or ".join(dict.fromkeys(e["msg"] for e in errors if _variable(e["loc"]) == var))
        raise ConfigError(mask_secrets(f"{_as_set(var)}: {reasons} (got {errors[0].get('input')!r})")) from None
    except SettingsError as exc:  # MONITOR_ALERTS__SOME_LIST=x: lists and groups are parsed as JSON
        group = "MONITOR_" + (exc.args[0].split('"')[1].upper() if exc.args and exc.args[0].count('"') >= 2 else "")
        raise ConfigError(
            f"{group} or one of the {group}__* variables is not valid JSON (lists are written as JSON, "
            "e.g. [60, 360]); fix or unset it"
        ) from None
    remember_secrets(settings)
    return settings


def _variable(loc: tuple[Any, ...]) -> str:
    """The environment variable of a validation error's location; union branch tags like ``literal['auto']``
    that pydantic appends are not part of the name."""
    model: Any = Settings
    names = []
    for part in loc:
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            break
        names.append(str(part).upper())
        model = fields[part].annotation
    return "MONITOR_" + "__".join(names)


def _as_set(variable: str) -> str:
    """The variable as the user wrote it: an old name when only the old name is set."""
    import os

    from dotenv import dotenv_values

    env_file = Settings.model_config.get("env_file")
    found = {**(dotenv_values(env_file) if isinstance(env_file, str) else {}), **os.environ}
    if variable in {name.upper() for name in found}:
        return variable
    old = legacy_values(found).get(variable)
    return f"{old[0]} (now {variable})" if old else variable


@lru_cache
def get_settings() -> Settings:
    """Settings read once from the environment (tests build their own ``Settings``)."""
    return Settings()


def masked_dump(settings: Settings) -> dict[str, Any]:
    """The effective configuration as plain data: SecretStr fields as ``**********``, and every
    credential inside other values (URL passwords, ``?password=``) masked by the one masking function."""
    from monitor.masking import mask_secrets

    data = settings.model_dump(mode="json")
    data["database"]["url"] = settings.database.url.get_secret_value()  # parseable or not: masked below
    return _mask_strings(data, mask_secrets)


def _mask_strings(value: Any, mask: Any) -> Any:
    if isinstance(value, dict):
        return {key: _mask_strings(item, mask) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask_strings(item, mask) for item in value]
    return mask(value) if isinstance(value, str) else value
