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
from monitor.model.errors import TrainingDataError

log = logging.getLogger(__name__)

# Base corpus folder of each task, under monitor/datasets (or any folder with the same layout).
CORPORA = {"topic": "twitter-fin-topic", "sentiment": "twitter-fin-sentiment"}
# Further corpora of one task in other domains (retail investors' posts): trained on like the base corpora, their
# held-out valid.csv scored separately per domain. The task's own valid split stays the headline figure.
DOMAIN_CORPORA = {"stock-tweets-taborda": "sentiment", "surge-stock-sentiment": "sentiment"}
DEFAULT_DOMAINS = tuple(DOMAIN_CORPORA)


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
    domain_valid: dict[str, tuple[str, list[Example]]] = field(default_factory=dict)  # corpus -> (task, held out)


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
    domains: Sequence[str] = (),
    dev_seed: int | None = None,
) -> TrainingData:
    """Train/dev from each task's train.csv (dev stratified, seeded), plus extras; valid.csv kept untouched.

    ``limit`` caps each base corpus's examples before the dev slice is carved (and its valid examples, so
    tiny test runs stay tiny). ``replay`` (a warm start) carves the dev slice from the whole corpus with
    ``dev_seed`` first, exactly as the source model's run did, then samples ``replay`` train examples from
    the rest: the dev slice stays texts the source never trained on. ``domains`` names corpora of
    ``DOMAIN_CORPORA`` to train on too (a name absent under the root is skipped).
    """
    root = Path(data_root) if data_root else bundled_root()
    train: list[Example] = []
    dev: list[Example] = []
    valid: dict[str, list[Example]] = {}
    sources: dict[str, list[int]] = {}
    summary: dict = {
        "data_root": str(root), "dev_fraction": dev_fraction, "dev_seed": seed if dev_seed is None else dev_seed,
        "limit": limit, "replay": replay, "corpora": {}
    }
    for task, labels in tasks.items():
        folder = root / CORPORA[task]
        examples = read_task_csv(folder / "train.csv", task, labels)
        rest, held = _train_dev(examples, task, seed=seed, dev_seed=dev_seed, dev_fraction=dev_fraction,
                                limit=limit, replay=replay)
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
    domain_valid = _add_domains(root, domains, tasks, train, dev, sources, summary, seed=seed, dev_seed=dev_seed,
                                dev_fraction=dev_fraction, limit=limit, replay=replay)
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
    return TrainingData(train=train, dev=dev, valid=valid, sources=sources, summary=summary,
                        domain_valid=domain_valid)


def _train_dev(examples: list[Example], task: str, *, seed: int, dev_seed: int | None, dev_fraction: float,
               limit: int | None, replay: int | None) -> tuple[list[Example], list[Example]]:
    """(train, dev) of one corpus: ``limit`` first, then the dev slice (``dev_seed``), then the replay sample."""
    if limit:
        examples = stratified_sample(examples, task, limit, seed)
    rest, dev = stratified_split(examples, task, dev_fraction, seed if dev_seed is None else dev_seed)
    if replay:
        rest = stratified_sample(rest, task, replay, seed)
    return rest, dev


def _add_domains(root: Path, domains: Sequence[str], tasks, train: list[Example], dev: list[Example],
                 sources: dict[str, list[int]], summary: dict, *, seed: int, dev_seed: int | None,
                 dev_fraction: float, limit: int | None, replay: int | None) -> dict[str, tuple[str, list[Example]]]:
    """Append each domain corpus's train split to train/dev (one sampler source each); return their valid."""
    held: dict[str, tuple[str, list[Example]]] = {}
    for name in domains:
        if name not in DOMAIN_CORPORA:
            raise TrainingDataError(f"unknown domain corpus {name!r}; known: {', '.join(DOMAIN_CORPORA)}")
        task, folder = DOMAIN_CORPORA[name], root / name
        if task not in tasks:  # a single-task model of the other task: nothing here for it to learn
            log.debug("domain corpus %s labels %s, which this training leaves out", name, task)
            continue
        if not (folder / "train.csv").is_file():
            log.info("domain corpus %s not under %s: not trained on", name, root)
            summary.setdefault("domains_missing", []).append(name)
            continue
        examples = read_task_csv(folder / "train.csv", task, tasks[task])
        rest, part = _train_dev(examples, task, seed=seed, dev_seed=dev_seed, dev_fraction=dev_fraction,
                                limit=limit, replay=replay)
        sources[name] = list(range(len(train), len(train) + len(rest)))
        train.extend(rest)
        dev.extend(part)
        held[name] = (task, read_task_csv(folder / "valid.csv", task, tasks[task]))
        summary["corpora"][name] = {
            "task": task,
            "train": len(rest),
            "dev": len(part),
            "labels": dict(Counter(e.label(task) for e in rest).most_common()),
            "valid": _valid_summary(held[name][1], rest + part),
        }
    return held
