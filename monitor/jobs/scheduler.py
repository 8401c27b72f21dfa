"""The APScheduler 3 blocking scheduler: named jobs, coalesced, one instance each, a misfire grace.

SIGTERM/SIGINT stop scheduling; jobs already running finish (a retrain stops its trainer and records the
run as failed) before the process exits.
"""

from __future__ import annotations

import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from apscheduler.executors.pool import BasePoolExecutor
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from monitor.jobs.context import JobContext
from monitor.jobs.registry import JOBS, JobSpec

log = logging.getLogger(__name__)


class SharedPoolExecutor(BasePoolExecutor):
    """APScheduler's thread executor over a pool we keep a handle on, to wait for it at shutdown."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        super().__init__(pool)


def job_defaults(ctx: JobContext) -> dict[str, Any]:
    # coalesce: a backlog of missed runs fires once; max_instances=1: a job never overlaps itself.
    return {"coalesce": True, "max_instances": 1,
            "misfire_grace_time": ctx.settings.jobs.misfire_grace_seconds}


def build_scheduler(
    ctx: JobContext,
    jobs: tuple[JobSpec, ...] = JOBS,
    *,
    scheduler_cls: type[BaseScheduler] = BlockingScheduler,
    pool: ThreadPoolExecutor | None = None,
) -> BaseScheduler:
    pool = pool or ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="job")
    scheduler = scheduler_cls(executors={"default": SharedPoolExecutor(pool)}, job_defaults=job_defaults(ctx),
                              timezone=UTC)
    for spec in jobs:
        start = {"next_run_time": datetime.now(UTC)} if spec.run_at_start else {}
        scheduler.add_job(spec.run, spec.trigger(ctx.settings), args=(ctx,), id=spec.name, name=spec.name,
                          **start)
    return scheduler


def run_scheduler(ctx: JobContext, jobs: tuple[JobSpec, ...] = JOBS) -> None:
    """Block until SIGTERM/SIGINT, then let running jobs finish."""
    pool = ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="job")
    scheduler = build_scheduler(ctx, jobs, pool=pool)

    def stop(signum: int, _frame: Any) -> None:
        log.info("%s received: no new jobs; waiting for running ones", signal.Signals(signum).name)
        ctx.stop.set()
        scheduler.shutdown(wait=False)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        log.info("scheduler started with jobs: %s", ", ".join(s.name for s in jobs))
        scheduler.start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        pool.shutdown(wait=True)
        log.info("scheduler stopped")
