"""Train a multi-task model end to end: data, backbone, loop, scores on valid, model directory."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from monitor.model.arguments import TrainingArguments
from monitor.model.config import ModelConfig
from monitor.model.corpora import TrainingData, load_training_data
from monitor.model.data import near_duplicate_mask
from monitor.model.evaluation import TaskReport, evaluate_task, predict_labels
from monitor.model.labels import TASK_LABELS
from monitor.model.loop import TrainingLoop
from monitor.model.modeling import MultiTaskModel, count_parameters, freeze_lower_layers, set_seed
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
    )
    model = MultiTaskModel(config, encoder)
    frozen = freeze_lower_layers(model.encoder, args.freeze_layers)
    if args.freeze_layers and not frozen:
        log.warning("backbone %s has no BERT-like layer list; training all layers", name)
    model.uncertainty.requires_grad_(args.loss_weighting == "uncertainty")
    return model, tokenizer


@dataclass
class TrainResult:
    directory: Path
    config: ModelConfig
    valid: dict[str, TaskReport]
    seconds: float


def _valid_reports(model, tokenizer, data: TrainingData, args: TrainingArguments) -> tuple[dict, dict]:
    """Scores on the untouched valid splits, and on their part that does not repeat a train text."""
    train_texts = [e.text for e in data.train] + [e.text for e in data.dev]
    full, dedup = {}, {}
    for task, examples in data.valid.items():
        labels = model.config.tasks[task]
        truth = [e.label(task) for e in examples]
        predicted = predict_labels(
            model, tokenizer, examples, task, max_length=args.max_length, batch_size=args.eval_batch_size
        )
        full[task] = evaluate_task(task, truth, predicted, labels)
        dup = near_duplicate_mask([e.text for e in examples], train_texts)
        keep = [i for i, d in enumerate(dup) if not d]
        report = evaluate_task(task, [truth[i] for i in keep], [predicted[i] for i in keep], labels)
        dedup[task] = {**report.summary(), "near_duplicates_removed": int(sum(dup))}
    return full, dedup


def train_model(
    args: TrainingArguments,
    *,
    out: str | Path,
    backbone: str | Path | None = None,
    extra: str | Path | None = None,
    version: str | None = None,
    tasks: dict[str, list[str]] | None = None,
    data_root: str | Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train on the base corpora (+ extras), keep the best dev epoch, score on valid, save to ``out``."""
    started = time.perf_counter()
    set_seed(args.seed)
    tasks = tasks or {t: list(v) for t, v in TASK_LABELS.items()}
    data = load_training_data(
        tasks,
        seed=args.seed,
        dev_fraction=args.dev_fraction,
        limit=args.limit,
        extra=extra,
        data_root=data_root,
    )
    model, tokenizer = build_model(args, tasks, backbone)
    log.info(
        "model: %s, %d parameters, %d trainable",
        model.config.backbone,
        count_parameters(model),
        sum(p.numel() for p in model.parameters() if p.requires_grad),
    )
    loop = TrainingLoop(model, tokenizer, data, args, progress)
    loop.run()
    train_seconds = time.perf_counter() - started
    valid, dedup = _valid_reports(model, tokenizer, data, args)
    model.to("cpu")
    config = model.config
    config.version = version or f"v{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    config.scores = {task: report.summary() for task, report in valid.items()}
    config.training = {
        "arguments": asdict(args),
        "data": data.summary,
        "steps": loop.steps,
        "examples_seen": loop.examples,
        "train_seconds": round(train_seconds, 1),
        "examples_per_second": round(loop.examples / max(loop.seconds, 1e-9), 1),
        "best_epoch": loop.best[1] if loop.best else None,
        "history": loop.history,
        "valid_dedup_scores": dedup,
        "uncertainty_task_weights": model.uncertainty.weights() if args.loss_weighting == "uncertainty" else None,
        "device": str(loop.device),
        "torch_threads": torch.get_num_threads(),
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(
        json.dumps({t: r.to_dict() for t, r in valid.items()} | {"dedup": dedup}, indent=2) + "\n"
    )
    save_model(model, tokenizer, out)
    return TrainResult(directory=out, config=config, valid=valid, seconds=time.perf_counter() - started)
