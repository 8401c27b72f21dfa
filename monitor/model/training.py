"""Train a multi-task model end to end: data, backbone, loop, scores on valid, model directory."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from monitor.model.arguments import TrainingArguments
from monitor.model.calibration import HeadCalibration, calibrate_head, label_indices
from monitor.model.card import hardware, render_card
from monitor.model.config import ModelConfig, library_versions
from monitor.model.corpora import DEFAULT_DOMAINS, TrainingData, load_training_data
from monitor.model.data import Example, near_duplicate_mask
from monitor.model.directory import CARD_NAME, EVALUATION_NAME, ModelDirectory
from monitor.model.errors import TrainingDataError
from monitor.model.evaluation import TaskReport, evaluate_task
from monitor.model.labels import TASK_LABELS
from monitor.model.loop import TrainingLoop
from monitor.model.modeling import MultiTaskModel, count_parameters, freeze_lower_layers, set_seed
from monitor.model.pseudo import teach
from monitor.model.serialization import save_model

log = logging.getLogger(__name__)


def build_model(args: TrainingArguments, tasks: dict[str, list[str]], backbone) -> tuple[MultiTaskModel, object]:
    from monitor.model.backbone import load_backbone

    encoder, tokenizer, name = load_backbone(backbone)
    config = ModelConfig(
        backbone=name,
        tasks={t: list(v) for t, v in tasks.items()},
        pooling=args.pooling,
        max_length=args.max_length,
        dropout=args.dropout,
        loss_weighting=args.loss_weighting,
        loss_weights={t: args.loss_weights.get(t, 1.0) for t in tasks},
        text_preprocessing=args.text_preprocessing,
    )
    return _prepare(MultiTaskModel(config, encoder), args), tokenizer


def warm_model(args: TrainingArguments, tasks: dict[str, list[str]], init_from: Path) -> tuple[MultiTaskModel, object]:
    """An existing model to fine-tune further: its weights and architecture, none of its scores or calibration."""
    from monitor.model.serialization import load_model

    model, tokenizer = load_model(init_from)
    if model.config.tasks != tasks:
        raise TrainingDataError(
            f"--init-from {init_from} has other task labels than this training ({', '.join(model.config.tasks)}); "
            "train from the backbone instead"
        )
    config = model.config
    config.version, config.scores, config.training, config.temperatures = "", {}, {}, {}
    config.loss_weighting = args.loss_weighting
    config.loss_weights = {t: args.loss_weights.get(t, 1.0) for t in tasks}
    return _prepare(model, args), tokenizer


def _prepare(model: MultiTaskModel, args: TrainingArguments) -> MultiTaskModel:
    frozen = freeze_lower_layers(model.encoder, args.freeze_layers)
    if args.freeze_layers and not frozen:
        log.warning("backbone %s has no BERT-like layer list; training all layers", model.config.backbone)
    model.uncertainty.requires_grad_(args.loss_weighting == "uncertainty")
    return model


@dataclass
class TrainResult:
    directory: Path
    config: ModelConfig
    valid: dict[str, TaskReport]
    seconds: float


def _probabilities(model, tokenizer, examples: list[Example], args: TrainingArguments) -> dict[str, np.ndarray]:
    """Every head's probabilities for ``examples``, through the predictor's own inference path."""
    from monitor.model.inference import predict_probabilities, tokenize

    ids = tokenize(tokenizer, [e.text for e in examples], args.max_length, model.config.text_preprocessing)
    return predict_probabilities(model, ids, pad_id=tokenizer.pad_token_id or 0, batch_size=args.eval_batch_size)


def _valid_reports(
    model, data: TrainingData, valid_probs: dict[str, np.ndarray]
) -> tuple[dict[str, TaskReport], dict]:
    """Scores on the untouched valid splits, and on their part that does not repeat a train text."""
    train_texts = [e.text for e in data.train] + [e.text for e in data.dev]
    full, dedup = {}, {}
    for task, examples in data.valid.items():
        labels = model.config.tasks[task]
        truth = [e.label(task) for e in examples]
        predicted = [labels[i] for i in valid_probs[task].argmax(axis=1)] if examples else []
        full[task] = evaluate_task(task, truth, predicted, labels)
        dup = near_duplicate_mask([e.text for e in examples], train_texts)
        keep = [i for i, d in enumerate(dup) if not d]
        report = evaluate_task(task, [truth[i] for i in keep], [predicted[i] for i in keep], labels)
        dedup[task] = {**report.summary(), "near_duplicates_removed": int(sum(dup))}
    return full, dedup


def _domain_reports(model, tokenizer, data: TrainingData, args: TrainingArguments) -> dict[str, dict]:
    """Per domain corpus, scores on its held-out split (with per-class recall: negative recall drives alerts)."""
    out = {}
    for name, (task, examples) in data.domain_valid.items():
        labels = model.config.tasks[task]
        probs = _probabilities(model, tokenizer, examples, args)[task]
        report = evaluate_task(task, [e.label(task) for e in examples], [labels[i] for i in probs.argmax(axis=1)],
                               labels)
        out[name] = {"task": task, **report.summary(),
                     "recall": {label: m["recall"] for label, m in report.per_class.items()}}
    return out


def _calibrate(
    model, tokenizer, data: TrainingData, args: TrainingArguments, valid_probs: dict[str, np.ndarray],
    dev_probs: dict[str, np.ndarray] | None = None,
) -> dict[str, HeadCalibration]:
    """Fit one temperature per head on the dev slice; ECE/NLL on valid before and after (raw probabilities in).
    ``dev_probs``: the kept epoch's dev probabilities, when the loop has them (saves a pass over dev)."""
    if dev_probs is None:
        dev_probs = _probabilities(model, tokenizer, data.dev, args) if data.dev else {}
    result = {}
    for task, names in model.config.tasks.items():
        rows = [i for i, e in enumerate(data.dev) if e.label(task) is not None]
        fit_probs = dev_probs[task][rows] if rows else np.zeros((0, len(names)))
        fit_targets = label_indices([data.dev[i].label(task) for i in rows], names)
        valid = data.valid.get(task, [])
        eval_probs = valid_probs[task] if valid else np.zeros((0, len(names)))
        result[task] = calibrate_head(fit_probs, fit_targets, eval_probs,
                                      label_indices([e.label(task) for e in valid], names))
        log.info("calibration %s: T=%.3f (dev n=%d), valid ECE %.4f -> %.4f", task, result[task].temperature,
                 len(rows), result[task].ece_before, result[task].ece_after)
    return result


def train_model(
    args: TrainingArguments,
    *,
    out: str | Path,
    backbone: str | Path | None = None,
    extra: str | Path | None = None,
    version: str | None = None,
    tasks: dict[str, list[str]] | None = None,
    data_root: str | Path | None = None,
    init_from: str | Path | None = None,
    teacher: str | Path | Sequence[str | Path] | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train on the base corpora (+ extras), keep the best dev epoch, calibrate, score on valid, save to ``out``.

    ``init_from`` starts from an existing model directory (warm start) instead of the backbone; its max
    length and pooling are kept, since its weights were trained with them. ``teacher`` (one model directory, or
    several, e.g. one single-task model per task) fills each train text's missing task with its confident
    prediction (``monitor.model.pseudo``), or with ``distillation`` set gives its probabilities of both tasks on
    every train text as soft targets (and, with ``distill_with_pseudo_labels``, the confident hard labels too).
    """
    if args.distillation and not teacher:
        raise TrainingDataError(f"distillation {args.distillation} needs a teacher: pass --teacher MODEL_DIR")
    started = time.perf_counter()
    set_seed(args.seed)
    tasks = tasks or {t: list(v) for t, v in TASK_LABELS.items()}
    source = None
    if init_from:
        model, tokenizer, args, source = _warm_start(args, tasks, Path(init_from))
    elif args.domains is None:
        args = replace(args, domains=list(DEFAULT_DOMAINS))
    data = load_training_data(
        tasks,
        seed=args.seed,
        dev_fraction=args.dev_fraction,
        limit=args.limit,
        replay=args.replay_per_corpus,
        extra=extra,
        data_root=data_root,
        domains=args.domains,
        dev_seed=args.dev_seed,
    )
    pseudo = soft = distilled = None
    # Loading the teacher initialises a network before its weights arrive: with the random state set aside, the
    # student starts from the very weights and batches it would have without a teacher, so the two compare.
    with torch.random.fork_rng():
        if teacher:
            hard = not args.distillation or args.distill_with_pseudo_labels
            data.train, pseudo, soft, distilled = teach(
                data.train, teacher, min_confidence=args.pseudo_min_confidence if hard else None,
                distillation=args.distillation, tasks=tasks, progress=progress)
    if distilled is not None and args.distill_missing_only:
        distilled = {**distilled, "missing_only": True}
    if soft is not None and data.sources.get("extra"):
        # Analysts' labels exist to correct what a model believes: the teacher's view of them is no target.
        rows = data.sources["extra"]
        soft = {t: p.copy() for t, p in soft.items()}
        for p in soft.values():
            p[rows] = 0.0  # a zero row adds nothing to the KL: those texts learn from their labels alone
        distilled = {**distilled, "texts": distilled["texts"] - len(rows), "extra_not_distilled": len(rows)}
    if not init_from:
        model, tokenizer = build_model(args, tasks, backbone)
    log.info(
        "model: %s, %d parameters, %d trainable",
        model.config.backbone,
        count_parameters(model),
        sum(p.numel() for p in model.parameters() if p.requires_grad),
    )
    loop = TrainingLoop(model, tokenizer, data, args, progress, soft_targets=soft)
    loop.run()
    train_seconds = time.perf_counter() - started
    model.config.temperatures = {}  # raw probabilities in, for both the fit and the "before" figures
    valid_probs = {t: _probabilities(model, tokenizer, examples, args)[t] for t, examples in data.valid.items()}
    valid, dedup = _valid_reports(model, data, valid_probs)
    calibration = _calibrate(model, tokenizer, data, args, valid_probs, loop.best_dev_probabilities)
    domains = _domain_reports(model, tokenizer, data, args)
    model.to("cpu")
    config = model.config
    config.temperatures = {task: round(c.temperature, 4) for task, c in calibration.items() if c.fit_n}
    config.version = version or f"v{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    config.scores = {task: report.summary() for task, report in valid.items()}
    config.training = {
        "arguments": asdict(args),
        "data": data.summary,
        "init_from": source,
        "pseudo_labels": pseudo,
        "distillation": distilled,
        "steps": loop.steps,
        "examples_seen": loop.examples,
        "train_seconds": round(train_seconds, 1),
        "examples_per_second": round(loop.examples / max(loop.seconds, 1e-9), 1),
        "best_epoch": loop.best[1] if loop.best else None,
        "history": loop.history,
        "valid_dedup_scores": dedup,
        "domain_scores": domains,
        "calibration": {task: c.to_dict() for task, c in calibration.items()},
        "uncertainty_task_weights": model.uncertainty.weights() if args.loss_weighting == "uncertainty" else None,
        "device": str(loop.device),
        "torch_threads": torch.get_num_threads(),
        "hardware": hardware(),
    }
    config.training["total_seconds"] = round(time.perf_counter() - started, 1)
    _write(Path(out), model, tokenizer, {t: r.to_dict() for t, r in valid.items()} | {"dedup": dedup})
    return TrainResult(directory=Path(out), config=config, valid=valid, seconds=time.perf_counter() - started)


def _warm_start(args: TrainingArguments, tasks, init_from: Path) -> tuple[MultiTaskModel, object, TrainingArguments,
                                                                           dict]:
    """The source model, the arguments adapted to it, and the provenance to record."""
    source = ModelDirectory(init_from)
    source_args = source.config.training.get("arguments") or {}
    trained_on = source_args.get("domains") or []
    provenance = {"version": source.version, "path": str(init_from.resolve()),
                  "replay_per_corpus": args.replay_per_corpus}
    model, tokenizer = warm_model(args, tasks, init_from)
    # Its weights were trained with this max length, pooling and text preprocessing; it replays its data.
    args = replace(args, max_length=model.config.max_length, pooling=model.config.pooling,
                   text_preprocessing=model.config.text_preprocessing,
                   domains=list(trained_on) if args.domains is None else args.domains)
    # The source's dev slice is the one text set it never trained on: reuse it (early stopping, the temperature
    # fit). A replay sample drawn with another seed would put texts the source trained on in the dev slice, and
    # a temperature fitted on them comes out too sharp.
    if "seed" in source_args:
        dev_seed = source_args.get("dev_seed")
        args = replace(args, dev_seed=source_args["seed"] if dev_seed is None else dev_seed,
                       dev_fraction=source_args.get("dev_fraction", args.dev_fraction))
    return model, tokenizer, args, provenance


def _write(out: Path, model: MultiTaskModel, tokenizer, evaluation: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / EVALUATION_NAME).write_text(json.dumps(evaluation, indent=2) + "\n")
    model.config.library_versions = library_versions()
    (out / CARD_NAME).write_text(render_card(model.config, evaluation), encoding="utf-8")
    save_model(model, tokenizer, out)  # config.json last: the directory is complete once it appears
