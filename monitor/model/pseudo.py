"""Cross-task pseudo-labels: a teacher model labels each train text's missing task, where it is confident.

The topic corpus has no sentiment labels and the sentiment corpora no topic labels, so in a joint run each
text trains one head and the shared encoder sees the two tasks on disjoint texts. A teacher (a model trained
before, e.g. the previous `full`) fills the missing label of every train text with its calibrated prediction
when that is at least ``min_confidence``; dev and valid texts keep only their true labels, so early stopping and
the reported scores are judged on gold labels alone.

With ``distillation`` set, the teacher gives soft targets instead (:func:`soft_targets`): its probabilities of
both tasks for every train text, gold-labelled task included (Hinton et al. 2015; Furlanello et al. 2018).
:func:`teach` gives either or both from one pass of the teacher.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from monitor.model.data import Example
from monitor.model.errors import TrainingDataError
from monitor.progress import bar_options

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
    with tqdm(total=len(texts), desc=desc, unit="text", disable=not progress, **bar_options()) as bar:
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
    out, summary, _, _ = teach(train, teacher, min_confidence=min_confidence, tasks=tasks, progress=progress)
    return out, summary


def soft_targets(train: list[Example], teacher: str | Path, *, weight: float, tasks: dict[str, list[str]],
                 progress: bool = False) -> tuple[dict[str, np.ndarray], dict]:
    """Knowledge distillation: the teacher's calibrated probabilities of every task for every train text (rows
    in the order of ``train``), which the loss pulls each head towards with ``weight``; and a summary."""
    _, _, soft, summary = teach(train, teacher, distillation=weight, tasks=tasks, progress=progress)
    return soft, summary


def teach(train: list[Example], teacher: str | Path, *, min_confidence: float | None = None,
          distillation: float = 0.0, tasks: dict[str, list[str]] | None = None, progress: bool = False,
          ) -> tuple[list[Example], dict | None, dict[str, np.ndarray] | None, dict | None]:
    """One pass of the teacher over the train texts for what it is asked to give: hard pseudo-labels for the
    missing tasks (``min_confidence`` set), soft targets for every text and task (``distillation`` > 0), or both.
    Returns the train examples (filled, same order), the pseudo-label summary, the soft targets and their summary;
    what was not asked for is None. With both, the soft targets are the probabilities the hard labels came from."""
    predictor = _teacher(teacher, tasks)
    hard, soft = min_confidence is not None, distillation > 0
    rows = range(len(train)) if soft else [i for i, e in enumerate(train) if e.topic is None or e.sentiment is None]
    desc = "teacher probabilities" if soft else "pseudo-labels"
    probs = _probabilities(predictor, [train[i].text for i in rows], desc, progress) if hard or soft else {}
    out, pseudo, targets, distilled = list(train), None, None, None
    if hard:
        missing = [k for k, i in enumerate(rows) if train[i].topic is None or train[i].sentiment is None]
        chosen = {t: p[missing] for t, p in probs.items()}
        out, pseudo = _fill(out, [rows[k] for k in missing], predictor.predictions(chosen), min_confidence)
        pseudo = {"teacher": predictor.version, "teacher_path": str(Path(teacher).resolve()), **pseudo}
        log.info("pseudo-labels from %s: topic %d filled (%d left), sentiment %d filled (%d left)",
                 predictor.version, pseudo["topic"]["filled"], pseudo["topic"]["left_unlabeled"],
                 pseudo["sentiment"]["filled"], pseudo["sentiment"]["left_unlabeled"])
    if soft:
        targets = {t: probs[t] for t in (tasks or probs)}
        distilled = {"teacher": predictor.version, "teacher_path": str(Path(teacher).resolve()),
                     "weight": distillation, "texts": len(train)}
        log.info("soft targets from %s for %d train texts (weight %.2f)", predictor.version, len(train), distillation)
    return out, pseudo, targets, distilled


def _fill(out: list[Example], rows: list[int], predictions, min_confidence: float) -> tuple[list[Example], dict]:
    """Fill each row's missing labels with its prediction where confident enough; the per-task summary."""
    filled: dict[str, Counter] = {"topic": Counter(), "sentiment": Counter()}
    left = Counter()
    for i, p in zip(rows, predictions, strict=True):
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
    return out, {"min_confidence": min_confidence,
                 **{task: {"filled": sum(c.values()), "left_unlabeled": left[task], "labels": dict(c.most_common())}
                    for task, c in filled.items()}}
