"""``monitor train`` / ``evaluate`` / ``predict``: thin commands over ``monitor.model``."""

from __future__ import annotations

import json
import logging
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import get_args

import typer

from monitor.errors import MonitorError
from monitor.model.config import TextPreprocessing

log = logging.getLogger(__name__)


class PresetName(StrEnum):
    quick = "quick"
    full = "full"
    warm = "warm"


# The text preprocessings a model config accepts, as the option's choices (one list: monitor.model.config).
Preprocessing = StrEnum("Preprocessing", {name: name for name in get_args(TextPreprocessing)})


class TaskName(StrEnum):
    topic = "topic"
    sentiment = "sentiment"


def _quiet_transformers(threads: int | None) -> None:
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    if threads:
        torch.set_num_threads(threads)


def _threads() -> int | None:
    from monitor.cli.common import load_settings

    return load_settings().model.threads


def train(
    out: Path = typer.Option(None, "--out", help="Directory to write the model to (created if missing)."),
    preset: PresetName = typer.Option(
        PresetName.quick, "--preset", help="quick: minutes on a CPU; full: best; warm: fine-tune --init-from."
    ),
    backbone: str = typer.Option(None, "--backbone", help="Encoder directory or hub name (default MiniLM-L6)."),
    extra: Path = typer.Option(None, "--extra", help="CSV/JSONL of extra labels: text,topic,sentiment."),
    epochs: int = typer.Option(None, "--epochs", min=1, help="Override the preset's epochs."),
    max_steps: int = typer.Option(None, "--max-steps", min=1, help="Stop after this many optimizer steps."),
    limit: int = typer.Option(None, "--limit", min=10, help="Cap examples per base corpus (fast tests)."),
    seed: int = typer.Option(None, "--seed", help="Random seed (default: the preset's)."),
    version: str = typer.Option(None, "--version", help="Version name written to config.json."),
    learning_rate: float = typer.Option(None, "--learning-rate", help="Override the preset's learning rate."),
    ema_decay: float = typer.Option(
        None, "--ema-decay", help="Keep a moving average of the weights with this decay per step (e.g. 0.999) and "
        "score, keep and save it instead of the raw weights."
    ),
    layer_decay: float = typer.Option(
        None, "--layer-decay", help="Layer-wise learning-rate decay: each encoder block below the top trains at this "
        "factor of the one above (e.g. 0.9)."
    ),
    text_preprocessing: Preprocessing = typer.Option(
        None, "--text-preprocessing", help="What the tokenizer is shown (default: the preset's, strip_links; a warm "
        "start keeps its source's): strip_links+name_symbols also writes emoji and symbols as words."
    ),
    data_root: Path = typer.Option(
        None, "--data-root", help="Folder laid out like monitor/datasets, used instead of it."
    ),
    init_from: Path = typer.Option(
        None, "--init-from", help="Model directory to fine-tune (warm start) instead of the backbone."
    ),
    replay: int = typer.Option(
        None, "--replay", min=10, help="Base-corpus examples per task replayed in a warm start (default: preset's)."
    ),
    domains: str = typer.Option(
        None, "--domains", help="Comma-separated retail-investor corpora to train on too, or 'none' (default: all; "
        "a warm start: those its source model was trained on)."
    ),
    teacher: list[Path] = typer.Option(
        None, "--teacher", help="Model directory whose confident predictions fill each train text's missing task "
        "(cross-task pseudo-labels). Repeat it for several, e.g. a topic-only and a sentiment-only model; a task "
        "several of them have gets the mean of their probabilities."
    ),
    distill: float = typer.Option(
        None, "--distill", help="With --teacher: learn from the teacher's probabilities of both tasks on every train "
        "text with this weight against the gold labels (e.g. 0.5), instead of confident hard labels."
    ),
    with_pseudo_labels: bool = typer.Option(
        False, "--with-pseudo-labels", help="With --distill: keep the teacher's confident hard labels for each "
        "text's missing task too (the gold-label part of the loss then covers them)."
    ),
    missing_only: bool = typer.Option(
        False, "--distill-missing-only", help="With --distill: soft targets only for each text's missing task (the "
        "gold labels keep their whole loss)."
    ),
    single_task_teachers: bool = typer.Option(
        False, "--single-task-teachers", help="Train a topic-only and a sentiment-only model with the same recipe "
        "first (kept in --teachers-dir: the references for parity), then the shared model with both as teachers. "
        "About three trainings' time; measured in docs/model.md."
    ),
    teachers_dir: Path = typer.Option(
        None, "--teachers-dir", help="With --single-task-teachers: where the two go (default: OUT-teachers). Ones "
        "already there, trained with the same settings, are reused."
    ),
    only: TaskName = typer.Option(
        None, "--task", help="Train a single-task model (that head alone) instead: the reference the shared model is "
        "compared with, or a teacher of that task (see --teacher). It cannot serve: the worker needs both heads."
    ),
    request: Path = typer.Option(
        None, "--request", hidden=True, help="Run a JSON training request (the retrain job's hand-off) instead."
    ),
) -> None:
    """Train the multi-task model on the bundled corpora (+ extra labels) and save it to --out."""
    from monitor.model.arguments import preset as make_args
    from monitor.model.evaluation import format_report
    from monitor.model.training import train_model

    _quiet_transformers(_threads())
    if request is not None:
        _run_request(request)
        return
    if out is None:
        raise MonitorError("pass --out DIR: the directory to write the model to")
    args = make_args(
        preset.value, epochs=epochs, max_steps=max_steps, limit=limit, seed=seed, learning_rate=learning_rate,
        replay_per_corpus=replay, domains=_domains(domains), ema_decay=ema_decay, layer_decay=layer_decay,
        distillation=distill, distill_with_pseudo_labels=with_pseudo_labels or None,
        distill_missing_only=missing_only or None,
        text_preprocessing=text_preprocessing.value if text_preprocessing else None,
    )
    from monitor.model.directory import ModelDirectory
    from monitor.model.labels import TASK_LABELS

    if only is not None and init_from is not None:
        raise MonitorError("--task trains a single-task model from the backbone; leave --init-from out")
    if teachers_dir is not None and not single_task_teachers:
        raise MonitorError("--teachers-dir goes with --single-task-teachers; add it or leave --teachers-dir out")
    if single_task_teachers:
        clash = [name for name, value in (("--teacher", teacher), ("--task", only), ("--init-from", init_from),
                                          ("--distill", distill)) if value]
        if clash:
            raise MonitorError(f"--single-task-teachers trains its own teachers from the backbone; leave "
                               f"{' and '.join(clash)} out")
    for given in (init_from, *(teacher or ())):
        if given is not None:
            ModelDirectory(given).check()
    started = time.perf_counter()
    if single_task_teachers:
        from monitor.model.recipes import train_with_single_task_teachers

        taught = train_with_single_task_teachers(args, out=out, teachers_dir=teachers_dir, backbone=backbone,
                                                 extra=extra, version=version, data_root=data_root)
        result = taught.student
    else:
        taught = None
        result = train_model(args, out=out, backbone=backbone, extra=extra, version=version, data_root=data_root,
                             init_from=init_from, teacher=teacher or None,
                             tasks={only.value: list(TASK_LABELS[only.value])} if only is not None else None)
    dedup = result.config.training.get("valid_dedup_scores", {})
    for task, report in result.valid.items():
        typer.echo("valid " + format_report(report).split("\n", 1)[0])
        if task in dedup:
            d = dedup[task]
            typer.echo(
                f"  without the {d['near_duplicates_removed']} texts that repeat a train text: n={d['n']}  "
                f"accuracy={d['accuracy']:.4f}  macro-F1={d['macro_f1']:.4f}"
            )
    for task, calibration in result.config.training.get("calibration", {}).items():
        typer.echo(f"calibration {task}: T={calibration['temperature']:.3f}  valid ECE "
                   f"{calibration['ece_before']:.4f} -> {calibration['ece_after']:.4f}")
    if taught is not None:
        _echo_parity(taught)
    typer.echo(f"model {result.config.version} written to {out} in {time.perf_counter() - started:.0f}s")


def _echo_parity(taught) -> None:
    """The single-task references' valid scores, and the shared model's accuracy and macro-F1 minus theirs."""
    for task, path in taught.teachers.items():
        ref = taught.references[task]
        how = "trained" if taught.trained[task] else "reused"
        typer.echo(f"teacher {task}-only ({how}, {path}): accuracy={ref.get('accuracy', float('nan')):.4f}  "
                   f"macro-F1={ref.get('macro_f1', float('nan')):.4f}")
    for task, gap in taught.parity().items():
        points = {k: round(100 * v, 1) + 0.0 for k, v in gap.items()}  # + 0.0: "+0.0", never "-0.0"
        typer.echo(f"parity {task}: shared minus {task}-only accuracy {points['accuracy']:+.1f} points, "
                   f"macro-F1 {points['macro_f1']:+.1f}")


def _run_request(path: Path) -> None:
    from monitor.model.handoff import TrainingRequest, run_request

    result = run_request(TrainingRequest.read(path))
    for task, scores in result.scores.items():
        typer.echo(f"valid {task}: accuracy={scores['accuracy']:.4f}  macro-F1={scores['macro_f1']:.4f}")
    typer.echo(f"model {result.version} written to {result.directory} in {result.seconds:.0f}s")


def _domains(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [] if value.strip().lower() == "none" else [v.strip() for v in value.split(",") if v.strip()]


def _read_eval_file(path: Path, task: str, labels: list[str]):
    from monitor.model.data import read_task_csv

    return read_task_csv(path, task, labels)


def evaluate(
    model_dir: Path = typer.Argument(..., help="Model directory."),
    data: Path = typer.Option(..., "--data", help="CSV whose first columns are text,label."),
    task: TaskName = typer.Option(..., "--task", help="Which head to score."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
    save: Path = typer.Option(None, "--save", help="Also write the full report (JSON) here."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Texts per forward pass."),
) -> None:
    """Score a model on a labeled CSV: accuracy, macro/weighted F1, per-class scores, confusion matrix."""
    from monitor.model.evaluation import evaluate_examples, format_report
    from monitor.model.serialization import load_model

    _quiet_transformers(_threads())
    model, tokenizer = load_model(model_dir)
    if task.value not in model.config.tasks:
        raise MonitorError(f"model {model_dir} has no {task.value} head (it has: {', '.join(model.config.tasks)})")
    examples = _read_eval_file(data, task.value, model.config.tasks[task.value])
    started = time.perf_counter()
    report = evaluate_examples(
        model, tokenizer, examples, task.value, max_length=model.config.max_length, batch_size=batch_size
    )
    payload = {
        **report.to_dict(),
        "model_version": model.config.version,
        "data": str(data),
        "seconds": round(time.perf_counter() - started, 2),
    }
    if save:
        save.write_text(json.dumps(payload, indent=2) + "\n")
    typer.echo(json.dumps(payload) if as_json else format_report(report))


def predict(
    texts: list[str] = typer.Argument(None, help="Texts to classify; '-' or none reads lines from stdin."),
    model_dir: Path = typer.Option(
        None, "--model", help="Model directory (default: the registered champion, else MONITOR_MODEL__DIRECTORY)."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """Classify texts: topic with confidence, sentiment with its three probabilities."""
    from dataclasses import asdict

    from monitor.cli.common import load_settings
    from monitor.model.predictor import Predictor

    full_settings = load_settings()
    settings = full_settings.model
    _quiet_transformers(settings.threads)
    if not texts or texts == ["-"]:
        texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not texts:
        raise MonitorError("no texts given; pass them as arguments or on stdin")
    predictor = Predictor.from_settings(settings, path=model_dir or _serving_model(full_settings))
    for text, pred in zip(texts, predictor.predict(texts), strict=True):
        if as_json:
            typer.echo(json.dumps({"text": text, **asdict(pred), "model_version": predictor.version}))
        else:
            typer.echo(
                f"{pred.topic} ({pred.topic_confidence:.2f}) | "
                f"{pred.sentiment} ({pred.sentiment_confidence:.2f}) "
                f"neg {pred.p_negative:.2f} neu {pred.p_neutral:.2f} pos {pred.p_positive:.2f} | {text[:80]}"
            )


def _serving_model(settings) -> Path:
    """What the workers serve: the registered champion, else the model directory from settings."""
    from monitor.cli.common import connected_engine
    from monitor.learning import get_champion
    from monitor.model.directory import ModelDirectory
    from monitor.store import make_session_factory, transaction

    why = "no champion is registered"
    try:
        engine = connected_engine(settings)
    except MonitorError as exc:
        why = f"the model registry is unreachable ({exc})"
    else:
        try:
            with transaction(make_session_factory(engine)) as session:
                champion = get_champion(session=session)
                path = Path(champion.path) if champion is not None else None
        finally:
            engine.dispose()
        if path is not None and path.is_dir():
            return path
        if path is not None:
            why = f"the champion's directory {path} is missing"
    if ModelDirectory(settings.model.directory).exists():
        return settings.model.directory
    raise MonitorError(
        f"no model to use: {why} and MONITOR_MODEL__DIRECTORY ({settings.model.directory}) holds no model; "
        "pass --model DIR, or train one with `monitor train --out models/current`"
    )


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.command("predict")(predict)
