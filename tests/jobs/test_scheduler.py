"""The scheduler: named jobs, coalesced, one instance each, misfire grace; SIGTERM stops it cleanly."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from monitor.errors import MonitorError
from monitor.jobs import JOBS, JobContext, JobSpec, build_scheduler, get_job
from monitor.settings import Settings


def test_scheduler_registers_the_named_jobs_with_their_policies():
    settings = Settings(jobs={"misfire_grace_seconds": 123, "retrain_check_minutes": 7},
                        alerts={"check_interval_seconds": 45}, webhooks={"relay_interval_seconds": 3})
    scheduler = build_scheduler(JobContext(settings, session_factory=None), scheduler_cls=BackgroundScheduler)
    scheduler.start(paused=True)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    assert set(jobs) == {"retrain", "alert-check", "webhook-relay", "housekeeping"}
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time == 123
    intervals = {name: job.trigger.interval.total_seconds() for name, job in jobs.items()}
    assert intervals == {"retrain": 420, "alert-check": 45, "webhook-relay": 3, "housekeeping": 86400}
    # the cheap jobs fire at start-up; the retrain waits one interval
    assert jobs["retrain"].next_run_time > jobs["alert-check"].next_run_time


def test_a_slow_job_never_overlaps_itself():
    running, peak, runs = 0, 0, 0
    lock = threading.Lock()

    def slow(_ctx):
        nonlocal running, peak, runs
        with lock:
            running += 1
            peak, runs = max(peak, running), runs + 1
        time.sleep(0.5)
        with lock:
            running -= 1

    spec = JobSpec("slow", "sleeps longer than its interval", slow, lambda s: 0.1, run_at_start=True)
    scheduler = build_scheduler(JobContext(Settings(), session_factory=None), (spec,),
                                scheduler_cls=BackgroundScheduler)
    scheduler.start()
    time.sleep(1.8)
    scheduler.shutdown(wait=True)
    assert runs >= 2 and peak == 1


def test_unknown_job_name_lists_the_jobs():
    with pytest.raises(MonitorError, match="retrain, alert-check, webhook-relay, housekeeping"):
        get_job("retrian")
    assert get_job("housekeeping") is JOBS[-1]


@pytest.mark.integration
def test_sigterm_stops_the_scheduler_after_running_jobs(settings):
    env = {**os.environ, "MONITOR_DATABASE__URL": settings.database.url.get_secret_value(),
           "MONITOR_MODEL__REGISTRY_DIR": str(settings.model.registry_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "scheduler"], env=env, stderr=subprocess.PIPE,
                            text=True)
    lines = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if "housekeeping:" in line or not line:
                break
        assert any("housekeeping:" in line for line in lines), "".join(lines)
        proc.send_signal(signal.SIGTERM)
        _, out = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = "".join(lines) + out
    assert proc.returncode == 0, log
    assert "SIGTERM received" in log and "scheduler stopped" in log
    assert "Traceback" not in log
