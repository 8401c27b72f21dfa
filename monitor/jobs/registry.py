"""The named jobs and when each runs; the scheduler and ``monitor jobs run NAME`` both read this."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger

from monitor.errors import MonitorError
from monitor.jobs import tasks
from monitor.jobs.context import JobContext
from monitor.settings import Settings


@dataclass(frozen=True)
class JobSpec:
    name: str
    description: str
    run: Callable[[JobContext], Any]
    interval_seconds: Callable[[Settings], float]
    run_at_start: bool
    """Fire once right after start-up rather than one interval later."""

    def trigger(self, settings: Settings) -> IntervalTrigger:
        return IntervalTrigger(seconds=self.interval_seconds(settings))


JOBS: tuple[JobSpec, ...] = (
    JobSpec("retrain", "retrain when enough new labels exist; promote only past the evaluation gate",
            tasks.retrain, lambda s: s.jobs.retrain_check_minutes * 60, run_at_start=False),
    JobSpec("alert-check", "open, update and resolve negative-share alerts",
            tasks.alert_check, lambda s: s.alerts.check_interval_seconds, run_at_start=True),
    JobSpec("webhook-relay", "send due webhook deliveries from the outbox",
            tasks.webhook_relay, lambda s: s.webhooks.relay_interval_seconds, run_at_start=True),
    JobSpec("housekeeping", "fail runs a dead scheduler left running; drop stale worker heartbeats",
            tasks.housekeeping, lambda s: s.jobs.housekeeping_hours * 3600, run_at_start=True),
)


def get_job(name: str, jobs: tuple[JobSpec, ...] = JOBS) -> JobSpec:
    for spec in jobs:
        if spec.name == name:
            return spec
    raise MonitorError(f"no job named {name!r}; jobs: {', '.join(s.name for s in jobs)}")
