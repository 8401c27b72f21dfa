"""``monitor labels``: import a labeled file, consume the label topic, count what is stored."""

from __future__ import annotations

import signal
from pathlib import Path

import typer

from monitor.cli.common import connected_database, connected_engine, load_settings
from monitor.store import make_session_factory, transaction

app = typer.Typer(help="Human labels that feed retraining.", no_args_is_help=True)

MAX_PROBLEMS_SHOWN = 50


@app.command("import")
def import_(
    path: Path = typer.Argument(..., help="CSV or JSONL with text and topic and/or sentiment."),
    author: str = typer.Option(None, "--author", help="Recorded as the author of rows that name none."),
) -> None:
    """Store each good row once (re-importing is harmless); report every bad row with its line."""
    from monitor.learning.importing import import_label_file

    settings = load_settings()
    with connected_database(settings) as factory, transaction(factory) as session:
        report = import_label_file(path, session=session, max_text_chars=settings.stream.max_text_chars,
                                   author=author)
    typer.echo(f"{path}: {report.read} good rows, {report.new} new labels, "
               f"{report.already_stored} already stored, {len(report.problems)} bad rows")
    for problem in report.problems[:MAX_PROBLEMS_SHOWN]:
        typer.echo(f"  {problem}", err=True)
    if len(report.problems) > MAX_PROBLEMS_SHOWN:
        typer.echo(f"  ... and {len(report.problems) - MAX_PROBLEMS_SHOWN} more bad rows", err=True)
    if report.problems:
        raise typer.Exit(1)


@app.command("consume")
def consume(
    until_idle: float = typer.Option(
        None, "--until-idle", min=1, help="Exit after this many seconds without events (default: never)."
    ),
) -> None:
    """Consume label events from MONITOR_KAFKA__LABEL_TOPIC; bad ones go to MONITOR_KAFKA__LABEL_DEAD_LETTER_TOPIC."""
    from monitor.learning.events import build_label_consumer, consume_until_idle

    settings = load_settings()
    engine = connected_engine(settings)
    consumer = build_label_consumer(settings, make_session_factory(engine))
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: consumer.stop())  # the handler only flips the stop flag
    try:
        if until_idle:
            try:
                new = consume_until_idle(consumer, idle_seconds=until_idle)
            finally:
                consumer.close()
            typer.echo(f"{new} new labels")
        else:
            consumer.run()  # closes the consumer when it stops
    finally:
        engine.dispose()


@app.command("count")
def count() -> None:
    """Labels stored, and how many no training run has used yet."""
    from sqlalchemy import func, select

    from monitor.learning.labels import count_unused_labels
    from monitor.store.orm import Label

    settings = load_settings()
    with connected_database(settings) as factory, transaction(factory) as session:
        total = session.scalar(select(func.count()).select_from(Label)) or 0
        unused = count_unused_labels(session=session)
    needed = settings.learning.min_new_labels
    typer.echo(f"{total} labels, {unused} not used by a training run yet (a retrain needs {needed})")
