"""The running demo's settings for another terminal: ready-to-paste ``export`` lines and ``.local/demo.env``.

The broker port is chosen per run and the private Postgres listens on a socket under ``.local/``, so the
README's default addresses cannot reach a demo; the demo hands its own out instead. The file holds the same
settings the demo's processes run with (alert windows sized for the replay, loopback webhooks allowed), so
`monitor alerts check` or `monitor webhooks test` in that shell behave as the demo's scheduler does.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path

# Settings a command in another shell needs to act on the running demo (the metrics port is left out: a
# second worker started there would collide with the demo's).
SHARED = (
    "MONITOR_DATABASE__URL",
    "MONITOR_KAFKA__BOOTSTRAP_SERVERS",
    "MONITOR_KAFKA__INPUT_TOPIC",
    "MONITOR_MODEL__REGISTRY_DIR",
    "MONITOR_MODEL__DIRECTORY",
    "MONITOR_ALERTS__DASHBOARD_URL",
    "HF_HUB_OFFLINE",
)
SHOWN = ("MONITOR_DATABASE__URL", "MONITOR_KAFKA__BOOTSTRAP_SERVERS")


def shared_settings(env: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """The connection settings plus every demo-specific override (``extra``), in a stable order."""
    return {**{k: env[k] for k in SHARED if k in env}, **extra}


def export_lines(settings: Mapping[str, str], names: tuple[str, ...] | None = None) -> list[str]:
    return [f"export {k}={shlex.quote(v)}" for k, v in settings.items() if names is None or k in names]


def write_env_file(path: Path, settings: Mapping[str, str]) -> Path:
    """``source``-able file; written atomically so a shell never reads half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    header = "# Written by `monitor demo` while it runs (removed when it stops): source it in another shell.\n"
    tmp.write_text(header + "\n".join(export_lines(settings)) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def read_env_file(path: Path) -> dict[str, str]:
    """The settings of ``write_env_file`` back (tests and scripted smoke runs)."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            out[key] = shlex.split(value)[0] if value else ""
    return out
