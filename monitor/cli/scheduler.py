"""``monitor scheduler`` runs the scheduled jobs; ``monitor scheduler list`` and ``monitor jobs run NAME``."""

from __future__ import annotations

import logging

import typer

from monitor.cli.common import load_settings

log = logging.getLogger(__name__)

scheduler_app = typer.Typer(help="Run the scheduled jobs: retrain, alert check, webhook relay, housekeeping.")
jobs_app = typer.Typer(help="Run one scheduled job now.", no_args_is_help=True)


@scheduler_app.callback(invoke_without_command=True)
def scheduler(ctx: typer.Context) -> None:
    """Run every job on its schedule until SIGTERM/SIGINT (running jobs finish first)."""
    if ctx.invoked_subcommand is not None:
        return
    from monitor.jobs import JobContext, run_scheduler
    from monitor.settings import masked_dump

    settings = load_settings()
    log.info("effective configuration: %s", masked_dump(settings))
    job_ctx = JobContext.connect(settings)
    try:
        run_scheduler(job_ctx)
    finally:
        job_ctx.close()


@scheduler_app.command("list")
def list_() -> None:
    """The named jobs and how often each runs with the current settings."""
    from monitor.jobs import JOBS

    settings = load_settings()
    for spec in JOBS:
        start = "at start-up, then " if spec.run_at_start else ""
        every = _every(spec.interval_seconds(settings))
        typer.echo(f"{spec.name:<14} {start}every {every}: {spec.description}")


@jobs_app.command("run")
def run(
    name: str = typer.Argument(..., help="Job name from `monitor scheduler list`."),
    force: bool = typer.Option(False, "--force", help="retrain: run even with too few new labels."),
) -> None:
    """Run one job in the foreground and print its report."""
    from monitor.jobs import JobContext, get_job

    spec = get_job(name)
    job_ctx = JobContext.connect(load_settings())
    job_ctx.force = force
    try:
        result = spec.run(job_ctx)
    finally:
        job_ctx.close()
    typer.echo(f"{name}: {result}")
    if getattr(result, "status", None) == "failed":
        raise typer.Exit(1)


def _every(seconds: float) -> str:
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{seconds:g} s"


def register(app: typer.Typer) -> None:
    app.add_typer(scheduler_app, name="scheduler")
    app.add_typer(jobs_app, name="jobs")
