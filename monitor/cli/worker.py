"""``monitor worker`` (consume, classify, store) and ``monitor produce`` (send a file to the topic)."""

from __future__ import annotations

import json
import logging
from itertools import chain
from pathlib import Path

import typer

from monitor.cli.common import connected_engine, load_settings
from monitor.settings import masked_dump

log = logging.getLogger(__name__)


def worker(
    model: Path | None = typer.Option(
        None, "--model", help="Serve this model directory instead of the registry's champion."
    ),
    model_check_seconds: float = typer.Option(
        30.0, help="How often to look for a new champion in the registry."
    ),
    processes: int = typer.Option(
        1, "--processes", min=1, help="Worker processes to run, each its own consumer-group member and model copy."
    ),
) -> None:
    """Consume the input topic, classify in micro-batches, store in Postgres; stop with Ctrl-C or SIGTERM."""
    if processes > 1:
        raise typer.Exit(_worker_processes(processes, model, model_check_seconds))
    from monitor.cli import configure_logging
    from monitor.learning.serving import RegistryModelSource, load_predictor
    from monitor.store import make_session_factory
    from monitor.stream import StaticModelSource, build_worker, run_worker
    from monitor.stream.runner import ensure_dead_letter_topic

    settings = load_settings()
    configure_logging(settings.log_level)
    engine = connected_engine(settings)
    ensure_dead_letter_topic(settings.kafka)  # an unreachable broker fails here, before the model loads
    log.info("configuration: %s", json.dumps(masked_dump(settings)))
    factory = make_session_factory(engine)
    if model is not None:
        models = StaticModelSource(load_predictor(model, settings.model))
    else:
        models = RegistryModelSource(settings, factory, check_seconds=model_check_seconds)
    models.current()  # load before joining the group, so a missing model fails fast
    try:
        run_worker(
            build_worker(settings, models, factory),
            metrics_port=settings.metrics.port,
            metrics_host=settings.metrics.host,
        )
    finally:
        engine.dispose()


def _worker_processes(n: int, model: Path | None, model_check_seconds: float) -> int:
    """Check the settings and services once, then run ``n`` single-process workers as children."""
    from monitor.cli import configure_logging
    from monitor.local.processes import monitor_command
    from monitor.local.supervisor import child_envs, run_worker_processes
    from monitor.stream.runner import ensure_dead_letter_topic

    settings = load_settings()
    configure_logging(settings.log_level)
    connected_engine(settings).dispose()  # one clear error here rather than one per child
    ensure_dead_letter_topic(settings.kafka)
    args = ["worker", "--model-check-seconds", str(model_check_seconds)]
    if model is not None:
        args += ["--model", str(model)]
    envs = child_envs(n, settings.metrics.worker_id, settings.metrics.port)
    log.info("starting %d worker processes in group %s", n, settings.kafka.consumer_group)
    return run_worker_processes([monitor_command(*args)] * n, envs)


def produce(
    source: str = typer.Argument(..., help="CSV (column `text`) or JSONL file, or - for standard input."),
    topic: str | None = typer.Option(None, help="Topic to send to (default: the input topic)."),
    rate: float | None = typer.Option(None, help="Messages per second (default: as fast as possible)."),
    replay: bool = typer.Option(False, "--replay", help="Keep the spacing of the published_at timestamps."),
    speedup: float = typer.Option(1.0, help="With --replay: play this many times faster."),
    max_pause: float | None = typer.Option(
        None, help="With --replay: wait at most this many seconds between two messages (silent stretches of the "
        "stream are shortened; the messages keep their times)."
    ),
    limit: int | None = typer.Option(None, min=1, help="Send at most this many messages."),
    partitions: int = typer.Option(3, min=1, help="Partitions when the topic has to be created."),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Skip lines that are not a JSON object (counted) instead of stopping."
    ),
) -> None:
    """Send news messages to Kafka, keyed by id, with a progress bar; reports sent and skipped counts."""
    from tqdm import tqdm

    from monitor.errors import MonitorError
    from monitor.progress import bar_options
    from monitor.stream import ensure_topic, make_producer
    from monitor.stream.producer import Pacer, ProduceReport, produce_messages
    from monitor.stream.sources import read_messages

    if replay and rate is not None:
        raise MonitorError("use either --rate or --replay, not both")
    if max_pause is not None and not replay:
        raise MonitorError("--max-pause goes with --replay")
    settings = load_settings()
    topic = topic or settings.kafka.input_topic
    report = ProduceReport()
    messages = read_messages(source, limit, on_invalid=report.skip if skip_invalid else None)
    first = next(messages, None)  # a bad file fails here, before any connection is made
    if first is None:
        raise MonitorError(f"{source} holds no messages" + (f" ({report.summary(topic)})" if report.skipped else ""))
    if ensure_topic(settings.kafka, topic, partitions):
        typer.echo(f"created topic {topic} with {partitions} partitions", err=True)
    producer = make_producer(settings.kafka)
    pacer = Pacer(rate=rate, speedup=speedup if replay else None, max_pause=max_pause)
    with tqdm(total=limit, unit="msg", desc=topic, **bar_options()) as bar:
        try:
            produce_messages(producer, topic, chain([first], messages), pacer, bar.update, report=report)
        except MonitorError as exc:
            # Stopped at a bad line: say how many went out before it (they are in Kafka and stay there).
            hint = "--skip-invalid skips such lines"
            raise MonitorError(f"{exc}; stopped after: {report.summary(topic)} ({hint})") from None
        finally:
            producer.close()
    typer.echo(report.summary(topic), err=True)
    for reason in report.skip_reasons:
        typer.echo(f"  skipped {reason}", err=True)
    if report.failed:
        errors = "; ".join(report.errors)
        raise MonitorError(f"{report.failed} messages not sent (first errors: {errors}); check the broker")


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
    app.command("produce")(produce)
