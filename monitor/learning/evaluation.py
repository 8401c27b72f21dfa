"""Score a model directory on the fixed evaluation sets and the held-out labels (the same for both models)."""

from __future__ import annotations

import gc
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.errors import MonitorError
from monitor.learning.gate import LABELS_SET
from monitor.model.data import read_task_csv
from monitor.model.labels import TASK_LABELS
from monitor.settings import LearningSettings, ModelSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalSet:
    name: str
    task: str
    texts: list[str]
    labels: list[str]


def read_eval_csv(path: Path, *, name: str, task: str, limit: int | None = None) -> EvalSet:
    """A ``text,label`` CSV (the bundled splits' layout, read by the trainer's reader); ``limit`` keeps a fixed,
    class-mixed subset."""
    try:
        rows = [(e.text, e.label(task)) for e in read_task_csv(path, task, TASK_LABELS[task])]
    except MonitorError as exc:
        raise MonitorError(f"evaluation set {exc}; fix MONITOR_LEARNING__EVAL_{task.upper()}_PATH") from None
    if limit is not None and limit < len(rows):
        # Files are often sorted by label: the first N rows would be one class. Order by a hash instead,
        # so the subset is mixed and the same in every run.
        rows = sorted(rows, key=lambda r: hashlib.sha256(r[0].encode()).digest())[:limit]
    return EvalSet(name, task, [t for t, _ in rows], [lab for _, lab in rows])


def fixed_eval_sets(settings: LearningSettings) -> list[EvalSet]:
    from monitor import datasets

    topic = settings.eval_topic_path or datasets.path("twitter-fin-topic/valid.csv")
    sentiment = settings.eval_sentiment_path or datasets.path("twitter-fin-sentiment/valid.csv")
    return [
        read_eval_csv(Path(topic), name="topic", task="topic", limit=settings.eval_limit),
        read_eval_csv(Path(sentiment), name="sentiment", task="sentiment", limit=settings.eval_limit),
    ]


def label_eval_sets(held_out: Sequence[tuple[str, str | None, str | None]]) -> list[EvalSet]:
    """Held-out ``(text, topic, sentiment)`` labels as one set per task (empty tasks left out)."""
    sets = []
    for task, column in (("topic", 1), ("sentiment", 2)):
        rows = [(item[0], item[column]) for item in held_out if item[column]]
        if rows:
            sets.append(EvalSet(f"{LABELS_SET}_{task}", task, [t for t, _ in rows], [lab for _, lab in rows]))
    return sets


def task_scores(task: str, truth: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Accuracy and macro-F1 exactly as ``monitor evaluate`` computes them, plus the count correct."""
    from monitor.model.evaluation import evaluate_task

    report = evaluate_task(task, truth, predicted, TASK_LABELS[task])
    correct = sum(t == p for t, p in zip(truth, predicted, strict=True))
    return {"accuracy": report.accuracy, "macro_f1": report.macro_f1, "weighted_f1": report.weighted_f1,
            "n": report.n, "correct": correct}


def evaluate_model(path: Path, sets: Sequence[EvalSet], model: ModelSettings) -> dict[str, Any]:
    """Scores per set plus ``labels``: accuracy over both tasks of the held-out labels together."""
    from monitor.model.predictor import Predictor

    predictor = Predictor.from_settings(model, path)
    try:
        predicted = {s.name: _predict(predictor, s) for s in sets}
    finally:
        del predictor
        gc.collect()
    scores = {s.name: task_scores(s.task, s.labels, predicted[s.name]) for s in sets}
    held = [s for s in sets if s.name.startswith(f"{LABELS_SET}_")]
    if held:
        # Text by text, in the sets' order (the same for both models): the gate's paired test reads it.
        outcomes = "".join("1" if t == p else "0" for s in held for t, p in zip(s.labels, predicted[s.name],
                                                                                 strict=True))
        n, correct = len(outcomes), outcomes.count("1")
        scores[LABELS_SET] = {"accuracy": correct / n, "n": n, "correct": correct, "outcomes": outcomes}
    log.info("evaluated %s: %s", path, _summary(scores))
    return scores


def _predict(predictor: Any, eval_set: EvalSet) -> list[str]:
    predictions = predictor.predict(eval_set.texts)
    return [getattr(p, eval_set.task) for p in predictions]


def _summary(scores: dict[str, Any]) -> str:
    return ", ".join(f"{k} acc {v['accuracy']:.3f} (n={v['n']})" for k, v in scores.items())
