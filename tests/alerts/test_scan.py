"""The sliding-window scan without a database: sums, the sparse Benjamini-Hochberg, the rare-scope baseline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.alerts.counts import BucketCounts
from monitor.alerts.scan import Scan, weighted_bh_passed
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


@pytest.mark.parametrize(("full_rate_minutes", "rate", "all_topics_weight"),
                         [(1440, 0.2, 1.0), (60, 0.01, 1.0), (1440, 0.2, 4.0), (60, 0.05, 4.0)])
def test_sparse_candidates_equal_weighted_benjamini_hochberg_over_the_full_family(full_rate_minutes, rate,
                                                                                  all_topics_weight):
    """The sparse scan decides exactly as Benjamini-Hochberg over every test of a step, on p / weight
    (weight = window length / full_rate_minutes, at most 1, times all_topics_weight for the all-topics scope;
    one step's weights scaled to average at most 1); 60 with weight 1 is every window at the full rate."""
    weights_mattered = False
    for seed in range(4):
        rules = SpikeRules(min_count=5, min_baseline_count=20, false_discovery_rate=rate, min_rise=0.1,
                           full_rate_minutes=full_rate_minutes, all_topics_weight=all_topics_weight)
        scan = Scan(random_counts(seed), rules, scales=[6, 36], baseline=72, first=108, first_event=START)
        keys, ps, larges = [], [], []
        for scope in scan.scopes:
            for scale in scan.scales:
                p, large = scan._test(scope, scale)
                keys.append((scope, scale))
                ps.append(p)
                larges.append(large)
        p_matrix, large = np.column_stack(ps), np.column_stack(larges)
        weights = np.array([min(1.0, scale * 10 / full_rate_minutes) * (all_topics_weight if scope == ALL_TOPICS
                                                                         else 1.0) for scope, scale in keys])
        expected = {}
        for row in range(len(scan.steps)):
            made = ~np.isnan(p_matrix[row])
            row_weights = weights * min(1.0, made.sum() / max(weights[made].sum(), 1e-12))
            rejected = benjamini_hochberg(p_matrix[row] / row_weights, rules.false_discovery_rate) & large[row]
            if rejected.any():
                expected[int(scan.steps[row])] = {keys[c] for c in np.flatnonzero(rejected)}
            unweighted = benjamini_hochberg(p_matrix[row], rules.false_discovery_rate) & large[row]
            weights_mattered |= bool((unweighted != rejected).any())
        got = {j: {(c.scope, c.scale) for c in cs} for j, cs in scan.candidates().items()}
        assert got == expected and expected  # the family is corrected the same way, and something fired
    # the case tells weighted from plain apart
    assert weights_mattered == (full_rate_minutes > 60 or all_topics_weight > 1)


@given(st.lists(st.floats(0.02, 8.0), min_size=1, max_size=12), st.floats(0.01, 0.2), st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_weighted_benjamini_hochberg_keeps_the_rate_under_the_global_null(raw_weights, rate, seed):
    """Whatever the weights (a scale's share, the all-topics scope's extra weight), scaled to average at most 1
    they keep the chance that a step of true nulls rejects anything at or below the rate: with uniform p-values
    it is at most sum(w) / m * rate, checked over 4,000 simulated steps."""
    weights = np.array(raw_weights)
    m = len(weights)
    rng = np.random.default_rng(seed)
    p = rng.random((4000, m))
    rejected = 0
    for row in p:
        weighted = np.sort(row / weights)
        rejected += weighted_bh_passed(list(weighted[weighted <= rate]), m, float(weights.sum()), rate) > 0
    bound = min(1.0, weights.sum() / m) * rate
    assert rejected / len(p) <= bound + 4 * np.sqrt(bound * (1 - bound) / len(p)) + 1e-9


def test_rare_scope_borrows_the_all_topics_baseline_only_once_data_covers_it():
    counts = BucketCounts(START, STEP, 200)
    for b in range(200):
        counts.add(ALL_TOPICS, b, 5, 1 if b % 2 else 0)  # all topics: 10 % negative
    counts.add("IPO", 190, 3, 3)
    counts.add(ALL_TOPICS, 190, 3, 3)
    rules = SpikeRules(min_baseline_count=30)
    covered = Scan(counts, rules, scales=[6], baseline=72, first=100, first_event=START)
    n0, k0 = covered.baseline_counts("IPO", 6, np.array([195]))
    assert (n0[0], k0[0]) == (72 * 5, 36)  # IPO has no baseline of its own: all topics' is used
    late_start = Scan(counts, rules, scales=[6], baseline=72, first=100, first_event=START + STEP * 150)
    n0, _ = late_start.baseline_counts("IPO", 6, np.array([195]))
    assert n0[0] == 0  # data began inside the baseline: a thin baseline says nothing about rarity


def _usually_bearish_ticker(history: bool) -> BucketCounts:
    """All topics 10 % negative; $XYZ 7 of 10 negative in the last 10 buckets and, with ``history``, 8 of 10
    in its baseline before that."""
    counts = BucketCounts(START, STEP, 200)
    for b in range(200):
        counts.add(ALL_TOPICS, b, 5, 1 if b % 2 else 0)
    if history:
        for b in range(130, 140):
            counts.add("$XYZ", b, 1, 1 if b < 138 else 0)
    for b in range(190, 200):
        counts.add("$XYZ", b, 1, 1 if b < 197 else 0)
    return counts


@pytest.mark.parametrize(("history", "borrow_level", "fires", "baseline", "kind"), [
    (True, 0.01, False, (30, 8 + 2), "filled"),  # own 10 (8 negative) + 20 at 10 %: 7 of 10 is its usual
    (True, 0.0, True, (72 * 5, 36), "borrowed"),  # always borrow (the rule before): its usual reads as a surge
    (False, 0.01, True, (72 * 5, 36), "borrowed"),  # no history to say otherwise: a surge against all topics
])
def test_thin_scope_keeps_its_own_baseline_when_its_articles_are_usually_more_negative(
        history, borrow_level, fires, baseline, kind):
    counts = _usually_bearish_ticker(history)
    rules = SpikeRules(min_count=10, min_baseline_count=30, false_discovery_rate=0.01, full_rate_minutes=60,
                       borrow_level=borrow_level)
    scan = Scan(counts, rules, scales=[10], baseline=72, first=180, first_event=START)
    n0, k0 = scan.baseline_counts("$XYZ", 10, np.array([199]))
    assert (int(n0[0]), int(k0[0])) == baseline
    figures = scan.figures("$XYZ", 10, 199)
    assert (figures.baseline_count, figures.baseline_negative, figures.baseline_kind) == (*baseline, kind)
    assert scan.figures(ALL_TOPICS, 10, 199).baseline_kind == "own"
    found = {(j, c.scope): c for j, cs in scan.candidates().items() for c in cs}
    assert ((199, "$XYZ") in found) is fires
    for (j, scope), candidate in found.items():  # the fast path and the figures agree on the baseline
        assert scan.figures(scope, 10, j).p_value == pytest.approx(candidate.p_value)


def test_thin_scope_baselines_agree_between_the_scan_and_the_figures_on_random_data():
    """Quiet scopes, some usually more negative than all topics, all with bursts: the scan re-tests only the rows
    that would fire when borrowing; every candidate's p-value must be the one its figures (and so the alert) show."""
    quiet_fired = set()
    for seed in range(3):
        counts = random_counts(seed, scopes=8)
        for s, usual in enumerate((0.1, 0.3, 0.6, 0.6)):
            rng = np.random.default_rng(100 + seed + s)
            total = rng.poisson(0.2, 600)
            share = np.where(rng.random(600) < 0.08, 0.95, usual)
            total[400:430] += 1  # one long burst, enough to fire against its own filled baseline too
            share[400:430] = 1.0
            for b in np.flatnonzero(total):
                counts.add(f"$Q{s}", int(b), int(total[b]), int(rng.binomial(total[b], share[b])))
        rules = SpikeRules(min_count=5, min_baseline_count=30, false_discovery_rate=0.05, full_rate_minutes=60)
        scan = Scan(counts, rules, scales=[6, 36], baseline=144, first=200, first_event=START)
        for j, candidates in scan.candidates().items():
            for c in candidates:
                figures = scan.figures(c.scope, c.scale, j)
                assert figures.p_value == pytest.approx(c.p_value)
                if c.scope.startswith("$"):
                    quiet_fired.add(figures.baseline_kind)
                    assert (figures.baseline_count == 30) >= (figures.baseline_kind == "filled")
    # Both kinds of thin baseline fire, not only the busy scopes (a quiet scope whose baseline holds a burst has
    # enough articles of its own: "own").
    assert {"filled", "borrowed"} <= quiet_fired


@pytest.mark.parametrize(("step", "rejected"), [(timedelta(minutes=10), False), (timedelta(hours=4), True)])
def test_a_short_window_gets_its_share_of_the_rate(step, rejected):
    """The same counts in six buckets: as a 1 h window (weight 1/24) they are not enough at a rate that
    rejects them as a 1 d window (weight 1). A short window looks 24 times as often, so it must be 24 times
    as sure."""
    counts = BucketCounts(START, step, 60)
    for b in range(54):
        counts.add(ALL_TOPICS, b, 4, 1 if b % 2 else 0)  # baseline: 1 in 8 negative
    for b in range(54, 60):
        counts.add(ALL_TOPICS, b, 3, 2)  # window: 12 of 18 negative
    rules = SpikeRules(min_count=10, min_baseline_count=30, min_rise=0.15)
    probe = Scan(counts, rules, scales=[6], baseline=48, first=59, first_event=START)
    p, _ = probe._test(ALL_TOPICS, 6)
    assert 1e-9 < p[0] < 1e-3
    rules = SpikeRules(min_count=10, min_baseline_count=30, min_rise=0.15, false_discovery_rate=2 * float(p[0]))
    scan = Scan(counts, rules, scales=[6], baseline=48, first=59, first_event=START)
    assert scan.weight(6) == pytest.approx(1 / 24 if step == timedelta(minutes=10) else 1.0)
    assert bool(scan.candidates()) is rejected
