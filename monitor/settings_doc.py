"""Render the settings tree as a Markdown table (the README's configuration reference is generated)."""

from __future__ import annotations

from pydantic import BaseModel, SecretStr

from monitor.settings import Settings


def _default(value: object) -> str:
    if isinstance(value, SecretStr):
        return "(secret)"
    if value is None:
        return ""
    return f"`{value}`"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += _rows(annotation, f"{prefix}{name.upper()}__")
            continue
        default = field.get_default(call_default_factory=True)
        rows.append(f"| `{prefix}{name.upper()}` | {_default(default)} | {field.description or ''} |")
    return rows


def settings_reference() -> str:
    header = ["| variable | default | meaning |", "|---|---|---|"]
    return "\n".join(header + _rows(Settings, "MONITOR_")) + "\n"
