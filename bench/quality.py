"""Quality and cost of the shared multi-task model versus one single-task model per task.

Trains (or loads, with --multi/--topic/--sentiment) the multi-task model and, with the same recipe, a
topic-only and a sentiment-only model; prints JSON lines: per-task scores on the valid splits (and on
their part that does not repeat a train text), Financial PhraseBank sentiment (all 4,846 sentences of
sentences_50agree.csv; never trained on, read from ../shared/data and skipped when absent), sentiment on the
held-out split of each bundled retail-investor set (with negative recall), expected calibration error per head
on valid with the raw and the model's temperature-scaled probabilities, and inference texts/s of the shared
model versus running the two single-task models.

    .venv/bin/python bench/quality.py --preset full --out runs/quality        # trains three models
    .venv/bin/python bench/quality.py --seeds 3 --out runs/quality            # three seeds each, mean +- spread
    .venv/bin/python bench/quality.py --multi models/full-1 --speed-only       # speed with untrained twins
    .venv/bin/python bench/quality.py --models multi --teacher models/full-1   # cross-task pseudo-labels
    .venv/bin/python bench/quality.py --domains surge-stock-sentiment --epochs 6 --learning-rate 5e-5
                                       # bench/loop.py's base data (Taborda held out), a longer schedule
    .venv/bin/python bench/quality.py --models multi --teacher models/full-1 --distill 0.5   # soft targets
    .venv/bin/python bench/quality.py --models multi --teacher models/full-1 --distill 0.2 --with-pseudo-labels
                                       # soft targets and the confident hard labels together
    .venv/bin/python bench/quality.py --models multi --teacher models/full-1 --distill 0.5 --distill-missing-only
                                       # soft targets only where a text has no gold label for the task
    .venv/bin/python bench/quality.py --models multi --ema-decay 0.999 --layer-decay 0.9      # other levers
    .venv/bin/python bench/quality.py --seeds 3 --single-task-teachers
                                       # per seed: topic-only and sentiment-only first, then the shared model
                                       # with those two as its teachers (cross-task pseudo-labels)

With --seeds N every model is trained with seeds 42, 43, ... (into OUT/seed-S/NAME) and scored; a "summary"
line per model and task gives the mean, the spread (max - min) and the per-seed valid scores, and a "gap" line
per task the shared model's mean minus the single-task model's (the parity the model issue asks for).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from monitor import datasets
from monitor.model.arguments import preset
from monitor.model.calibration import (
    expected_calibration_error,
    label_indices,
    log_probabilities,
    negative_log_likelihood,
)
from monitor.model.corpora import CORPORA, DOMAIN_CORPORA
from monitor.model.data import near_duplicate_mask, read_task_csv
from monitor.model.errors import TrainingDataError
from monitor.model.evaluation import evaluate_task, predict_labels
from monitor.model.inference import predict_probabilities, tokenize
from monitor.model.labels import TASK_LABELS
from monitor.model.serialization import load_model
from monitor.model.training import build_model, train_model

log = logging.getLogger("bench.quality")
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PHRASEBANK = "financial-phrasebank/sentences_50agree.csv"


def emit(**record) -> None:
    print(json.dumps(record), flush=True)


def obtain(name: str, given: Path | None, tasks: dict, args, opts, out: Path, teacher: list[Path] | None = None,
           ) -> tuple:
    """(model, tokenizer) loaded from ``given`` or trained with the recipe into ``out/name`` (with ``teacher``,
    one or more model directories, for cross-task pseudo-labels or distillation)."""
    if given:
        return load_model(given)
    if opts.speed_only:
        model, tokenizer = build_model(args, tasks, opts.backbone)
        return model.eval(), tokenizer
    out = out / name
    started = time.perf_counter()
    if not teacher:
        args = replace(args, distillation=0.0, distill_with_pseudo_labels=False, distill_missing_only=False)
    train_model(args, out=out, backbone=opts.backbone, tasks=tasks, version=f"bench-{name}-{args.seed}",
                teacher=teacher)
    emit(kind="train", model=name, seed=args.seed, seconds=round(time.perf_counter() - started, 1), out=str(out))
    return load_model(out)


def probabilities(model, tokenizer, examples, task: str):
    """Probabilities of ``task`` through the predictor's path (temperature-scaled when the model has one)."""
    ids = tokenize(tokenizer, [e.text for e in examples], model.config.max_length, model.config.text_preprocessing)
    return predict_probabilities(model, ids, pad_id=tokenizer.pad_token_id or 0, batch_size=64)[task]


def calibration(name: str, task: str, model, tokenizer, valid) -> None:
    """ECE (15 bins) and NLL on valid: raw softmax versus the stored temperature."""
    labels = model.config.tasks[task]
    targets = label_indices([e.label(task) for e in valid], labels)
    stored = dict(model.config.temperatures)
    model.config.temperatures = {}
    raw = probabilities(model, tokenizer, valid, task)
    model.config.temperatures = stored
    scaled = probabilities(model, tokenizer, valid, task)
    logits = log_probabilities(raw)
    emit(kind="calibration", model=name, task=task, split="valid", temperature=stored.get(task, 1.0),
         ece_raw=round(expected_calibration_error(raw, targets), 4),
         ece_scaled=round(expected_calibration_error(scaled, targets), 4),
         nll_raw=round(negative_log_likelihood(logits, targets), 4),
         nll_scaled=round(negative_log_likelihood(logits, targets, stored.get(task, 1.0)), 4))


def sentiment_report(name: str, split: str, model, tokenizer, examples) -> None:
    labels = model.config.tasks["sentiment"]
    predicted = [labels[i] for i in probabilities(model, tokenizer, examples, "sentiment").argmax(axis=1)]
    report = evaluate_task("sentiment", [e.label("sentiment") for e in examples], predicted, labels)
    emit(kind="score", model=name, task="sentiment", split=split, **report.summary(),
         negative_recall=round(report.per_class.get("negative", {}).get("recall", 0.0), 4))


def score(name: str, model, tokenizer, data_root: Path) -> dict[str, tuple[float, float]]:
    """Every score line of one model; returns its valid (accuracy, macro-F1) per task."""
    found = {}
    for task in model.config.tasks:
        labels = model.config.tasks[task]
        folder = data_root / CORPORA[task]
        valid = read_task_csv(folder / "valid.csv", task, labels)
        train_texts = [e.text for e in read_task_csv(folder / "train.csv", task, labels)]
        dup = near_duplicate_mask([e.text for e in valid], train_texts)
        truth = [e.label(task) for e in valid]
        predicted = predict_labels(model, tokenizer, valid, task, max_length=model.config.max_length)
        keep = [i for i, d in enumerate(dup) if not d]
        splits = {
            "valid": (truth, predicted),
            "valid_dedup": ([truth[i] for i in keep], [predicted[i] for i in keep]),
        }
        for split, (y_true, y_pred) in splits.items():
            report = evaluate_task(task, y_true, y_pred, labels)
            emit(kind="score", model=name, task=task, split=split, **report.summary())
            if split == "valid":
                found[task] = (report.accuracy, report.macro_f1)
        calibration(name, task, model, tokenizer, valid)
    if "sentiment" in model.config.tasks:
        for corpus, task in DOMAIN_CORPORA.items():
            held = read_task_csv(datasets.path(f"{corpus}/valid.csv"), task, model.config.tasks[task])
            sentiment_report(name, f"{corpus}_heldout", model, tokenizer, held)
        path = data_root / PHRASEBANK
        if not path.is_file():
            emit(
                kind="skip",
                model=name,
                split="phrasebank",
                reason=f"{path} not found (CC BY-NC-SA, not shipped)",
            )
            return found
        examples = read_task_csv(path, "sentiment", model.config.tasks["sentiment"])
        sentiment_report(name, "phrasebank_50agree", model, tokenizer, examples)
    return found


def summarize(scores: dict[str, dict[str, list[tuple[float, float]]]], seeds: list[int]) -> None:
    """Per model and task: mean and spread over the seeds; per task: shared minus single-task (means)."""
    means = {}
    for name, tasks in scores.items():
        for task, values in tasks.items():
            acc, f1 = [v[0] for v in values], [v[1] for v in values]
            means[name, task] = (sum(acc) / len(acc), sum(f1) / len(f1))
            emit(kind="summary", model=name, task=task, seeds=seeds, accuracy_mean=round(means[name, task][0], 4),
                 accuracy_spread=round(max(acc) - min(acc), 4), macro_f1_mean=round(means[name, task][1], 4),
                 macro_f1_spread=round(max(f1) - min(f1), 4), accuracy=[round(a, 4) for a in acc],
                 macro_f1=[round(f, 4) for f in f1])
    for task in ("topic", "sentiment"):
        if ("multi", task) in means and (task, task) in means:
            emit(kind="gap", task=task, seeds=seeds,
                 accuracy=round(means["multi", task][0] - means[task, task][0], 4),
                 macro_f1=round(means["multi", task][1] - means[task, task][1], 4))


def timed_pass(models: list, texts: list[str], batch_size: int) -> float:
    """Seconds to run every model in ``models`` over ``texts``, tokenizing included."""
    started = time.perf_counter()
    for model, tokenizer in models:
        ids = tokenize(tokenizer, texts, model.config.max_length, model.config.text_preprocessing)
        predict_probabilities(model, ids, pad_id=tokenizer.pad_token_id or 0, batch_size=batch_size)
    return time.perf_counter() - started


def speed(multi, topic, sentiment, data_root: Path, n: int, batch_size: int, repeats: int = 3) -> None:
    texts = []
    for task in ("topic", "sentiment"):
        texts += [e.text for e in read_task_csv(data_root / CORPORA[task] / "valid.csv", task, TASK_LABELS[task])]
    texts = texts[:: max(1, len(texts) // n)][:n]
    timed_pass([multi, topic, sentiment], texts[:64], batch_size)  # warm-up
    # Interleaved, best of ``repeats``: other load on a shared machine hits both sides alike.
    shared = pair = float("inf")
    for _ in range(repeats):
        shared = min(shared, timed_pass([multi], texts, batch_size))
        pair = min(pair, timed_pass([topic, sentiment], texts, batch_size))
    emit(
        kind="speed",
        texts=len(texts),
        batch_size=batch_size,
        threads=torch.get_num_threads(),
        shared_texts_per_s=round(len(texts) / shared, 1),
        two_single_task_texts_per_s=round(len(texts) / pair, 1),
        shared_cost_vs_two=round(shared / pair, 3),
    )


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="full", choices=["quick", "full"])
    p.add_argument("--out", default="runs/quality", help="Where trained models go.")
    p.add_argument("--data-root", type=Path, default=SHARED, help="Folder laid out like ../shared/data.")
    p.add_argument("--backbone", default=None)
    p.add_argument("--multi", type=Path, help="Load this multi-task model instead of training it.")
    p.add_argument("--topic", type=Path, help="Load this topic-only model instead of training it.")
    p.add_argument("--sentiment", type=Path, help="Load this sentiment-only model instead of training it.")
    p.add_argument("--speed-only", action="store_true", help="Skip scores; untrained twins for missing models.")
    p.add_argument("--speed-texts", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int)
    p.add_argument("--limit", type=int)
    p.add_argument("--max-steps", type=int)
    p.add_argument("--threads", type=int)
    p.add_argument("--seeds", type=int, default=1, help="Train every model with this many seeds (42, 43, ...).")
    p.add_argument("--models", default="multi,topic,sentiment",
                   help="Which of multi, topic, sentiment to train or load (comma-separated).")
    p.add_argument("--domains", help="Retail-investor corpora to train on, comma-separated, or none (default: all); "
                   "bench/loop.py's base leaves stock-tweets-taborda out.")
    p.add_argument("--learning-rate", type=float, help="Override the preset's learning rate.")
    p.add_argument("--ema-decay", type=float, help="Train with a moving average of the weights (e.g. 0.999).")
    p.add_argument("--layer-decay", type=float, help="Layer-wise learning-rate decay (e.g. 0.9).")
    p.add_argument("--distill", type=float, help="With --teacher: distil the shared model from the teacher's "
                   "probabilities with this weight (e.g. 0.5) instead of hard pseudo-labels.")
    p.add_argument("--with-pseudo-labels", action="store_true",
                   help="With --distill: keep the teacher's confident hard labels for the missing tasks too.")
    p.add_argument("--distill-missing-only", action="store_true",
                   help="With --distill: soft targets only for each text's missing task (gold labels keep their loss).")
    p.add_argument("--teacher", type=Path, action="append",
                   help="Model directory whose confident predictions fill the shared model's missing labels; "
                   "repeat it for several (a task several have gets the mean of their probabilities).")
    p.add_argument("--single-task-teachers", action="store_true",
                   help="The shared model's teachers are the same seed's topic-only and sentiment-only models "
                   "(trained first, or given with --topic/--sentiment).")
    opts = p.parse_args(argv)
    opts.models = [m.strip() for m in opts.models.split(",") if m.strip()]
    if not opts.models or set(opts.models) - {"multi", "topic", "sentiment"}:
        p.error("--models: name some of multi, topic, sentiment")
    try:
        preset(opts.preset, ema_decay=opts.ema_decay, layer_decay=opts.layer_decay, distillation=opts.distill,
               distill_with_pseudo_labels=opts.with_pseudo_labels or None,
               distill_missing_only=opts.distill_missing_only or None)
    except TrainingDataError as e:
        p.error(str(e))
    if opts.single_task_teachers and (opts.teacher or set(opts.models) != {"multi", "topic", "sentiment"}):
        p.error("--single-task-teachers trains the shared model with this run's single-task models: "
                "leave --teacher and --models out")
    if opts.distill and not (opts.teacher or opts.single_task_teachers):
        p.error("--distill needs --teacher MODEL_DIR or --single-task-teachers")
    if opts.seeds < 1:
        p.error("--seeds must be at least 1")
    if opts.domains is not None:
        opts.domains = ([] if opts.domains.strip().lower() == "none"
                        else [d.strip() for d in opts.domains.split(",") if d.strip()])
        unknown = sorted(set(opts.domains) - set(DOMAIN_CORPORA))
        if unknown:
            p.error(f"--domains: unknown {', '.join(unknown)}; use some of {', '.join(DOMAIN_CORPORA)}, or none")
    if opts.seeds > 1 and (opts.multi or opts.topic or opts.sentiment):
        p.error("--seeds trains every model; it cannot be combined with --multi/--topic/--sentiment")
    if opts.speed_only and set(opts.models) != {"multi", "topic", "sentiment"}:
        p.error("--speed-only compares the shared model with both single-task models; leave --models out")
    return opts


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level="INFO", stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    opts = parse(argv)
    if opts.threads:
        torch.set_num_threads(opts.threads)
    if not (opts.data_root / CORPORA["topic"]).is_dir():
        sys.exit(f"{opts.data_root} has no {CORPORA['topic']}/; pass --data-root")
    for teacher in opts.teacher or ():
        if not (teacher / "config.json").is_file():
            sys.exit(f"--teacher {teacher}: not a model directory (no config.json)")
    seeds = list(range(42, 42 + opts.seeds))
    tasks_of = {"multi": TASK_LABELS, "topic": {"topic": TASK_LABELS["topic"]},
                "sentiment": {"sentiment": TASK_LABELS["sentiment"]}}
    given = {"multi": opts.multi, "topic": opts.topic, "sentiment": opts.sentiment}
    scores: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for seed in seeds:
        args = preset(opts.preset, epochs=opts.epochs, limit=opts.limit, max_steps=opts.max_steps, seed=seed,
                      domains=opts.domains, learning_rate=opts.learning_rate, ema_decay=opts.ema_decay,
                      layer_decay=opts.layer_decay, distillation=opts.distill,
                      distill_with_pseudo_labels=opts.with_pseudo_labels or None,
                      distill_missing_only=opts.distill_missing_only or None)
        teachers = ("single-task" if opts.single_task_teachers else
                    " + ".join(str(t) for t in opts.teacher) if opts.teacher else None)
        emit(kind="recipe", preset=opts.preset, teacher=teachers,
             **{k: v for k, v in vars(args).items() if not isinstance(v, dict)})
        out = Path(opts.out) / f"seed-{seed}" if opts.seeds > 1 else Path(opts.out)
        models = {}
        # With single-task teachers the shared model comes last, so that this seed's references exist.
        for name in sorted(opts.models, key=lambda n: n == "multi") if opts.single_task_teachers else opts.models:
            teacher = None  # the single-task references stay plain
            if name == "multi":
                teacher = ([given["topic"] or out / "topic", given["sentiment"] or out / "sentiment"]
                           if opts.single_task_teachers else opts.teacher)
            models[name] = obtain(name, given[name], tasks_of[name], args, opts, out, teacher)
        if not opts.speed_only:
            for name, (model, tokenizer) in models.items():
                for task, value in score(name, model, tokenizer, opts.data_root).items():
                    scores.setdefault(name, {}).setdefault(task, []).append(value)
        if seed == seeds[0] and len(models) == 3:
            speed(models["multi"], models["topic"], models["sentiment"], opts.data_root, opts.speed_texts,
                  opts.batch_size)
    if scores:
        summarize(scores, seeds)


if __name__ == "__main__":
    main()
