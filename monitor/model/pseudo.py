"""Cross-task pseudo-labels: a teacher model labels each train text's missing task, where it is confident.

The topic corpus has no sentiment labels and the sentiment corpora no topic labels, so in a joint run each
text trains one head and the shared encoder sees the two tasks on disjoint texts. A teacher (a model trained
before, e.g. the previous `full`) fills the missing label of every train text with its calibrated prediction
when that is at least ``min_confidence``; dev and valid texts keep only their true labels, so early stopping and
the reported scores are judged on gold labels alone.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from monitor.model.data import Example
from monitor.model.errors import TrainingDataError

log = logging.getLogger(__name__)


def add_pseudo_labels(train: list[Example], teacher: str | Path, *, min_confidence: float,
                      tasks: dict[str, list[str]] | None = None, progress: bool = False) -> tuple[list[Example], dict]:
    """``train`` with missing labels filled by ``teacher``; and a summary (per task: filled, left, labels).
    ``tasks``: the labels of the model being trained; the teacher must have the same ones."""
    from monitor.model.predictor import Predictor

    predictor = Predictor.from_directory(teacher, precision="fp32")
    for task, labels in (tasks or {}).items():
        if list(predictor.model.config.tasks.get(task, [])) != list(labels):
            raise TrainingDataError(f"teacher {teacher} has other {task} labels than this training; "
                                    "use a model trained on this project's label sets")
    missing = [i for i, e in enumerate(train) if e.topic is None or e.sentiment is None]
    texts = [train[i].text for i in missing]
    predictions = []
    with tqdm(total=len(texts), desc="pseudo-labels", unit="text", disable=not progress, file=sys.stderr,
              mininterval=1.0 if sys.stderr.isatty() else 30.0) as bar:
        for start in range(0, len(texts), 512):
            chunk = texts[start:start + 512]
            predictions.extend(predictor.predict(chunk))
            bar.update(len(chunk))
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
