"""Housekeeping: close runs a dead scheduler left ``running`` and forget long-gone workers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete

from monitor.jobs.context import JobContext
from monitor.learning.runs import fail_stale_runs
from monitor.store import transaction
from monitor.store.orm import WorkerHeartbeat

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HousekeepingReport:
    stale_runs_failed: int
    heartbeats_deleted: int


def run_housekeeping(ctx: JobContext) -> HousekeepingReport:
    # A trainer is killed at its timeout, so a run still "running" an hour past it has no process left.
    stale_after = timedelta(minutes=ctx.settings.learning.training_timeout_minutes + 60)
    cutoff = datetime.now(UTC) - timedelta(days=ctx.settings.jobs.heartbeat_retention_days)
    with transaction(ctx.session_factory) as session:
        failed = fail_stale_runs(stale_after, session=session)
        gone = session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.updated_at < cutoff)).rowcount
    report = HousekeepingReport(failed, gone or 0)
    log.info("housekeeping: %d stale runs marked failed, %d old worker heartbeats deleted",
             report.stale_runs_failed, report.heartbeats_deleted)
    return report
