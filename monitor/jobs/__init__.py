"""Scheduled work: retraining, alert checks, webhook relay and housekeeping, run by APScheduler."""

from monitor.jobs.context import JobContext
from monitor.jobs.registry import JOBS, JobSpec, get_job
from monitor.jobs.scheduler import build_scheduler, job_defaults, run_scheduler

__all__ = ["JOBS", "JobContext", "JobSpec", "build_scheduler", "get_job", "job_defaults", "run_scheduler"]
