"""``monitor demo``: run the whole product locally on embedded parts."""

from __future__ import annotations

import signal
from pathlib import Path

import typer


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    data_dir: Path = typer.Option(Path(".local"), help="Folder for Postgres data, models and logs (reused)."),
    model_dir: Path | None = typer.Option(None, help="Serve this model directory instead of the starter."),
    database_url: str | None = typer.Option(None, help="Use this Postgres instead of a private one."),
    stream: Path | None = typer.Option(None, help="CSV to replay (text, created_at, row_id); default bundled."),
    limit: int | None = typer.Option(None, help="Replay only the first N tweets."),
    speedup: float = typer.Option(30000.0, help="Replay speed-up over the tweets' real spacing."),
    max_pause: float = typer.Option(
        3.0, min=0.0, help="Longest wait between two replayed tweets, in seconds: stretches of the stream without "
        "tweets (18 days from 9 May 2020 in the bundled one) are shortened to it; event times stay as they are."
    ),
    burst: bool = typer.Option(True, help="Inject a burst of negative earnings news into the replay."),
    dashboard: bool = typer.Option(True, help="Start the Streamlit dashboard."),
    dashboard_port: int = typer.Option(8501, help="Dashboard port."),
    metrics_port: int = typer.Option(9108, help="Worker's Prometheus port."),
    exit_after_alert: bool = typer.Option(False, help="Stop once the first alert webhook arrives (tests, CI)."),
    timeout: float | None = typer.Option(None, help="Give up after this many seconds (with --exit-after-alert)."),
    fresh: bool | None = typer.Option(
        None, "--fresh/--keep-data",
        help="Empty the database before replaying, or keep an earlier run's data (then nothing new alerts). "
        "Default: empty it when an earlier demo run made it, keep any other database's data.",
    ),
    progress_seconds: float = typer.Option(10.0, min=1.0, help="How often to print the replay's progress."),
) -> None:
    """Start broker, Postgres, worker, scheduler and dashboard; replay tweets with a burst; print alerts."""
    from monitor.local.demo import DemoOptions, run_demo

    opts = DemoOptions(data_dir=data_dir, model_dir=model_dir, database_url=database_url, stream=stream,
                       limit=limit, speedup=speedup, max_pause=max_pause, burst=burst, dashboard=dashboard,
                       dashboard_port=dashboard_port, metrics_port=metrics_port,
                       exit_after_alert=exit_after_alert, timeout=timeout, fresh=fresh,
                       progress_seconds=progress_seconds)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill`, systemd or a container stop: same clean stop as Ctrl-C
    try:
        code = run_demo(opts)
    except KeyboardInterrupt:
        typer.echo("stopping: workers finish their batch and commit")
        code = 0
    raise typer.Exit(code)
