"""``monitor models``: list versions and training runs, promote, roll back, register a directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from monitor.cli.common import connected_database, connected_session, load_settings, parse_time
from monitor.errors import MonitorError
from monitor.model.directory import ModelDirectory

app = typer.Typer(help="Model versions: the champion workers serve, and the rest.", no_args_is_help=True)


def _scores(scores: dict[str, Any] | None) -> str:
    if not scores:
        return "-"
    parts = [f"{name} {scores[name]['accuracy']:.3f}/{scores[name]['macro_f1']:.3f}"
             for name in ("topic", "sentiment") if {"accuracy", "macro_f1"} <= set(scores.get(name) or {})]
    if isinstance(scores.get("labels"), dict):
        parts.append(f"labels {scores['labels']['accuracy']:.3f} (n={scores['labels']['n']})")
    return ", ".join(parts) or "-"


@app.command("list")
def list_() -> None:
    """Every registered version, newest first (scores: accuracy/macro-F1)."""
    from monitor.learning.registry import list_versions

    with connected_session(load_settings()) as session:
        versions = list_versions(session=session)
        if not versions:
            typer.echo("no model versions registered; `monitor models register DIR` adds one")
            return
        for v in versions:
            created = f"{v.created_at:%Y-%m-%d %H:%M}"
            typer.echo(f"{v.version:<28} {v.status:<9} {created}  {_scores(v.scores)}  {v.path}")


@app.command("runs")
def runs(limit: int = typer.Option(20, "--limit", min=1, help="How many runs to show.")) -> None:
    """Recent training runs with their decision or error."""
    from monitor.learning.runs import list_training_runs

    with connected_session(load_settings()) as session:
        found = list_training_runs(session=session, limit=limit)
        if not found:
            typer.echo("no training runs yet: the scheduler retrains once enough new labels wait "
                       "(`monitor jobs run retrain` starts one now)")
        for r in found:
            outcome = (r.error or r.decision or "").splitlines()[0][:120] if (r.error or r.decision) else ""
            typer.echo(f"#{r.id:<4} {r.status:<9} {r.started_at:%Y-%m-%d %H:%M} {r.trigger:<9} "
                       f"{r.candidate_version or '-'} vs {r.champion_version or '-'}: {outcome}")


@app.command("show")
def show(version: str = typer.Argument(..., help="Version from `monitor models list`, or a model directory.")) -> None:
    """Print a version's model card: data, recipe, seed, per-class scores, calibration, time, hardware."""
    typer.echo(_resolve(version).card_or_summary(), nl=False)


def _resolve(version: str) -> ModelDirectory:
    """A registered version's directory; a path to a model directory works too, without the database (a model
    trained on a laptop, nothing registered yet)."""
    from monitor.learning.registry import UnknownVersion, get_version

    if ModelDirectory(version).exists():
        return _check_directory(Path(version))
    try:
        with connected_session(load_settings()) as session:
            return _check_directory(Path(get_version(version, session=session).path))
    except UnknownVersion:
        if Path(version).is_dir():
            return _check_directory(Path(version))
        raise


@app.command("promote")
def promote(version: str = typer.Argument(..., help="Version from `monitor models list`.")) -> None:
    """Make VERSION the champion; workers switch to it between batches."""
    from monitor.learning.registry import get_version, promote_version

    with connected_session(load_settings()) as session:
        _check_directory(Path(get_version(version, session=session).path), serves=True)
        row = promote_version(version, session=session)
    typer.echo(f"{row.version} is the champion")


@app.command("rollback")
def rollback() -> None:
    """Promote the champion before the current one again."""
    from monitor.learning.registry import rollback_champion

    with connected_session(load_settings()) as session:
        row = rollback_champion(session=session)
        _check_directory(Path(row.path), serves=True)
    typer.echo(f"rolled back: {row.version} is the champion")


@app.command("register")
def register(
    directory: Path = typer.Argument(..., help="A model directory written by `monitor train`."),
    version: str = typer.Option(None, "--version", help="Name to register (default: config.json's version)."),
    champion: bool = typer.Option(False, "--champion", help="Also make it the champion."),
) -> None:
    """Register an existing model directory as a version (with the scores its config.json records)."""
    from monitor.learning.registry import register_version

    model = _check_directory(directory, serves=True)
    name = version or model.version
    with connected_session(load_settings()) as session:
        register_version(name, str(directory.resolve()), session=session, scores=model.scores or None,
                         status="champion" if champion else "candidate")
    typer.echo(f"registered {name}{' as champion' if champion else ''}")


@app.command("rescore")
def rescore(
    version: str = typer.Argument(None, help="Version from `monitor models list` (default: the champion)."),
    since: str = typer.Option(None, "--since", help="Start of event time to re-read (ISO 8601; default: all)."),
    until: str = typer.Option(None, "--until", help="End of event time to re-read (ISO 8601; default: all)."),
    days: int = typer.Option(None, "--days", min=1, help="Re-read only the last N days up to the latest event."),
    batch_size: int = typer.Option(256, "--batch-size", min=1, help="Articles per prediction batch."),
) -> None:
    """Re-read stored articles with VERSION so the dashboard and the detector count its reading.

    Adds a prediction where VERSION has none (newest prediction wins); stops and reruns are safe. Decided
    alerts stay as they are: the detector counts the new reading from its next step on."""
    from tqdm import tqdm

    from monitor.learning.registry import get_version
    from monitor.learning.rescore import count_pending, recent_stretch
    from monitor.learning.rescore import rescore as rescore_articles
    from monitor.learning.retrain import current_champion
    from monitor.model.predictor import Predictor
    from monitor.progress import bar_options
    from monitor.store import transaction

    if days is not None and since is not None:
        raise MonitorError("give --days or --since, not both")
    start, end = parse_time(since, "--since"), parse_time(until, "--until")
    if start is not None and end is not None and end <= start:
        raise MonitorError(f"--until {until} is not after --since {since}")
    settings = load_settings()
    with connected_database(settings) as factory:
        with transaction(factory) as session:
            if version is None:
                champion = current_champion(settings.model, session=session)
                if champion is None:
                    raise MonitorError("no champion to re-read with: name a VERSION, or promote one first")
                name, path = champion.version, champion.path
            else:
                name, path = version, Path(get_version(version, session=session).path)
            if days is not None:
                start = recent_stretch(days, session=session)
            pending = count_pending(name, since=start, until=end, session=session)
        if pending == 0:
            typer.echo(f"nothing to re-read: every stored article in that stretch has a prediction by {name}")
            return
        reader = Predictor.from_settings(settings.model, _check_directory(path).path)
        with tqdm(total=pending, unit="article", desc=f"re-reading with {name}", **bar_options()) as bar:
            result = rescore_articles(reader, name, factory, since=start, until=end, batch_size=batch_size,
                                      progress=bar.update)
    typer.echo(f"re-read {result.articles} article(s) with {name} in {result.seconds:.0f}s: "
               f"{result.written} prediction(s) added")


def _check_directory(directory: Path, *, serves: bool = False) -> ModelDirectory:
    """The model directory, or a one-line error saying what is wrong with it (missing files, bad config; with
    ``serves``, a head missing: what the workers would load must have both)."""
    model = ModelDirectory(directory)
    return model.check_serves() if serves else model.check()
