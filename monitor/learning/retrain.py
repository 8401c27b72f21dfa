"""The retrain job: labels -> candidate (trained in a subprocess) -> evaluation gate -> champion or not.

Whatever fails, the champion keeps serving and the run records why.
"""

from __future__ import annotations

import csv
import logging
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from monitor.errors import MonitorError
from monitor.learning.evaluation import evaluate_model, fixed_eval_sets, label_eval_sets
from monitor.learning.gate import DRIFT_KEY, decide_promotion, without_outcomes
from monitor.learning.labels import count_unused_labels
from monitor.learning.registry import get_champion, promote_version, register_version
from monitor.learning.rescore import rescore_after_promotion
from monitor.learning.runs import (
    LabelSnapshot,
    finish_training_run,
    mark_labels_used,
    snapshot_labels,
    start_training_run,
)
from monitor.learning.training import TrainingFailed, run_training, training_request
from monitor.model.directory import ModelDirectory
from monitor.model.handoff import TrainingResult
from monitor.settings import LearningSettings, ModelSettings
from monitor.store import transaction
from monitor.store.orm import TrainingRun

log = logging.getLogger(__name__)

LOCK_KEY = 0x6D6F6E_7274  # "mon" "rt": one retrain at a time across every scheduler process


@dataclass(frozen=True)
class RetrainResult:
    status: str  # skipped | promoted | rejected | failed
    run_id: int | None = None
    version: str | None = None
    decision: str | None = None
    error: str | None = None

    def __str__(self) -> str:
        run = f" (run #{self.run_id})" if self.run_id else ""
        detail = (self.error or "").splitlines()[0] if self.status == "failed" else self.decision
        return f"{self.status}{' ' + self.version if self.version else ''}{run}: {detail}"


@dataclass(frozen=True)
class ChampionRef:
    version: str
    path: Path


def run_retrain(
    learning: LearningSettings,
    model: ModelSettings,
    session_factory: sessionmaker[Session],
    *,
    force: bool = False,
    trigger: str = "schedule",
    stop: threading.Event | None = None,
) -> RetrainResult:
    """Retrain when enough unused labels exist (or ``force``); returns what happened. ``model`` is the serving
    section: where versions are kept, the fallback champion, and how candidates are scored."""
    with retrain_lock(session_factory) as locked:
        if not locked:
            log.warning("retrain skipped: another scheduler is retraining right now")
            return RetrainResult("skipped", decision="another retrain is in progress")
        with transaction(session_factory) as session:  # counted under the lock: a run just done used them
            unused = count_unused_labels(session=session)
        needed = learning.min_new_labels
        if not force and unused < needed:
            log.info("retrain skipped: %d new labels, %d needed", unused, needed)
            return RetrainResult("skipped", decision=f"{unused} new labels, {needed} needed")
        return RetrainRun(learning, model, session_factory, trigger=trigger, stop=stop).execute()


@contextmanager
def retrain_lock(session_factory: sessionmaker[Session]) -> Iterator[bool]:
    """A session-level advisory lock on one connection held for the whole run (no transaction left open)."""
    engine = session_factory.kw["bind"]
    with engine.connect() as conn:
        locked = bool(conn.scalar(select(func.pg_try_advisory_lock(LOCK_KEY))))
        conn.commit()
        try:
            yield locked
        finally:
            if locked:
                conn.scalar(select(func.pg_advisory_unlock(LOCK_KEY)))
                conn.commit()


class RetrainRun:
    """One attempt, from the ``running`` row to its recorded outcome."""

    def __init__(self, learning: LearningSettings, model: ModelSettings, session_factory: sessionmaker[Session],
                 *, trigger: str, stop: threading.Event | None) -> None:
        self.learning = learning
        self.model = model
        self.session_factory = session_factory
        self.trigger = trigger
        self.stop = stop
        with transaction(session_factory) as session:
            self.run_id = start_training_run(trigger, session=session).id
        self.version = f"r{self.run_id}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        self.registry = Path(model.registry_dir).resolve()
        self.out_dir = self.registry / self.version
        self.workdir = self.registry / "_runs" / str(self.run_id)
        self.champion: ChampionRef | None = None

    def execute(self) -> RetrainResult:
        log.info("retrain run %d started (%s): candidate %s", self.run_id, self.trigger, self.version)
        try:
            return self._attempt()
        except Exception as exc:
            log.exception("retrain run %d failed; the champion keeps serving", self.run_id)
            shutil.rmtree(self.out_dir, ignore_errors=True)
            return self._record_failure(exc)

    def _attempt(self) -> RetrainResult:
        with transaction(self.session_factory) as session:
            snapshot = snapshot_labels(session=session, holdout_fraction=self.learning.holdout_fraction,
                                       holdout_seed=self.learning.holdout_seed)
            champion = self.champion = current_champion(self.model, session=session)
        self._record(n_labels=len(snapshot.train), n_new_labels=len(snapshot.unused_ids),
                     champion_version=champion.version if champion else None,
                     candidate_version=self.version)
        trained = self._train(snapshot)
        sets = fixed_eval_sets(self.learning) + label_eval_sets(snapshot.held_out)
        candidate_scores = evaluate_model(self.out_dir, sets, self.model)
        champion_scores = evaluate_model(champion.path, sets, self.model) if champion else None
        return self._record_outcome(snapshot, trained, candidate_scores, champion_scores)

    def _train(self, snapshot: LabelSnapshot) -> TrainingResult:
        extra = write_extra_file(snapshot, self.workdir / "labels.csv") if snapshot.train else None
        init_from, teacher = self._starting_points()
        request = training_request(self.learning, out_dir=self.out_dir, version=self.version, workdir=self.workdir,
                                   extra_file=extra, init_from=init_from, teacher=teacher)
        trained = run_training(request, workdir=self.workdir,
                               timeout_s=self.learning.training_timeout_minutes * 60, stop=self.stop)
        if (trained.version, trained.directory.resolve()) != (self.version, self.out_dir):
            raise TrainingFailed(f"the trainer reported {trained.version} in {trained.directory}, "
                                 f"not {self.version} in {self.out_dir}")
        return trained

    def _starting_points(self) -> tuple[Path | None, Path | None]:
        """(warm start, teacher): the champion's directory is the model to fine-tune in warm mode (the default)
        and, from scratch with ``scratch_teacher``, the teacher whose confident predictions fill missing labels;
        with ``distillation`` set it is the teacher in either mode, its probabilities the soft targets.
        Without a usable champion the run trains from the backbone on the labels alone."""
        champion = self._usable_champion()
        if champion is None:
            return None, None
        if self.learning.mode == "warm":
            log.info("retrain run %d warm-starts from the champion %s", self.run_id, self.champion.version)
            return champion, champion if self.learning.distillation else None
        if self.learning.scratch_teacher or self.learning.distillation:
            log.info("retrain run %d trains from scratch (%s) with the champion %s as teacher", self.run_id,
                     self.learning.preset, self.champion.version)
            return None, champion
        return None, None

    def _usable_champion(self) -> Path | None:
        if self.champion is None:
            log.info("retrain run %d trains from scratch (%s): no champion to start from or learn from",
                     self.run_id, self.learning.preset)
            return None
        try:
            ModelDirectory(self.champion.path).check()
        except MonitorError as exc:
            log.warning("retrain run %d trains from scratch without the champion: it cannot be loaded (%s)",
                        self.run_id, exc)
            return None
        return self.champion.path

    def _record_outcome(self, snapshot: LabelSnapshot, trained: TrainingResult, candidate_scores: dict[str, Any],
                        champion_scores: dict[str, Any] | None) -> RetrainResult:
        learning = self.learning
        decision = decide_promotion(candidate_scores, champion_scores, tolerance=learning.promotion_tolerance,
                                    metric=learning.promotion_metric,
                                    adapt_tolerance=learning.promotion_adapt_tolerance,
                                    significance=learning.promotion_significance,
                                    champion_drift=self._champion_drift())
        candidate_scores, champion_scores = without_outcomes(candidate_scores), without_outcomes(champion_scores)
        candidate_scores[DRIFT_KEY] = decision.drift
        status, reason = ("promoted" if decision.promote else "rejected"), decision.reason
        with transaction(self.session_factory) as session:
            if decision.promote and self._champion_changed(session):
                status, reason = "rejected", f"the champion changed during the run, kept it: {reason}"
            register_version(self.version, str(self.out_dir), session=session, scores=candidate_scores,
                             status="rejected" if status == "rejected" else "candidate",
                             training_run_id=self.run_id)
            if status == "promoted":
                promote_version(self.version, session=session)
            mark_labels_used(snapshot.unused_ids, self.run_id, session=session)
            finish_training_run(self.run_id, status, session=session, decision=reason,
                                candidate_scores=candidate_scores, champion_scores=champion_scores,
                                n_base_examples=trained.base_examples)
        log.info("retrain run %d %s %s: %s", self.run_id, status, self.version, reason)
        if status == "promoted":
            self._rescore()
        return RetrainResult(status, self.run_id, self.version, reason)

    def _rescore(self) -> None:
        """Re-read the recent stretch with the new champion; a failure here leaves the promotion standing."""
        try:
            rescore_after_promotion(self.learning, self.model, self.session_factory, version=self.version,
                                    path=self.out_dir, stop=self.stop)
        except Exception:
            log.exception("retrain run %d: could not re-read recent articles with %s; `monitor models rescore` "
                          "does it by hand", self.run_id, self.version)

    def _champion_drift(self) -> dict[str, float]:
        """How far the champion stands below its lineage on the fixed sets (stored with its scores; 0 for a
        model registered by hand or served from MONITOR_MODEL__DIRECTORY)."""
        if self.champion is None:
            return {}
        with transaction(self.session_factory) as session:
            row = get_champion(session=session)
        if row is None or row.version != self.champion.version:
            return {}
        return dict((row.scores or {}).get(DRIFT_KEY) or {})

    def _champion_changed(self, session: Session) -> bool:
        # Someone promoted or rolled back by hand while we trained: their choice stands.
        now = current_champion(self.model, session=session)
        return (now.version if now else None) != (self.champion.version if self.champion else None)

    def _record(self, **fields: Any) -> None:
        with transaction(self.session_factory) as session:
            run = session.get_one(TrainingRun, self.run_id)
            for name, value in fields.items():
                setattr(run, name, value)

    def _record_failure(self, exc: Exception) -> RetrainResult:
        error = f"{type(exc).__name__}: {exc}"
        try:
            with transaction(self.session_factory) as session:
                finish_training_run(self.run_id, "failed", session=session, error=error,
                                    decision="failed: the champion keeps serving")
        except Exception:
            log.exception("could not record the failure of retrain run %d", self.run_id)
        return RetrainResult("failed", self.run_id, None, "failed: the champion keeps serving", error)


def current_champion(model: ModelSettings, *, session: Session) -> ChampionRef | None:
    """The registered champion, else the fallback directory workers serve when none is registered."""
    row = get_champion(session=session)
    if row is not None:
        return ChampionRef(row.version, Path(row.path))
    fallback = ModelDirectory(model.directory)
    if not fallback.exists():
        return None
    return ChampionRef(fallback.version, fallback.path)


def write_extra_file(snapshot: LabelSnapshot, path: Path) -> Path:
    """The labels to train on as ``text,topic,sentiment`` (the trainer's ``--extra`` format)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "topic", "sentiment"])
        writer.writerows((text, topic or "", sentiment or "") for text, topic, sentiment in snapshot.train)
    return path
