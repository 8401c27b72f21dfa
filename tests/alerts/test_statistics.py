"""The two-proportion test and the alert rules at their edges (pure, no database)."""

import math

import numpy as np
import pytest

from monitor.alerts.statistics import SpikeRules, benjamini_hochberg, compare_shares, fisher_upper_p, upper_tail


def test_known_value_matches_textbook_pooled_z():
    # 30/100 vs 100/1000: pooled 130/1100; z = 0.2 / sqrt(p(1-p)(1/100+1/1000)) = 5.91
    c = compare_shares(30, 100, 100, 1000)
    pooled = 130 / 1100
    expected = 0.2 / math.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 1000))
    assert c.statistic == pytest.approx(expected)
    assert c.statistic == pytest.approx(5.907, abs=0.001)
    assert c.p_value == pytest.approx(0.5 * math.erfc(expected / math.sqrt(2)))
    assert c.observed_share == pytest.approx(0.3) and c.baseline_share == pytest.approx(0.1)
    assert c.rise == pytest.approx(0.2)


def test_no_data_gives_no_evidence_and_no_nan():
    c = compare_shares(0, 0, 0, 0)
    assert (c.observed_share, c.baseline_share, c.statistic, c.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert not SpikeRules(min_count=1, min_baseline_count=1).is_spike(c)


def test_empty_baseline_is_not_evidence():
    c = compare_shares(10, 10, 0, 0)
    assert c.statistic == 0.0 and c.p_value == 1.0
    assert c.observed_share == 1.0 and c.baseline_share == 0.0
    assert not SpikeRules(min_count=1, min_baseline_count=1).is_spike(c)


def test_empty_or_thin_window_is_no_evidence_of_a_fall():
    c = compare_shares(0, 0, 20, 100)
    assert c.statistic == 0.0 and c.p_value == 1.0
    rules = SpikeRules(min_count=10)
    assert not rules.has_subsided(0, 0, 0.2)  # empty: no evidence, not "0 % negative"
    assert not rules.has_subsided(0, 9, 0.2)  # thin: below min_count
    assert rules.has_subsided(1, 10, 0.2)


def test_zero_baseline_share_still_tests():
    # Baseline never negative: pooled variance stays positive as soon as the window has one negative.
    c = compare_shares(12, 40, 0, 400)
    assert math.isfinite(c.statistic) and c.statistic > 5
    assert 0.0 < c.p_value < 1e-6
    assert SpikeRules().is_spike(c)


def test_all_negative_everywhere_has_zero_variance_and_no_alert():
    c = compare_shares(50, 50, 500, 500)
    assert (c.statistic, c.p_value) == (0.0, 1.0)
    assert not SpikeRules().is_spike(c)


def test_all_negative_window_over_mixed_baseline_alerts():
    c = compare_shares(25, 25, 50, 500)
    assert c.observed_share == 1.0 and c.statistic > 5
    assert SpikeRules().is_spike(c)


def test_no_negatives_anywhere():
    c = compare_shares(0, 80, 0, 800)
    assert (c.statistic, c.p_value, c.rise) == (0.0, 1.0, 0.0)


def test_tiny_counts_are_finite_but_below_the_minimum_count():
    c = compare_shares(1, 1, 0, 1)
    assert math.isfinite(c.statistic) and 0.0 < c.p_value < 1.0
    assert c.rise == 1.0
    assert not SpikeRules(min_count=20, min_baseline_count=30).is_spike(c)
    assert SpikeRules(min_count=1, min_baseline_count=1, false_discovery_rate=0.5).is_spike(c)


def test_equal_shares_give_half_p_value():
    c = compare_shares(10, 100, 100, 1000)
    assert c.statistic == pytest.approx(0.0) and c.p_value == pytest.approx(0.5)


def test_fall_in_share_has_negative_statistic_and_large_p_value():
    c = compare_shares(0, 100, 300, 1000)
    assert c.statistic < -5 and c.p_value > 0.999


def test_significant_but_small_rise_does_not_alert():
    # Huge samples make a 3-point rise significant; min_rise keeps it from paging anyone.
    c = compare_shares(13_000, 100_000, 100_000, 1_000_000)
    assert c.statistic > 20
    assert not SpikeRules(min_rise=0.15).is_spike(c)


def test_large_rise_without_significance_does_not_alert():
    c = compare_shares(8, 20, 60, 300)  # 40% vs 20%: z about 2.0
    assert c.rise >= 0.15 and c.statistic < 3
    assert not SpikeRules(min_count=20).is_spike(c)


def test_hysteresis_resolves_below_half_the_minimum_rise():
    rules = SpikeRules(min_rise=0.2, resolve_margin=0.5)
    assert not rules.has_subsided(25, 100, 0.1)  # rise 0.15 >= 0.10
    assert rules.has_subsided(19, 100, 0.1)  # rise 0.09 < 0.10


@pytest.mark.parametrize("args", [(5, 4, 0, 10), (-1, 10, 0, 10), (0, 10, 11, 10), (0, -1, 0, 0)])
def test_impossible_counts_are_rejected(args):
    with pytest.raises(ValueError, match="between 0 and the article count"):
        compare_shares(*args)


def test_upper_tail_is_accurate_far_out():
    assert upper_tail(0.0) == pytest.approx(0.5)
    assert upper_tail(1.959963985) == pytest.approx(0.025, rel=1e-6)
    assert 0.0 < upper_tail(10.0) < 1e-22  # 1 - cdf would round to 0


def test_fisher_matches_the_hypergeometric_tail_by_hand():
    # 3 of 4 negative in the window, 1 of 6 in the baseline: P(X >= 3), X ~ Hypergeom(N=10, K=4, n=4).
    by_hand = (math.comb(4, 3) * math.comb(6, 1) + math.comb(4, 4) * math.comb(6, 0)) / math.comb(10, 4)
    assert float(fisher_upper_p(3, 4, 1, 6)) == pytest.approx(by_hand)


def test_fisher_is_far_more_careful_than_the_z_test_at_small_counts():
    # 6 of 10 negative against a 10 % baseline: z says p ~ 1e-6, the exact tail is ~4e-4.
    z = compare_shares(6, 10, 100, 1000)
    exact = float(fisher_upper_p(6, 10, 100, 1000))
    assert z.p_value < 1e-5 and exact > 1e-4


def test_fisher_gives_no_evidence_without_data():
    assert list(fisher_upper_p([0, 5], [0, 5], [3, 0], [10, 0])) == [1.0, 1.0]


def test_benjamini_hochberg_step_up_and_untested_entries():
    p = np.array([0.0001, 0.0008, 0.02, np.nan, 0.5])
    # m = 4 tested; at 0.01: thresholds 0.0025, 0.005, 0.0075, 0.01 -> the first two are rejected.
    assert list(benjamini_hochberg(p, 0.01)) == [True, True, False, False, False]
    # Step-up: 0.006 misses its own threshold (0.005) but 0.007 passes 0.01 and carries it along.
    assert list(benjamini_hochberg(np.array([0.006, 0.007]), 0.01)) == [True, True]
    assert not benjamini_hochberg(np.array([np.nan, np.nan]), 0.05).any()
