"""Retry policy: which answers retry, full-jitter backoff, Retry-After in both forms."""

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from monitor.alerts.retry import backoff_delay, is_retryable_status, parse_retry_after, retry_delay


@pytest.mark.parametrize(
    ("code", "retry"),
    [
        (500, True),
        (503, True),
        (429, True),
        (408, True),
        (400, False),
        (401, False),
        (404, False),
        (410, False),
        (422, False),
    ],
)
def test_retryable_statuses(code, retry):
    assert is_retryable_status(code) is retry


def test_full_jitter_stays_under_the_exponential_ceiling_and_the_cap():
    rng = random.Random(0)
    for attempt in range(1, 12):
        ceiling = min(60.0, 2.0 * 2 ** (attempt - 1))
        delays = [backoff_delay(attempt, base=2.0, cap=60.0, rng=rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.8 * ceiling  # jitter spreads over the whole range
    assert max(backoff_delay(30, base=2.0, cap=60.0, rng=rng) for _ in range(50)) <= 60.0


def test_retry_after_seconds_and_http_date():
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-3") is None


def test_retry_after_wins_over_backoff_but_is_capped():
    rng = random.Random(1)
    assert retry_delay(1, 42.0, base=0.5, cap=3600.0, rng=rng) == 42.0
    assert retry_delay(1, 999_999.0, base=0.5, cap=3600.0, rng=rng) == 3600.0
    assert 0.0 <= retry_delay(3, None, base=0.5, cap=3600.0, rng=rng) <= 2.0
