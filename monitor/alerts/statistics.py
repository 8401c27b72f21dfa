"""Pure statistics of a negative-share rise: exact and z tests, Benjamini-Hochberg, and the alert rules.

No I/O and no database here, so the edges (no data, zero baseline, all negative) are unit-testable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import hypergeom


@dataclass(frozen=True)
class ShareComparison:
    """Negative share in the current window against the trailing baseline."""

    window_count: int
    window_negative: int
    baseline_count: int
    baseline_negative: int
    observed_share: float
    baseline_share: float
    statistic: float
    p_value: float

    @property
    def rise(self) -> float:
        return self.observed_share - self.baseline_share


def share(negative: int, count: int) -> float:
    """Negative share, 0.0 for an empty sample (no data reads as "no negatives", never NaN)."""
    return negative / count if count > 0 else 0.0


def upper_tail(z: float) -> float:
    """P(Z >= z) for a standard normal, accurate far into the tail (erfc, not 1 - cdf)."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def compare_shares(
    window_negative: int, window_count: int, baseline_negative: int, baseline_count: int
) -> ShareComparison:
    """Two-proportion z-test (pooled variance) of H1: window share > baseline share, one-sided.

    When the test is undefined (an empty sample, or a pooled share of exactly 0 or 1 so the
    variance is zero) the statistic is 0 and the p-value 1: no evidence of a rise.
    """
    _check_counts(window_negative, window_count)
    _check_counts(baseline_negative, baseline_count)
    p1 = share(window_negative, window_count)
    p0 = share(baseline_negative, baseline_count)
    z, p_value = 0.0, 1.0
    if window_count > 0 and baseline_count > 0:
        pooled = (window_negative + baseline_negative) / (window_count + baseline_count)
        variance = pooled * (1.0 - pooled) * (1.0 / window_count + 1.0 / baseline_count)
        if variance > 0.0:
            z = (p1 - p0) / math.sqrt(variance)
            p_value = upper_tail(z)
    return ShareComparison(
        window_count, window_negative, baseline_count, baseline_negative, p1, p0, z, p_value
    )


def _check_counts(negative: int, count: int) -> None:
    if count < 0 or negative < 0 or negative > count:
        raise ValueError(f"negative count {negative} must lie between 0 and the article count {count}")


def fisher_upper_p(window_negative, window_count, baseline_negative, baseline_count) -> np.ndarray:
    """One-sided Fisher exact p-value of H1: window share > baseline share (element-wise over arrays).

    Exact at the small counts a quiet feed gives (a window of 10 articles), where the normal
    approximation understates the upper tail by orders of magnitude when the baseline share is low.
    Conditional on the total negatives, the window's negatives are hypergeometric: P(X >= k).
    """
    k = np.asarray(window_negative, dtype=np.int64)
    n = np.asarray(window_count, dtype=np.int64)
    k0 = np.asarray(baseline_negative, dtype=np.int64)
    n0 = np.asarray(baseline_count, dtype=np.int64)
    p = hypergeom.sf(k - 1, n + n0, k + k0, n)
    return np.where((n > 0) & (n0 > 0), np.clip(p, 0.0, 1.0), 1.0)


def benjamini_hochberg(p_values: np.ndarray, rate: float) -> np.ndarray:
    """Which of one family's p-values are rejected at false-discovery rate ``rate`` (NaN = not tested)."""
    p = np.asarray(p_values, dtype=float)
    tested = ~np.isnan(p)
    m = int(tested.sum())
    rejected = np.zeros(p.shape, dtype=bool)
    if m == 0:
        return rejected
    ordered = np.sort(p[tested])
    below = ordered <= rate * np.arange(1, m + 1) / m
    if below.any():
        cutoff = ordered[np.flatnonzero(below)[-1]]
        rejected[tested] = p[tested] <= cutoff
    return rejected


@dataclass(frozen=True)
class SpikeRules:
    """When a window may be tested, when a rise opens an episode, and when it has fallen back."""

    min_count: int = 10
    min_baseline_count: int = 30
    false_discovery_rate: float = 0.005
    min_rise: float = 0.15
    resolve_margin: float = 0.5
    # The window length tested at the full rate; a shorter one gets the rate times its share of this length.
    full_rate_minutes: int = 1440
    # A scope too thin for its own baseline borrows all topics' unless its own articles are more negative than
    # theirs at this one-sided level; 0: always borrow.
    borrow_level: float = 0.01

    def rate_weight(self, window_minutes: int) -> float:
        """A window's share of the false-discovery rate (weighted Benjamini-Hochberg weight, at most 1).

        A window of length L gives about one independent look per L of event time, so a 1 h window looks 24
        times a day where a 1 d window looks once. Its weight L / ``full_rate_minutes`` makes every length
        spend about the same false-alert budget per day, so a busy scope judged on hours is not what the
        budget goes to, and a quiet feed judged on days keeps the full rate. Weights <= 1 keep the
        per-step false-discovery rate at or below the setting."""
        return min(1.0, window_minutes / self.full_rate_minutes)

    def is_testable(self, window_count: int, baseline_count: int) -> bool:
        """Enough data on both sides; an untested window is "no evidence", never a 0 % share."""
        return window_count >= self.min_count and baseline_count >= self.min_baseline_count

    def is_large(self, observed_share: float, baseline_share: float) -> bool:
        return observed_share - baseline_share >= self.min_rise

    def is_spike(self, c: ShareComparison) -> bool:
        """The rule for one window tested alone (a family of one) at the full rate: testable, exact p-value
        within the false-discovery rate, and a large enough rise. The detector corrects across a step's family
        and weighs each window by its length (``rate_weight``)."""
        p = float(fisher_upper_p(c.window_negative, c.window_count, c.baseline_negative, c.baseline_count))
        return (
            self.is_testable(c.window_count, c.baseline_count)
            and p <= self.false_discovery_rate
            and self.is_large(c.observed_share, c.baseline_share)
        )

    def has_subsided(self, window_negative: int, window_count: int, frozen_baseline_share: float) -> bool:
        """Enough articles in the window, and its share back within the margin of the episode's frozen baseline.

        A thin or empty window never resolves an episode: it carries no evidence that the share fell.
        """
        if window_count < self.min_count:
            return False
        return share(window_negative, window_count) - frozen_baseline_share < self.min_rise * self.resolve_margin
