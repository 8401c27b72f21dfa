"""The settings tree: every field described, env nesting works, the README reference is current."""

from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from monitor.settings import Settings
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
    monkeypatch.setenv("MONITOR_MODEL__MAX_BATCH_SIZE", "7")
    s = Settings()
    assert s.kafka.client_options()["bootstrap_servers"] == ["a:1", "b:2"]
    assert s.model.max_batch_size == 7


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
        ("MONITOR_KAFKA__MAX_MESSAGE_BYTES", "-1"),
        ("MONITOR_KAFKA__REQUEST_TIMEOUT_MS", "-1"),
        ("MONITOR_MODEL__THREADS", "0"),
        ("MONITOR_SCHEDULER__MISFIRE_GRACE_SECONDS", "-1"),
    ],
)
def test_nonsense_values_are_refused(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        Settings()
