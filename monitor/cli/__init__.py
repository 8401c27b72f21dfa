"""The ``monitor`` command: a thin Typer app; each sub-command lives in its own module."""

from __future__ import annotations

import importlib
import logging
import sys
import traceback
import typing
import warnings

import typer

from monitor.errors import ConfigError, MonitorError
from monitor.masking import SecretFilter, mask_secrets, remember_embedded
from monitor.settings import LogLevel

app = typer.Typer(
    help="Financial news monitor: stream, classify, store, alert, retrain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# (module, name, help) of each command group; a module exposes `app` (a group) or `register(app)`.
COMMANDS: list[tuple[str, str | None]] = [
    ("monitor.cli.config", "config"),
    ("monitor.cli.db", "db"),
    ("monitor.cli.model", None),
    ("monitor.cli.alerts", "alerts"),
    ("monitor.cli.webhooks", "webhooks"),
    ("monitor.cli.demo", None),
    ("monitor.cli.worker", None),
    ("monitor.cli.labels", "labels"),
    ("monitor.cli.models", "models"),
    ("monitor.cli.scheduler", None),
    ("monitor.cli.dashboard", None),
]


LOG_LEVELS = typing.get_args(LogLevel)
DEBUG_HINT = "run with MONITOR_LOG_LEVEL=DEBUG for details"


@app.callback()
def _root(
    log_level: str = typer.Option(
        None, "--log-level", envvar="MONITOR_LOG_LEVEL", help="DEBUG, INFO, WARNING or ERROR (default INFO)."
    ),
) -> None:
    configure_logging(log_level or "INFO")


def _wire() -> None:
    if app.registered_groups or app.registered_commands:  # main() may run more than once in a process
        return
    for module_name, group in COMMANDS:
        module = importlib.import_module(module_name)
        if group is None:
            module.register(app)
        else:
            app.add_typer(module.app, name=group)


def checked_level(level: str) -> str:
    """The level name in upper case, or a one-line ConfigError naming the setting."""
    name = str(level).strip().upper()
    if name not in LOG_LEVELS:
        raise ConfigError(
            f"MONITOR_LOG_LEVEL (or --log-level) is {level!r}; use one of {', '.join(LOG_LEVELS)}"
        )
    return name


def configure_logging(level: str = "INFO") -> None:
    """Root handler on stderr (once), the level, and the secret filter on every root handler."""
    name = checked_level(level)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    root.setLevel(name)
    for handler in root.handlers:  # handler filters see records propagated from every logger
        if not any(isinstance(f, SecretFilter) for f in handler.filters):
            handler.addFilter(SecretFilter())
    # Libraries that narrate every step at INFO (pgserver's initdb output, APScheduler's every job run).
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    for noisy in ("kafka", "httpx", "httpcore", "alembic.runtime.migration", "pgserver", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def main() -> None:
    """Entry point: every failure is one masked line on stderr and a non-zero exit, never a traceback.

    Exit codes: 2 for something the user can fix (a MonitorError, bad usage, a bad path), 130 when
    interrupted, 1 for anything unforeseen (its traceback only at MONITOR_LOG_LEVEL=DEBUG).
    """
    _wire()
    remember_embedded(sys.argv[1:])  # e.g. `monitor demo --database-url postgresql://u:PASSWORD@...`
    try:
        code = app(standalone_mode=False)  # click returns typer.Exit's code here instead of raising
    except MonitorError as exc:
        _fail(f"error: {exc}", 2)
    except (typer.Abort, KeyboardInterrupt):
        _fail("aborted", 130)
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except typer.TyperException as exc:  # click's errors (typer vendors click, so not click.ClickException)
        _usage_error(exc)
    except OSError as exc:
        _os_error(exc)
    except Exception as exc:
        _unexpected(exc)
    raise SystemExit(code if isinstance(code, int) else 0)


def _fail(line: str, code: int) -> typing.NoReturn:
    """Print one line (secrets masked, line breaks folded) and exit."""
    one_line = " ".join(part.strip() for part in str(line).splitlines() if part.strip())
    typer.secho(mask_secrets(one_line), err=True, fg="red" if code != 130 else None)
    raise SystemExit(code)


def _usage_error(exc: typer.TyperException) -> typing.NoReturn:
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":  # a bare `monitor config`: the group's help is the answer
        exc.show()
        raise SystemExit(getattr(exc, "exit_code", 2))
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    _fail(f"error: {message}{hint}", getattr(exc, "exit_code", 2))


def _os_error(exc: OSError) -> typing.NoReturn:
    if exc.filename is None:  # a socket or pipe, not a path the user named
        _unexpected(exc)
    _debug_traceback(exc)
    _fail(f"error: {exc.filename}: {exc.strerror or exc}; check the path and its permissions", 2)


def _unexpected(exc: BaseException) -> typing.NoReturn:
    _debug_traceback(exc)
    from sqlalchemy.exc import DataError

    if isinstance(exc, DataError):  # Postgres refused a value the user typed (an id or limit out of range)
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        _fail(f"error: the database refused a value given ({reason}); check the numbers and ids passed", 2)
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    _fail(f"error: unexpected {type(exc).__name__}: {first}; {DEBUG_HINT}", 1)


def _debug_traceback(exc: BaseException) -> None:
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        sys.stderr.write(mask_secrets("".join(traceback.format_exception(exc))))
