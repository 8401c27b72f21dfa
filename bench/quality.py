"""Quality and cost of the shared multi-task model versus one single-task model per task.

Trains (or loads, with --multi/--topic/--sentiment) the multi-task model and, with the same recipe, a
topic-only and a sentiment-only model; prints JSON lines: per-task scores on the valid splits (and on
their part that does not repeat a train text), Financial PhraseBank sentiment (all 4,846 sentences of
sentences_50agree.csv; never trained on, read from ../shared/data and skipped when absent), sentiment on the
held-out split of each bundled retail-investor set (with negative recall), expected calibration error per head
on valid with the raw and the model's temperature-scaled probabilities, and inference texts/s of the shared
model versus running the two single-task models.

    .venv/bin/python bench/quality.py --preset full --out runs/quality        # trains three models
    .venv/bin/python bench/quality.py --multi models/full-1 --speed-only       # speed with untrained twins
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
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


def obtain(name: str, given: Path | None, tasks: dict, args, opts) -> tuple:
    """(model, tokenizer) loaded from ``given`` or trained with the recipe into ``opts.out/name``."""
    if given:
        return load_model(given)
    if opts.speed_only:
        model, tokenizer = build_model(args, tasks, opts.backbone)
        return model.eval(), tokenizer
    out = Path(opts.out) / name
    started = time.perf_counter()
    train_model(args, out=out, backbone=opts.backbone, tasks=tasks, version=f"bench-{name}")
    emit(kind="train", model=name, seconds=round(time.perf_counter() - started, 1), out=str(out))
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


def score(name: str, model, tokenizer, data_root: Path) -> None:
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
            return
        examples = read_task_csv(path, "sentiment", model.config.tasks["sentiment"])
        sentiment_report(name, "phrasebank_50agree", model, tokenizer, examples)


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
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level="INFO", stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    opts = parse(argv)
    if opts.threads:
        torch.set_num_threads(opts.threads)
    if not (opts.data_root / CORPORA["topic"]).is_dir():
        sys.exit(f"{opts.data_root} has no {CORPORA['topic']}/; pass --data-root")
    args = preset(opts.preset, epochs=opts.epochs, limit=opts.limit, max_steps=opts.max_steps)
    emit(kind="recipe", preset=opts.preset, **{k: v for k, v in vars(args).items() if not isinstance(v, dict)})
    multi = obtain("multi", opts.multi, TASK_LABELS, args, opts)
    topic = obtain("topic", opts.topic, {"topic": TASK_LABELS["topic"]}, args, opts)
    sentiment = obtain("sentiment", opts.sentiment, {"sentiment": TASK_LABELS["sentiment"]}, args, opts)
    if not opts.speed_only:
        for name, (model, tokenizer) in (("multi", multi), ("topic", topic), ("sentiment", sentiment)):
            score(name, model, tokenizer, opts.data_root)
    speed(multi, topic, sentiment, opts.data_root, opts.speed_texts, opts.batch_size)


if __name__ == "__main__":
    main()
