"""Housekeeping fails runs a dead scheduler left running and deletes long-gone workers' heartbeats."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from monitor.jobs import JobContext
from monitor.jobs.housekeeping import run_housekeeping
from monitor.store import transaction
from monitor.store.orm import TrainingRun, WorkerHeartbeat

pytestmark = pytest.mark.integration


def test_housekeeping_closes_stale_runs_and_old_heartbeats(settings, session_factory):
    now = datetime.now(UTC)
    with transaction(session_factory) as s:
        s.add_all([
            TrainingRun(trigger="schedule", status="running", started_at=now - timedelta(days=2)),
            TrainingRun(trigger="schedule", status="running", started_at=now - timedelta(minutes=5)),
            WorkerHeartbeat(worker_id="gone", updated_at=now - timedelta(days=30)),
            WorkerHeartbeat(worker_id="alive", updated_at=now),
        ])
    report = run_housekeeping(JobContext(settings, session_factory))
    assert (report.stale_runs_failed, report.heartbeats_deleted) == (1, 1)
    with transaction(session_factory) as s:
        runs = s.execute(select(TrainingRun.status, TrainingRun.error).order_by(TrainingRun.id)).all()
        workers = s.scalars(select(WorkerHeartbeat.worker_id)).all()
    assert runs[0].status == "failed" and "scheduler stopped" in runs[0].error
    assert runs[1].status == "running"  # may still be training
    assert workers == ["alive"]
