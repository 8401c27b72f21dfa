"""Article and negative counts per scope and event-time bucket, in one query per evaluated stretch.

The detector slides its windows over these buckets in memory (prefix sums), so stepping through a
year of history costs a few queries, not one per step. Scopes: every topic, ``ALL_TOPICS``, and one
``$TICKER`` scope per ticker named by a cashtag in the text or by the article's ``tickers`` field.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from monitor.alerts.statistics import READING_BINS, READING_LOGIT_RANGE
from monitor.store.orm import ALL_TOPICS, Article
from monitor.store.reads import NEWEST_PREDICTION_FIRST_SQL, latest_event_time

log = logging.getLogger(__name__)

TICKER_PREFIX = "$"
# A cashtag: "$" then 1-6 letters (optionally ".B"), not preceded by a word character or "$" and not
# followed by one, so "$TSLA" and "$BRK.B" count while "$5", "US$" and "$$$" do not.
CASHTAG = r"(?:^|[^A-Za-z0-9$])\$([A-Za-z]{1,6}(?:\.[A-Za-z]{1,2})?)(?![A-Za-z0-9])"
TICKER_SHAPE = r"^[A-Za-z]{1,6}(\.[A-Za-z]{1,2})?$"

_LATEST = """
WITH latest AS (
    SELECT DISTINCT ON (p.article_id) p.article_id, p.topic, p.sentiment = 'negative' AS neg,
           p.p_negative, a.event_time, a.tickers, a.title, a.text
    FROM predictions p JOIN articles a ON a.id = p.article_id
    WHERE a.event_time > :start AND a.event_time <= :end
    ORDER BY {order}
), bucketed AS (
    SELECT article_id, topic, neg, tickers, title, text,
           width_bucket(ln(least(greatest(p_negative, 1e-12), 1 - 1e-12)
                           / (1 - least(greatest(p_negative, 1e-12), 1 - 1e-12))),
                        -{logit}, {logit}, {inner}) AS bin,
           (ceil(extract(epoch FROM (event_time - :start)) / :step) - 1)::bigint AS bucket
    FROM latest
)
"""
# The detector and the dashboard agree on an article's prediction; its p_negative bin matches reading_bins().
_LATEST = _LATEST.format(order=NEWEST_PREDICTION_FIRST_SQL, logit=READING_LOGIT_RANGE, inner=READING_BINS - 2)
_TOPIC_COUNTS = "SELECT topic, bucket, count(*), count(*) FILTER (WHERE neg) FROM bucketed GROUP BY topic, bucket"
_TOPIC_BINS = (
    "SELECT topic, bucket, bin, count(*), count(*) FILTER (WHERE neg) FROM bucketed GROUP BY topic, bucket, bin"
)
_TICKER_COUNTS = """
SELECT '$' || t.ticker, b.bucket, {columns}
FROM bucketed b
CROSS JOIN LATERAL (
    SELECT DISTINCT upper(x) AS ticker FROM (
        SELECT ltrim(e, '$') AS x
        FROM jsonb_array_elements_text(
            CASE WHEN jsonb_typeof(b.tickers) = 'array' THEN b.tickers ELSE '[]'::jsonb END) AS e
        UNION ALL
        SELECT m[1] FROM regexp_matches(coalesce(b.title, '') || ' ' || b.text, :cashtag, 'g') AS m
    ) found WHERE x ~ :shape
) t
GROUP BY t.ticker, b.bucket{group}
"""


@dataclass
class BucketCounts:
    """Counts per scope in buckets ``(start + b*step, start + (b+1)*step]`` for b in [0, n_buckets)."""

    start: datetime
    step: timedelta
    n_buckets: int
    total: dict[str, np.ndarray] = field(default_factory=dict)
    negative: dict[str, np.ndarray] = field(default_factory=dict)
    # The reading signal only: per scope, articles per bucket and p_negative bin (n_buckets x READING_BINS).
    bins: dict[str, np.ndarray] | None = None

    def add_bin(self, scope: str, bucket: int, reading_bin: int, count: int) -> None:
        assert self.bins is not None
        if scope not in self.bins:
            self.bins[scope] = np.zeros((self.n_buckets, READING_BINS), dtype=np.int32)
        self.bins[scope][bucket, reading_bin] += count

    def add(self, scope: str, bucket: int, total: int, negative: int) -> None:
        if scope not in self.total:
            self.total[scope] = np.zeros(self.n_buckets, dtype=np.int64)
            self.negative[scope] = np.zeros(self.n_buckets, dtype=np.int64)
        self.total[scope][bucket] += total
        self.negative[scope][bucket] += negative

    def ensure(self, scope: str) -> None:
        """An all-zero row for a scope that must be followed (an open episode) even without data now."""
        if scope not in self.total:
            self.total[scope] = np.zeros(self.n_buckets, dtype=np.int64)
            self.negative[scope] = np.zeros(self.n_buckets, dtype=np.int64)
        if self.bins is not None and scope not in self.bins:
            self.bins[scope] = np.zeros((self.n_buckets, READING_BINS), dtype=np.int32)

    def drop_thin(self, scopes_below: int, keep: set[str]) -> None:
        """Forget ticker scopes that can never fill a window (fewer articles in all than a window needs)."""
        for scope in [s for s in self.total if s.startswith(TICKER_PREFIX) and s not in keep]:
            if int(self.total[scope].sum()) < scopes_below:
                del self.total[scope], self.negative[scope]
                if self.bins is not None:
                    self.bins.pop(scope, None)


def load_bucket_counts(
    start: datetime, n_buckets: int, step: timedelta, *, tickers: bool, session: Session, readings: bool = False
) -> BucketCounts:
    """Each article once, with its newest prediction, in the bucket holding its event time; with ``readings``,
    also per p_negative bin (the reading signal)."""
    counts = BucketCounts(start, step, n_buckets, bins={} if readings else None)
    params = {"start": start, "end": start + step * n_buckets, "step": step.total_seconds()}
    # With readings, one query per kind of scope gives both: counts per (bucket, bin), summed over bins.
    if readings:
        for topic, bucket, reading_bin, total, negative in session.execute(text(_LATEST + _TOPIC_BINS), params):
            for scope in (topic, ALL_TOPICS):
                counts.add(scope, bucket, total, negative)
                counts.add_bin(scope, bucket, reading_bin, total)
    else:
        for topic, bucket, total, negative in session.execute(text(_LATEST + _TOPIC_COUNTS), params):
            counts.add(topic, bucket, total, negative)
            counts.add(ALL_TOPICS, bucket, total, negative)
    if tickers:
        ticker_params = {**params, "cashtag": CASHTAG, "shape": TICKER_SHAPE}
        negatives = "count(*), count(*) FILTER (WHERE b.neg)"
        if readings:
            query = _TICKER_COUNTS.format(columns="b.bin, " + negatives, group=", b.bin")
            for scope, bucket, reading_bin, total, negative in session.execute(text(_LATEST + query), ticker_params):
                counts.add(scope, bucket, total, negative)
                counts.add_bin(scope, bucket, reading_bin, total)
        else:
            query = _TICKER_COUNTS.format(columns=negatives, group="")
            for scope, bucket, total, negative in session.execute(text(_LATEST + query), ticker_params):
                counts.add(scope, bucket, total, negative)
    return counts


@dataclass(frozen=True)
class History:
    """The stored event times the detector may use, and how many it must leave out and why."""

    first: datetime | None
    latest: datetime | None
    too_old: int = 0
    in_future: int = 0


def find_history(now: datetime, max_days: int, *, session: Session) -> History:
    """First and latest usable event times; rows dated after the wall clock or implausibly far before
    the latest one are counted, logged, and left out (a bad row must not break or stall every run)."""
    future = session.scalar(select(func.count()).where(Article.event_time > now)) or 0
    latest = latest_event_time(now, session=session)
    if latest is None:
        return History(None, None, 0, future)
    floor = latest - timedelta(days=max_days)
    too_old = session.scalar(select(func.count()).where(Article.event_time < floor)) or 0
    first = session.scalar(select(func.min(Article.event_time)).where(Article.event_time >= floor))
    history = History(first, latest, too_old, future)
    if too_old or future:
        log.warning(
            "alert detection leaves out %d article(s) dated after the wall clock (%s) and %d dated more than "
            "%d days before the latest event (%s); fix their published_at to include them",
            future, now.isoformat(), too_old, max_days, latest.isoformat(),
        )
    return history
