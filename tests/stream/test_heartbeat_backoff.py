"""The heartbeat backs off while the database fails, so a hung one cannot starve the consumer thread."""

from __future__ import annotations

from monitor.stream.heartbeat import RETRY_CAP_SECONDS, HeartbeatReporter
from monitor.stream.metrics import Totals


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Database:
    """A session factory that fails (as a hung or down database does, after its deadline) or counts writes."""

    def __init__(self) -> None:
        self.down = True
        self.tries = 0

    def __call__(self):
        self.tries += 1
        if self.down:
            raise ConnectionError("no answer within the deadline")
        return _Session()


class _Session:
    def begin(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, *args, **kwargs):
        return None

    def flush(self):
        return None

    def close(self):
        return None

    def commit(self):
        return None

    def rollback(self):
        return None


def _tries_over(seconds: float, clock: Clock, reporter: HeartbeatReporter, step: float = 0.25) -> list[float]:
    """Drive the reporter as the consumer loop does (a beat whenever due) and note when it tried."""
    tried = []
    end = clock.now + seconds
    while clock.now < end:
        if reporter.due():
            tried.append(clock.now)
            reporter.beat(Totals(), "v1", {})
        clock.now += step
    return tried


def test_failed_heartbeats_back_off_to_the_cap_and_a_success_restores_the_interval(caplog):
    clock, db = Clock(), Database()
    reporter = HeartbeatReporter("w", db, interval=0.5, clock=clock)
    tried = _tries_over(120, clock, reporter)
    gaps = [b - a for a, b in zip(tried, tried[1:], strict=False)]
    assert gaps[:5] == [1.0, 2.0, 4.0, 8.0, 16.0]  # 0.5 s doubling, from the end of each failed try
    assert all(g == RETRY_CAP_SECONDS for g in gaps[5:]) and len(tried) < 12
    assert sum("cannot write the heartbeat" in r.getMessage() for r in caplog.records) == 1  # once, not per try
    assert not reporter.may_write()
    db.down = False
    clock.now = tried[-1] + RETRY_CAP_SECONDS
    assert reporter.may_write() and reporter.report_backlog({("news", 0): 3})
    again = _tries_over(3, clock, reporter)
    assert [b - a for a, b in zip(again, again[1:], strict=False)] == [0.5] * (len(again) - 1)


def test_a_resume_writes_at_once_and_an_announcement_says_whether_it_was_written():
    clock, db = Clock(), Database()
    reporter = HeartbeatReporter("w", db, interval=5, clock=clock)
    assert reporter.report_backlog({("news", 0): None}) is False
    assert not reporter.may_write() and not reporter.due()
    db.down = False
    reporter.answered()  # the worker saw the store answer: no waiting out the back-off
    assert reporter.may_write() and reporter.report_backlog({("news", 0): 7}) is True


def test_a_day_long_outage_keeps_trying_every_cap_without_overflowing():
    clock, db = Clock(), Database()
    reporter = HeartbeatReporter("w", db, interval=5.0, clock=clock)  # a float, as the setting is
    for _ in range(3000):  # about a day of tries at the cap
        reporter.beat(Totals(), "v1", {})
        clock.now += RETRY_CAP_SECONDS
    assert db.tries == 3000 and reporter.due()
