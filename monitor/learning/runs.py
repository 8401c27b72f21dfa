"""Training runs and the label snapshot a run trains on; query functions flush, callers commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from monitor.learning.holdout import is_held_out
from monitor.store.orm import Label, TrainingRun
from monitor.text import dedup_key

LabeledText = tuple[str, str | None, str | None]
"""(text, topic, sentiment); either label may be missing."""


def start_training_run(trigger: str, *, session: Session) -> TrainingRun:
    run = TrainingRun(trigger=trigger, status="running")
    session.add(run)
    session.flush()
    return run


def finish_training_run(run_id: int, status: str, *, session: Session, **fields: Any) -> TrainingRun:
    run = session.get_one(TrainingRun, run_id)
    run.status = status
    run.finished_at = datetime.now(UTC)
    for name, value in fields.items():
        setattr(run, name, value)
    session.flush()
    return run


def list_training_runs(*, session: Session, limit: int = 50) -> list[TrainingRun]:
    return list(session.scalars(select(TrainingRun).order_by(TrainingRun.id.desc()).limit(limit)))


def fail_stale_runs(older_than: timedelta, *, session: Session) -> int:
    """Runs left ``running`` by a scheduler that died; the trainer's timeout guarantees they are over."""
    cutoff = datetime.now(UTC) - older_than
    result = session.execute(
        update(TrainingRun)
        .where(TrainingRun.status == "running", TrainingRun.started_at < cutoff)
        .values(status="failed", finished_at=datetime.now(UTC),
                error="interrupted: the scheduler stopped while this run was in progress")
    )
    session.flush()
    return result.rowcount or 0


@dataclass
class LabelSnapshot:
    """Every label merged per text (the newest label per task wins: a correction replaces the old one)."""

    train: list[LabeledText] = field(default_factory=list)
    held_out: list[LabeledText] = field(default_factory=list)
    unused_ids: list[int] = field(default_factory=list)


def snapshot_labels(*, session: Session, holdout_fraction: float, holdout_seed: int) -> LabelSnapshot:
    rows = session.execute(
        select(Label.id, Label.text, Label.topic, Label.sentiment, Label.used_by_run_id).order_by(Label.id)
    ).all()
    snapshot = LabelSnapshot(unused_ids=[r.id for r in rows if r.used_by_run_id is None])
    for item in merge_labels([(r.text, r.topic, r.sentiment) for r in rows]):
        held = is_held_out(item[0], fraction=holdout_fraction, seed=holdout_seed)
        (snapshot.held_out if held else snapshot.train).append(item)
    return snapshot


def merge_labels(rows: Sequence[LabeledText]) -> list[LabeledText]:
    """One entry per normalized text, in first-seen order; later rows override earlier ones per task."""
    merged: dict[str, list[Any]] = {}
    for text, topic, sentiment in rows:
        entry = merged.setdefault(dedup_key(text), [text, None, None])
        entry[1] = topic or entry[1]
        entry[2] = sentiment or entry[2]
    return [(t, topic, sent) for t, topic, sent in merged.values()]


def mark_labels_used(label_ids: Sequence[int], run_id: int, *, session: Session) -> int:
    marked = 0
    for i in range(0, len(label_ids), 5000):
        result = session.execute(
            update(Label).where(Label.id.in_(label_ids[i : i + 5000]), Label.used_by_run_id.is_(None))
            .values(used_by_run_id=run_id)
        )
        marked += result.rowcount or 0
    session.flush()
    return marked
