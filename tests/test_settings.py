"""The settings tree: every field described, env nesting works, the README reference is current."""

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr, ValidationError

from monitor import settings as settings_module
from monitor.errors import ConfigError
from monitor.settings import LEGACY_NAMES, Settings, load_settings, new_name, settings_env
from monitor.settings_doc import settings_reference

README = Path(__file__).resolve().parents[1] / "README.md"


def _fields(model: type[BaseModel], prefix: str = ""):
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from _fields(field.annotation, f"{prefix}{name}.")
        yield f"{prefix}{name}", field


def test_every_setting_has_a_description():
    missing = [name for name, field in _fields(Settings) if not field.description]
    assert missing == []


def test_nested_environment_variables(monkeypatch):
    monkeypatch.setenv("MONITOR_KAFKA__BOOTSTRAP_SERVERS", "a:1,b:2")
    monkeypatch.setenv("MONITOR_STREAM__MAX_BATCH_SIZE", "7")
    s = Settings()
    assert s.kafka.client_options()["bootstrap_servers"] == ["a:1", "b:2"]
    assert s.stream.max_batch_size == 7


def test_readme_configuration_reference_is_generated_from_settings():
    assert settings_reference() in README.read_text(encoding="utf-8"), (
        "README's configuration table is stale: paste the output of `monitor config reference`"
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MONITOR_DATABASE__POOL_SIZE", "-1"),
        ("MONITOR_WEBHOOKS__TIMEOUT_SECONDS", "-1"),
        ("MONITOR_WEBHOOKS__TIMEOUT_SECONDS", "nan"),
        ("MONITOR_WEBHOOKS__BACKOFF_BASE_SECONDS", "nan"),
        ("MONITOR_WEBHOOKS__BACKOFF_MAX_SECONDS", "-1"),
        ("MONITOR_STREAM__MAX_MESSAGE_BYTES", "-1"),
        ("MONITOR_KAFKA__REQUEST_TIMEOUT_MS", "-1"),
        ("MONITOR_MODEL__THREADS", "0"),
        ("MONITOR_JOBS__MISFIRE_GRACE_SECONDS", "-1"),
    ],
)
def test_nonsense_values_are_refused(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        Settings()


# Every moved field at a value that is not its default, so reading it back proves where it went.
MOVED = {
    "stream": {"max_batch_size": 48, "max_wait_ms": 75, "backoff_initial_seconds": 0.25, "backoff_max_seconds": 9.5,
               "max_message_bytes": 4096, "max_text_chars": 900, "max_json_depth": 12,
               "earliest_published_at": datetime(2001, 2, 3, 4, 5, tzinfo=UTC), "max_future_skew_hours": 2.5,
               "breaker_batches": 7},
    "learning": {"min_new_labels": 11, "mode": "scratch", "preset": "quick", "replay_per_corpus": 300,
                 "backbone": "some/encoder", "epochs": 4, "max_steps": 90, "base_limit": 500, "seed": 3,
                 "learning_rate": 0.0002, "data_root": Path("/data/base"), "training_timeout_minutes": 15,
                 "promotion_tolerance": 0.01, "promotion_metric": "accuracy", "holdout_fraction": 0.3,
                 "holdout_seed": 5, "eval_topic_path": Path("/e/topic.csv"),
                 "eval_sentiment_path": Path("/e/sentiment.csv"), "eval_limit": 40},
    "jobs": {"retrain_check_minutes": 5, "misfire_grace_seconds": 60, "housekeeping_hours": 2,
             "heartbeat_retention_days": 3},
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No MONITOR_* variables, no .env, and the once-per-process warnings not yet given."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("MONITOR_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(settings_module, "_warned", set())
    return monkeypatch


def _moved_settings() -> Settings:
    return Settings(**MOVED)


def test_the_alias_map_covers_every_moved_field_once():
    targets = sorted(LEGACY_NAMES.values())
    assert targets == sorted((section, name) for section, fields in MOVED.items() for name in fields)
    assert len(set(targets)) == len(targets)
    for section, field in targets:
        assert field in Settings.model_fields[section].annotation.model_fields


def test_settings_env_round_trips(clean_env):
    original = _moved_settings().model_copy(update={"log_level": "DEBUG"})
    original.alerts.window_scales_minutes = [30, 90]
    original.alerts.step_minutes = 30
    original.dashboard.password = SecretStr("p@ss")
    original.kafka.sasl_mechanism = "PLAIN"
    for name, value in settings_env(original).items():
        clean_env.setenv(name, value)
    assert Settings() == original
    assert Settings().dashboard.password.get_secret_value() == "p@ss"


def test_old_names_from_the_environment_reach_the_new_places(clean_env, caplog):
    env = settings_env(_moved_settings())
    for old, target in LEGACY_NAMES.items():
        clean_env.setenv(old, env[new_name(*target)])
    with caplog.at_level(logging.WARNING, logger="monitor.settings"):
        assert Settings() == _moved_settings()
        Settings()
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == len(LEGACY_NAMES)  # once per process, not once per Settings()
    assert "MONITOR_MODEL__MAX_BATCH_SIZE is deprecated" in "\n".join(warnings)
    assert any("MONITOR_MODEL__MAX_BATCH_SIZE" in w and "MONITOR_STREAM__MAX_BATCH_SIZE" in w for w in warnings)


def test_old_names_from_dot_env_work_and_the_new_name_wins(clean_env, tmp_path):
    (tmp_path / ".env").write_text("MONITOR_WORKER__BREAKER_BATCHES=5\nMONITOR_SCHEDULER__RETRAIN_EPOCHS=2\n"
                                   "MONITOR_KAFKA__MAX_TEXT_CHARS=100\nMONITOR_STREAM__MAX_TEXT_CHARS=200\n")
    clean_env.setenv("MONITOR_LEARNING__EPOCHS", "6")  # new name in the environment beats the old in .env
    clean_env.setenv("monitor_model__max_wait_ms", "33")  # names are case-insensitive, old ones too
    s = Settings()
    assert (s.stream.breaker_batches, s.learning.epochs, s.stream.max_text_chars) == (5, 6, 200)
    assert s.stream.max_wait_ms == 33


def test_a_new_name_in_dot_env_beats_an_old_one_in_the_environment(clean_env, tmp_path):
    (tmp_path / ".env").write_text("MONITOR_JOBS__HOUSEKEEPING_HOURS=12\n")
    clean_env.setenv("MONITOR_SCHEDULER__HOUSEKEEPING_HOURS", "48")
    assert Settings().jobs.housekeeping_hours == 12


def test_a_bad_value_under_an_old_name_is_one_line_naming_it(clean_env):
    clean_env.setenv("MONITOR_SCHEDULER__MISFIRE_GRACE_SECONDS", "-1")
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("MONITOR_SCHEDULER__MISFIRE_GRACE_SECONDS (now MONITOR_JOBS__MISFIRE_GRACE_SECONDS):")


def test_a_bad_value_under_a_new_name_names_the_new_one(clean_env):
    clean_env.setenv("MONITOR_STREAM__MAX_BATCH_SIZE", "lots")
    with pytest.raises(ConfigError, match=r"^MONITOR_STREAM__MAX_BATCH_SIZE: "):
        load_settings()


def test_the_learning_section_feeds_the_training_recipe():
    overrides = Settings(**MOVED).learning.recipe_overrides(warm=True)
    assert overrides == {"replay_per_corpus": 300, "epochs": 4, "max_steps": 90, "limit": 500, "seed": 3,
                         "learning_rate": 0.0002}
    assert "replay_per_corpus" not in Settings(**MOVED).learning.recipe_overrides(warm=False)
    learning = Settings(**MOVED).learning.model_copy(update={"sampling_temperature": 5.0, "distillation": 0.2})
    assert learning.recipe_overrides(warm=True).items() >= {"temperature": 5.0, "distillation": 0.2}.items()
