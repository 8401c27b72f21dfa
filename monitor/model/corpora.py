"""The training set: base corpora (bundled), a dev slice carved from train, extra labels, valid splits."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from monitor.model.data import (
    Example,
    near_duplicate_mask,
    read_extra,
    read_task_csv,
    stratified_sample,
    stratified_split,
)

log = logging.getLogger(__name__)

# Base corpus folder of each task, under monitor/datasets (or any folder with the same layout).
CORPORA = {"topic": "twitter-fin-topic", "sentiment": "twitter-fin-sentiment"}


def bundled_root() -> Path:
    from monitor.datasets import _ROOT

    return _ROOT


@dataclass
class TrainingData:
    train: list[Example]
    dev: list[Example]
    valid: dict[str, list[Example]]
    sources: dict[str, list[int]]  # source name -> indices into ``train`` (what the sampler mixes)
    summary: dict = field(default_factory=dict)


def _valid_summary(valid: list[Example], train: list[Example]) -> dict:
    dup = near_duplicate_mask([e.text for e in valid], [e.text for e in train])
    return {"n": len(valid), "near_duplicates_of_train": int(sum(dup))}


def load_training_data(
    tasks: dict[str, Sequence[str]],
    *,
    seed: int,
    dev_fraction: float = 0.1,
    limit: int | None = None,
    replay: int | None = None,
    extra: str | Path | None = None,
    data_root: str | Path | None = None,
) -> TrainingData:
    """Train/dev from each task's train.csv (dev stratified, seeded), plus extras; valid.csv kept untouched.

    ``limit`` caps each base corpus's train examples (and its valid examples, so tiny test runs stay tiny).
    ``replay`` caps only the train examples (a warm start's replay sample; valid stays whole).
    """
    root = Path(data_root) if data_root else bundled_root()
    train: list[Example] = []
    dev: list[Example] = []
    valid: dict[str, list[Example]] = {}
    sources: dict[str, list[int]] = {}
    summary: dict = {
        "data_root": str(root), "dev_fraction": dev_fraction, "limit": limit, "replay": replay, "corpora": {}
    }
    for task, labels in tasks.items():
        folder = root / CORPORA[task]
        examples = read_task_csv(folder / "train.csv", task, labels)
        cap = min(c for c in (limit, replay) if c) if (limit or replay) else None
        if cap:
            examples = stratified_sample(examples, task, cap, seed)
        rest, held = stratified_split(examples, task, dev_fraction, seed)
        sources[CORPORA[task]] = list(range(len(train), len(train) + len(rest)))
        train.extend(rest)
        dev.extend(held)
        valid[task] = read_task_csv(folder / "valid.csv", task, labels)
        if limit:
            valid[task] = stratified_sample(valid[task], task, limit, seed)
        summary["corpora"][CORPORA[task]] = {
            "task": task,
            "train": len(rest),
            "dev": len(held),
            "labels": dict(Counter(e.label(task) for e in rest).most_common()),
            "valid": _valid_summary(valid[task], rest + held),
        }
    if extra:
        extras = read_extra(extra, tasks)
        sources["extra"] = list(range(len(train), len(train) + len(extras)))
        train.extend(extras)
        summary["extra"] = {
            "file": str(extra),
            "n": len(extras),
            **{task: sum(1 for e in extras if e.label(task)) for task in tasks},
        }
    log.info(
        "training data: %d train, %d dev, sources %s",
        len(train),
        len(dev),
        {k: len(v) for k, v in sources.items()},
    )
    return TrainingData(train=train, dev=dev, valid=valid, sources=sources, summary=summary)
