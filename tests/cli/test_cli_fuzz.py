"""A sweep and a fuzz over the whole CLI: whatever a user types or sets, the answer is help, a result, or one
line on stderr with a non-zero exit; never a traceback.

Runs ``main()`` in-process (hundreds of invocations; a subprocess each would take minutes) with Postgres
and Kafka pointed at a closed port, so no command can do real work or wait on a network.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
import typing
from datetime import datetime
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr

from monitor.cli import _wire, app, main
from monitor.settings import Settings

CLOSED = {
    "MONITOR_DATABASE__URL": "postgresql+psycopg://postgres:FuzzSecret9@127.0.0.1:1/none",
    "MONITOR_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1",
    "MONITOR_KAFKA__CONNECT_TIMEOUT_MS": "200",
}
# Commands that, with Postgres and Kafka unreachable, fail fast or finish: safe to run with any arguments.
SAFE_TO_RUN = [
    ("config", "show"),
    ("config", "reference"),
    ("db", "upgrade"),
    ("db", "downgrade"),
    ("alerts", "list"),
    ("alerts", "check"),
    ("webhooks", "add"),
    ("webhooks", "list"),
    ("webhooks", "disable"),
    ("webhooks", "relay"),
    ("labels", "import"),
    ("labels", "count"),
    ("models", "list"),
    ("models", "runs"),
    ("models", "promote"),
    ("models", "register"),
    ("models", "rescore"),
    ("scheduler", "list"),
    ("jobs", "run"),
]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def invoke(monkeypatch, capsys, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    for name, value in {**CLOSED, **(env or {})}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["monitor", *args])
    capsys.readouterr()
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    else:  # main() always ends in SystemExit
        pytest.fail(f"main() returned instead of exiting: {args}")
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def assert_clean(res: subprocess.CompletedProcess[str]) -> None:
    """A result, help, or exactly one line on stderr; an int exit code; no traceback; no secret."""
    assert isinstance(res.returncode, int), res
    assert "Traceback" not in res.stdout + res.stderr, res
    assert "FuzzSecret9" not in res.stdout + res.stderr, res
    if res.returncode != 0 and "Usage:" not in res.stderr:
        assert res.stderr.count("\n") == 1 and res.stderr.startswith("error: "), res


def leaf_commands() -> list[tuple[tuple[str, ...], typer.core.TyperCommand]]:
    _wire()
    found = []

    def walk(command, path):
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                walk(sub, (*path, name))
        else:
            found.append((path, command))

    walk(typer.main.get_command(app), ())
    return found


LEAVES = leaf_commands()


def required_arguments(command) -> list[str]:
    """Harmless values for a command's required arguments (numbers where numbers are expected)."""
    values = []
    for param in command.params:
        if param.param_type_name == "argument" and param.required:
            number = param.type_descriptor.annotation in (int, float)
            values.append("1" if number else "x")
    return values


# --- every command, every numeric option ---------------------------------------------------------------


@pytest.mark.parametrize("path", [p for p, _ in LEAVES], ids=" ".join)
def test_every_command_has_help_and_refuses_unknown_options(monkeypatch, capsys, path):
    helped = invoke(monkeypatch, capsys, *path, "--help")
    assert helped.returncode == 0 and "Usage" in helped.stdout, helped
    wrong = invoke(monkeypatch, capsys, *path, "--no-such-option-anywhere")
    assert wrong.returncode == 2 and "No such option" in wrong.stderr, wrong
    assert_clean(wrong)


NUMERIC = [
    (path, param.opts[0], required_arguments(command))
    for path, command in LEAVES
    for param in command.params
    if param.param_type_name == "option" and param.type_descriptor.annotation in (int, float)
]


@pytest.mark.parametrize(("path", "option", "arguments"), NUMERIC, ids=[f"{' '.join(p)} {o}" for p, o, _ in NUMERIC])
@pytest.mark.parametrize("value", ["not-a-number", "1e", "0x"])
def test_every_numeric_option_refuses_a_non_number(monkeypatch, capsys, path, option, arguments, value):
    res = invoke(monkeypatch, capsys, *path, *arguments, option, value)
    assert res.returncode == 2 and option in res.stderr, res
    assert_clean(res)


def test_the_sweep_found_the_whole_cli():
    names = {" ".join(p) for p, _ in LEAVES}
    assert {"worker", "evaluate", "produce", "config show", "db upgrade", "webhooks add", "labels import"} <= names
    assert len(NUMERIC) >= 15


# --- every setting ------------------------------------------------------------------------------------


def leaf_settings(model: type[BaseModel] = Settings, prefix: str = "MONITOR_") -> list[tuple[str, typing.Any]]:
    rows = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += leaf_settings(annotation, f"{prefix}{name.upper()}__")
        else:
            rows.append((f"{prefix}{name.upper()}", annotation))
    return rows


def wrong_value(annotation: typing.Any) -> str | None:
    """A value no branch of the annotation accepts, or None where any text is valid (str, Path, secrets)."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    branches = [a for a in typing.get_args(annotation) if a is not type(None)] if union else [annotation]
    if typing.get_origin(annotation) is typing.Literal:
        return "no-such-choice"
    kinds = {typing.get_origin(b) or b for b in branches}
    if kinds & {str, Path, SecretStr}:
        return None
    if list in kinds:
        return "[not json"
    if datetime in kinds:
        return "not-a-time"
    if bool in kinds:
        return "maybe"
    return "not-a-number"  # int, float, and unions of a number with a Literal ("auto")


TYPED = [(var, wrong_value(ann)) for var, ann in leaf_settings() if wrong_value(ann) is not None]


@pytest.mark.parametrize(("variable", "value"), TYPED, ids=[v for v, _ in TYPED])
def test_every_setting_refuses_a_value_of_the_wrong_type(monkeypatch, capsys, variable, value):
    res = invoke(monkeypatch, capsys, "config", "show", env={variable: value})
    assert res.returncode == 2, res
    group = variable.split("__")[0]
    assert variable in res.stderr or (value.startswith("[") and group in res.stderr), res
    assert_clean(res)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MONITOR_METRICS__PORT", "-5"),
        ("MONITOR_METRICS__PORT", "65536"),
        ("MONITOR_METRICS__HOST", ""),
        ("MONITOR_METRICS__HEARTBEAT_SECONDS", "0"),
        ("MONITOR_METRICS__HEARTBEAT_SECONDS", "inf"),
        ("MONITOR_METRICS__HEARTBEAT_SECONDS", "nan"),
        ("MONITOR_LOG_LEVEL", "LOUD"),
        ("MONITOR_LOG_LEVEL", ""),
    ],
)
def test_metrics_and_log_level_bounds(monkeypatch, capsys, variable, value):
    res = invoke(monkeypatch, capsys, "config", "show", env={variable: value})
    assert res.returncode == 2 and variable in res.stderr, res
    assert_clean(res)


def test_metrics_host_defaults_to_loopback_and_accepts_all_interfaces(monkeypatch, capsys):
    shown = json.loads(invoke(monkeypatch, capsys, "config", "show").stdout)
    assert shown["metrics"]["host"] == "127.0.0.1"
    shown = json.loads(invoke(monkeypatch, capsys, "config", "show", env={"MONITOR_METRICS__HOST": "0.0.0.0"}).stdout)
    assert shown["metrics"]["host"] == "0.0.0.0"


# --- property-based: any value for any setting, any arguments to any safe command ----------------------

ENV_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
SETTING_NAMES = [var for var, _ in leaf_settings()]


@FUZZ
@given(variable=st.sampled_from(SETTING_NAMES), value=ENV_TEXT | st.sampled_from(["-1", "nan", "inf", "1e999", "{}"]))
def test_any_value_of_any_setting(monkeypatch, capsys, variable, value):
    res = invoke(monkeypatch, capsys, "config", "show", env={variable: value})
    assert_clean(res)
    if res.returncode == 0:
        json.loads(res.stdout)
    else:
        assert res.returncode == 2 and res.stderr.startswith("error: MONITOR_"), res


OPTION_WORDS = sorted({o for _, c in LEAVES for p in c.params if p.param_type_name == "option" for o in p.opts})
ARG_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
TOKENS = st.lists(st.sampled_from(OPTION_WORDS) | ARG_TEXT | st.sampled_from(["-1", "0", "99999999999999999999", "-"]),
                  max_size=5)


@FUZZ
@given(command=st.sampled_from(SAFE_TO_RUN), tokens=TOKENS)
def test_any_arguments_to_any_safe_command(monkeypatch, capsys, command, tokens):
    if "-" in tokens:  # "-" means standard input, which pytest does not let a test read
        tokens = [t for t in tokens if t != "-"]
    assert_clean(invoke(monkeypatch, capsys, *command, *tokens))
