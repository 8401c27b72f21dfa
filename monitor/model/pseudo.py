"""Cross-task pseudo-labels: a teacher model labels each train text's missing task, where it is confident.

The topic corpus has no sentiment labels and the sentiment corpora no topic labels, so in a joint run each
text trains one head and the shared encoder sees the two tasks on disjoint texts. A teacher (a model trained
before, e.g. the previous `full`) fills the missing label of every train text with its calibrated prediction
when that is at least ``min_confidence``; dev and valid texts keep only their true labels, so early stopping and
the reported scores are judged on gold labels alone.

With ``distillation`` set, the teacher gives soft targets instead (:func:`soft_targets`): its probabilities of
both tasks for every train text, gold-labelled task included (Hinton et al. 2015; Furlanello et al. 2018).
:func:`teach` gives either or both from one pass of the teacher.

The teacher may be several models: a topic-only and a sentiment-only model (the single-task teachers of the model
issue, each the best reader of its own task), or an ensemble; a task that several of them have gets the mean of
their calibrated probabilities.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from monitor.model.data import Example
from monitor.model.devices import resolve_device
from monitor.model.errors import TrainingDataError
from monitor.model.inference import Tokenizer, predict_probabilities
from monitor.model.modeling import MultiTaskModel
from monitor.progress import bar_options

log = logging.getLogger(__name__)


Teachers = str | Path | Sequence[str | Path]


@dataclass
class _Teacher:
    """One teacher model, loaded on the best device in fp32, and the tasks it gives probabilities for."""

    path: Path
    model: MultiTaskModel
    tokenize: Tokenizer
    device: torch.device

    @property
    def version(self) -> str:
        return self.model.config.version or self.path.resolve().name

    @property
    def tasks(self) -> dict[str, list[str]]:
        return self.model.config.tasks

    def probabilities(self, texts: list[str]) -> dict[str, np.ndarray]:
        return predict_probabilities(self.model, self.tokenize(texts), pad_id=self.tokenize.pad_id, batch_size=64,
                                     device=self.device)


def _teachers(teachers: Teachers, tasks: dict[str, list[str]] | None) -> tuple[list[_Teacher], dict[str, list[str]]]:
    """The teachers, and the label sets they give: each teacher's shared tasks must carry the training's labels,
    and every task of the training must be given by at least one teacher (a single-task model gives one)."""
    from monitor.model.serialization import load_model

    paths = [Path(teachers)] if isinstance(teachers, str | Path) else [Path(t) for t in teachers]
    device = resolve_device("auto")
    loaded = []
    for path in paths:
        model, tokenizer = load_model(path)
        loaded.append(_Teacher(path, model.to(device).eval(), Tokenizer(tokenizer, model.config.max_length,
                                                                       model.config.text_preprocessing), device))
    given: dict[str, list[str]] = {}
    for teacher in loaded:
        if tasks is not None and not set(teacher.tasks) & set(tasks):
            raise TrainingDataError(f"teacher {teacher.path} has none of this training's heads "
                                    f"({', '.join(tasks)}); leave it out")
        for task, labels in teacher.tasks.items():
            if tasks is not None and task not in tasks:
                continue
            wanted = list(tasks[task]) if tasks is not None else given.get(task, list(labels))
            if list(labels) != wanted:
                raise TrainingDataError(f"teacher {teacher.path} has other {task} labels than this training; "
                                        "use a model trained on this project's label sets")
            given[task] = list(labels)
    missing = [task for task in (tasks or given) if task not in given]
    if missing:
        names = ", ".join(str(t.path) for t in loaded)
        raise TrainingDataError(f"no teacher gives {' or '.join(missing)} (teachers: {names}); "
                                "add a model with that head")
    return loaded, given


def _probabilities(teachers: list[_Teacher], texts: list[str], reads: list[list[int]], desc: str,
                   progress: bool) -> dict[str, np.ndarray]:
    """Per task, the mean of the calibrated probabilities of the teachers that have it, in chunks under one
    progress bar (one teacher per task is the usual case: a multi-task model, or one single-task model each).
    ``reads[k]``: the rows of ``texts`` teacher k reads; a row no teacher of a task read is all zeros there."""
    sums = {task: np.zeros((len(texts), len(labels)), np.float32) for t in teachers for task, labels in t.tasks.items()}
    counts = {task: np.zeros(len(texts), np.float32) for task in sums}
    with tqdm(total=sum(map(len, reads)), desc=desc, unit="text", disable=not progress, **bar_options()) as bar:
        for teacher, rows in zip(teachers, reads, strict=True):
            for start in range(0, len(rows), 512):
                chunk = rows[start:start + 512]
                for task, p in teacher.probabilities([texts[i] for i in chunk]).items():
                    sums[task][chunk] += p
                    counts[task][chunk] += 1
                bar.update(len(chunk))
    return {task: sums[task] / np.maximum(counts[task], 1)[:, None] for task in sums}


def add_pseudo_labels(train: list[Example], teacher: Teachers, *, min_confidence: float,
                      tasks: dict[str, list[str]] | None = None, progress: bool = False) -> tuple[list[Example], dict]:
    """``train`` with missing labels filled by ``teacher``; and a summary (per task: filled, left, labels).
    ``tasks``: the labels of the model being trained; the teacher must have the same ones."""
    out, summary, _, _ = teach(train, teacher, min_confidence=min_confidence, tasks=tasks, progress=progress)
    return out, summary


def soft_targets(train: list[Example], teacher: Teachers, *, weight: float, tasks: dict[str, list[str]],
                 progress: bool = False) -> tuple[dict[str, np.ndarray], dict]:
    """Knowledge distillation: the teacher's calibrated probabilities of every task for every train text (rows
    in the order of ``train``), which the loss pulls each head towards with ``weight``; and a summary."""
    _, _, soft, summary = teach(train, teacher, distillation=weight, tasks=tasks, progress=progress)
    return soft, summary


def teach(train: list[Example], teacher: Teachers, *, min_confidence: float | None = None,
          distillation: float = 0.0, tasks: dict[str, list[str]] | None = None, progress: bool = False,
          ) -> tuple[list[Example], dict | None, dict[str, np.ndarray] | None, dict | None]:
    """One pass of the teachers over the train texts for what it is asked to give: hard pseudo-labels for the
    missing tasks (``min_confidence`` set), soft targets for every text and task (``distillation`` > 0), or both.
    ``teacher``: one model directory, or several (e.g. a topic-only and a sentiment-only model; a task several
    of them have gets the mean of their probabilities).
    Returns the train examples (filled, same order), the pseudo-label summary, the soft targets and their summary;
    what was not asked for is None. With both, the soft targets are the probabilities the hard labels came from."""
    teachers, labels = _teachers(teacher, tasks)
    hard, soft = min_confidence is not None, distillation > 0
    rows = range(len(train)) if soft else [i for i, e in enumerate(train) if e.topic is None or e.sentiment is None]
    texts = [train[i].text for i in rows]
    # Soft targets need every teacher on every text; hard labels only where a text lacks one of the teacher's
    # tasks (a topic-only teacher reads the sentiment corpora's texts, not the headlines it has labels for).
    reads = [list(range(len(texts))) if soft else
             [k for k, i in enumerate(rows) if any(train[i].label(task) is None for task in teacher.tasks)]
             for teacher in teachers]
    desc = "teacher probabilities" if soft else "pseudo-labels"
    probs = _probabilities(teachers, texts, reads, desc, progress) if hard or soft else {}
    probs = {t: probs[t] for t in labels if t in probs}
    source = {"teacher": " + ".join(t.version for t in teachers),
              "teacher_path": " + ".join(str(t.path.resolve()) for t in teachers)}
    out, pseudo, targets, distilled = list(train), None, None, None
    if hard:
        missing = [k for k, i in enumerate(rows) if train[i].topic is None or train[i].sentiment is None]
        chosen = {t: p[missing] for t, p in probs.items()}
        out, pseudo = _fill(out, [rows[k] for k in missing], chosen, labels, min_confidence)
        pseudo = {**source, **pseudo}
        log.info("pseudo-labels from %s: %s", source["teacher"],
                 ", ".join(f"{t} {pseudo[t]['filled']} filled ({pseudo[t]['left_unlabeled']} left)" for t in labels))
    if soft:
        targets = probs
        distilled = {**source, "weight": distillation, "texts": len(train)}
        log.info("soft targets from %s for %d train texts (weight %.2f)", source["teacher"], len(train), distillation)
    return out, pseudo, targets, distilled


def _fill(out: list[Example], rows: list[int], probs: dict[str, np.ndarray], labels: dict[str, list[str]],
          min_confidence: float) -> tuple[list[Example], dict]:
    """Fill each row's missing labels with the teachers' most likely label where it is at least
    ``min_confidence``; the per-task summary."""
    filled: dict[str, Counter] = {task: Counter() for task in labels}
    left = Counter()
    best = {task: p.argmax(axis=1) for task, p in probs.items()}
    for k, i in enumerate(rows):
        e = out[i]
        for task in filled:
            if e.label(task) is not None:
                continue
            j = int(best[task][k])
            if float(probs[task][k, j]) >= min_confidence:
                e = replace(e, **{task: labels[task][j]})
                filled[task][labels[task][j]] += 1
            else:
                left[task] += 1
        out[i] = e
    return out, {"min_confidence": min_confidence,
                 **{task: {"filled": sum(c.values()), "left_unlabeled": left[task], "labels": dict(c.most_common())}
                    for task, c in filled.items()}}
