"""Cross-task pseudo-labels: a teacher model labels each train text's missing task, where it is confident.

The topic corpus has no sentiment labels and the sentiment corpora no topic labels, so in a joint run each
text trains one head and the shared encoder sees the two tasks on disjoint texts. A teacher (a model trained
before, e.g. the previous `full`) fills the missing label of every train text with its calibrated prediction
when that is at least ``min_confidence``; dev and valid texts keep only their true labels, so early stopping and
the reported scores are judged on gold labels alone.

With ``distillation`` set, the teacher gives soft targets instead (:func:`soft_targets`): its probabilities of
both tasks for every train text, gold-labelled task included (Hinton et al. 2015; Furlanello et al. 2018).
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from monitor.model.data import Example
from monitor.model.errors import TrainingDataError

log = logging.getLogger(__name__)


def _teacher(teacher: str | Path, tasks: dict[str, list[str]] | None):
    """The teacher's predictor, refused in one line when its label sets differ from the training's."""
    from monitor.model.predictor import Predictor

    predictor = Predictor.from_directory(teacher, precision="fp32")
    for task, labels in (tasks or {}).items():
        if list(predictor.model.config.tasks.get(task, [])) != list(labels):
            raise TrainingDataError(f"teacher {teacher} has other {task} labels than this training; "
                                    "use a model trained on this project's label sets")
    return predictor


def _probabilities(predictor, texts: list[str], desc: str, progress: bool) -> dict[str, np.ndarray]:
    """The teacher's calibrated probabilities per task for ``texts``, in chunks under one progress bar."""
    chunks: list[dict[str, np.ndarray]] = []
    with tqdm(total=len(texts), desc=desc, unit="text", disable=not progress, file=sys.stderr,
              mininterval=1.0 if sys.stderr.isatty() else 30.0) as bar:
        for start in range(0, len(texts), 512):
            chunk = texts[start:start + 512]
            chunks.append(predictor.predict_proba(chunk))
            bar.update(len(chunk))
    tasks = predictor.model.config.tasks
    return {t: np.concatenate([c[t] for c in chunks]) if chunks else np.zeros((0, len(tasks[t])), np.float32)
            for t in tasks}


def add_pseudo_labels(train: list[Example], teacher: str | Path, *, min_confidence: float,
                      tasks: dict[str, list[str]] | None = None, progress: bool = False) -> tuple[list[Example], dict]:
    """``train`` with missing labels filled by ``teacher``; and a summary (per task: filled, left, labels).
    ``tasks``: the labels of the model being trained; the teacher must have the same ones."""
    predictor = _teacher(teacher, tasks)
    missing = [i for i, e in enumerate(train) if e.topic is None or e.sentiment is None]
    predictions = predictor.predictions(_probabilities(predictor, [train[i].text for i in missing],
                                                       "pseudo-labels", progress))
    out = list(train)
    filled: dict[str, Counter] = {"topic": Counter(), "sentiment": Counter()}
    left = Counter()
    for i, p in zip(missing, predictions, strict=True):
        e = out[i]
        for task in filled:
            if e.label(task) is not None:
                continue
            if getattr(p, f"{task}_confidence") >= min_confidence:
                e = replace(e, **{task: getattr(p, task)})
                filled[task][getattr(p, task)] += 1
            else:
                left[task] += 1
        out[i] = e
    summary = {"teacher": predictor.version, "teacher_path": str(Path(teacher).resolve()),
               "min_confidence": min_confidence,
               **{task: {"filled": sum(c.values()), "left_unlabeled": left[task], "labels": dict(c.most_common())}
                  for task, c in filled.items()}}
    log.info("pseudo-labels from %s: topic %d filled (%d left), sentiment %d filled (%d left)", predictor.version,
             summary["topic"]["filled"], left["topic"], summary["sentiment"]["filled"], left["sentiment"])
    return out, summary


def soft_targets(train: list[Example], teacher: str | Path, *, weight: float, tasks: dict[str, list[str]],
                 progress: bool = False) -> tuple[dict[str, np.ndarray], dict]:
    """Knowledge distillation: the teacher's calibrated probabilities of every task for every train text (rows
    in the order of ``train``), which the loss pulls each head towards with ``weight``; and a summary."""
    predictor = _teacher(teacher, tasks)
    probs = _probabilities(predictor, [e.text for e in train], "teacher probabilities", progress)
    summary = {"teacher": predictor.version, "teacher_path": str(Path(teacher).resolve()), "weight": weight,
               "texts": len(train)}
    log.info("soft targets from %s for %d train texts (weight %.2f)", predictor.version, len(train), weight)
    return {t: probs[t] for t in tasks}, summary
