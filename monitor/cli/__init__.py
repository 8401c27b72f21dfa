"""The ``monitor`` command: a thin Typer app; each sub-command lives in its own module."""

from __future__ import annotations

import importlib
import logging
import sys
import warnings

import typer

from monitor.errors import MonitorError

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


@app.callback()
def _root(
    log_level: str = typer.Option(
        None, "--log-level", envvar="MONITOR_LOG_LEVEL", help="DEBUG, INFO, WARNING or ERROR (default INFO)."
    ),
) -> None:
    configure_logging(log_level or "INFO")


def _wire() -> None:
    for module_name, group in COMMANDS:
        module = importlib.import_module(module_name)
        if group is None:
            module.register(app)
        else:
            app.add_typer(module.app, name=group)


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Libraries that narrate every step at INFO (pgserver's initdb output, APScheduler's every job run).
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    for noisy in ("kafka", "httpx", "httpcore", "alembic.runtime.migration", "pgserver", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    _wire()
    try:
        code = app(standalone_mode=False)  # click returns typer.Exit's code here instead of raising
    except MonitorError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        raise SystemExit(2) from None
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        raise SystemExit(130) from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            raise SystemExit(exc.exit_code) from None
        raise
    raise SystemExit(code if isinstance(code, int) else 0)
