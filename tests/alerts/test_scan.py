"""The sliding-window scan without a database: sums, the sparse Benjamini-Hochberg, the rare-scope baseline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from monitor.alerts.counts import BucketCounts
from monitor.alerts.scan import Scan
from monitor.alerts.statistics import SpikeRules, benjamini_hochberg
from monitor.store.orm import ALL_TOPICS

START = datetime(2024, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=10)


def random_counts(seed: int, n_buckets: int = 600, scopes: int = 6) -> BucketCounts:
    rng = np.random.default_rng(seed)
    counts = BucketCounts(START, STEP, n_buckets)
    for s in range(scopes):
        total = rng.poisson(rng.uniform(0.3, 6), n_buckets)
        share = np.where(rng.random(n_buckets) < 0.03, 0.9, 0.1)  # a few bursty buckets
        negative = rng.binomial(total, share)
        for b in np.flatnonzero(total):
            counts.add(f"T{s}", int(b), int(total[b]), int(negative[b]))
            counts.add(ALL_TOPICS, int(b), int(total[b]), int(negative[b]))
    return counts


def test_window_sums_match_a_direct_sum():
    counts = random_counts(1)
    scan = Scan(counts, SpikeRules(), scales=[6, 36], baseline=72, first=108, first_event=START)
    j = np.array([150, 400, 599])
    n, k = scan.window("T0", 6, j)
    assert list(n) == [int(counts.total["T0"][x - 5:x + 1].sum()) for x in j]
    assert list(k) == [int(counts.negative["T0"][x - 5:x + 1].sum()) for x in j]
    n0, _ = scan.baseline_counts("T0", 6, j)
    assert list(n0) == [int(counts.total["T0"][x - 5 - 72:x - 5].sum()) for x in j]


def test_sparse_candidates_equal_benjamini_hochberg_over_the_full_family():
    for seed in range(4):
        rules = SpikeRules(min_count=5, min_baseline_count=20, false_discovery_rate=0.01, min_rise=0.1)
        scan = Scan(random_counts(seed), rules, scales=[6, 36], baseline=72, first=108, first_event=START)
        keys, ps, larges = [], [], []
        for scope in scan.scopes:
            for scale in scan.scales:
                p, large = scan._test(scope, scale)
                keys.append((scope, scale))
                ps.append(p)
                larges.append(large)
        p_matrix, large = np.column_stack(ps), np.column_stack(larges)
        expected = {}
        for row in range(len(scan.steps)):
            rejected = benjamini_hochberg(p_matrix[row], rules.false_discovery_rate) & large[row]
            if rejected.any():
                expected[int(scan.steps[row])] = {keys[c] for c in np.flatnonzero(rejected)}
        got = {j: {(c.scope, c.scale) for c in cs} for j, cs in scan.candidates().items()}
        assert got == expected and expected  # the family is corrected the same way, and something fired


def test_rare_scope_borrows_the_all_topics_baseline_only_once_data_covers_it():
    counts = BucketCounts(START, STEP, 200)
    for b in range(200):
        counts.add(ALL_TOPICS, b, 5, 0)
    counts.add("IPO", 190, 3, 3)
    counts.add(ALL_TOPICS, 190, 3, 3)
    rules = SpikeRules(min_baseline_count=30)
    covered = Scan(counts, rules, scales=[6], baseline=72, first=100, first_event=START)
    n0, _ = covered.baseline_counts("IPO", 6, np.array([195]))
    assert n0[0] == 72 * 5  # IPO has no baseline of its own: all topics' is used
    late_start = Scan(counts, rules, scales=[6], baseline=72, first=100, first_event=START + STEP * 150)
    n0, _ = late_start.baseline_counts("IPO", 6, np.array([195]))
    assert n0[0] == 0  # data began inside the baseline: a thin baseline says nothing about rarity
