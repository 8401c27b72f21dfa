"""Pure statistics of a negative-share rise: a one-sided two-proportion z-test and the alert rules.

No I/O and no database here, so the edges (no data, zero baseline, all negative) are unit-testable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


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


@dataclass(frozen=True)
class SpikeRules:
    """When a rise opens an alert and when it has fallen back (hysteresis)."""

    min_count: int = 20
    min_baseline_count: int = 30
    z_threshold: float = 3.0
    min_rise: float = 0.15
    resolve_margin: float = 0.5

    def is_spike(self, c: ShareComparison) -> bool:
        """Enough data on both sides, significant, and large enough to matter."""
        return (
            c.window_count >= self.min_count
            and c.baseline_count >= self.min_baseline_count
            and c.statistic >= self.z_threshold
            and c.rise >= self.min_rise
        )

    def has_subsided(self, c: ShareComparison) -> bool:
        """The rise fell below a fraction of min_rise: resolving lower than opening stops flapping."""
        return c.rise < self.min_rise * self.resolve_margin
