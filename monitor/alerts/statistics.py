"""Pure statistics of a negative-share rise: exact and z tests, Benjamini-Hochberg, and the alert rules.

No I/O and no database here, so the edges (no data, zero baseline, all negative) are unit-testable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import erfc, gammaln
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
    # Weight of the all-topics scope's tests in the weighted Benjamini-Hochberg correction (1 for each topic and
    # ticker scope); one step's weights are scaled to average at most 1 (scan.weighted_bh_passed).
    all_topics_weight: float = 4.0

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


# --- The reading signal: ranks of p_negative instead of the count called negative -----------------------------
#
# A model that reads a new kind of text imperfectly still ranks it: bearish posts it calls neutral get a higher
# p_negative than bullish ones. A rank test of "the window's articles read more negative than the baseline's"
# uses that ordering; counting argmax labels throws it away. Articles are binned by logit(p_negative) into
# READING_BINS fixed bins, so windows slide over bucketed histograms like the counts, and a frozen baseline is
# a short list of integers. With two occupied bins (hard labels, p_negative 0 or 1) the test is exactly the
# Fisher test of the negative count and the effect size exactly the share's rise.

READING_BINS = 32
READING_LOGIT_RANGE = 6.0  # bins of width 0.4 over logit(p) in [-6, 6), plus one below and one above
EXACT_MAX_WINDOW = 60  # exact p-values up to this many window articles; above, the normal approximation
RANK_SCORES = 16  # resolution of the exact test's mid-rank scores (0..16)


def reading_bins(p_negative) -> np.ndarray:
    """Bin index in [0, READING_BINS) of each probability (the same rule as ``width_bucket`` in SQL)."""
    p = np.clip(np.asarray(p_negative, dtype=float), 1e-12, 1 - 1e-12)
    edges = np.linspace(-READING_LOGIT_RANGE, READING_LOGIT_RANGE, READING_BINS - 1)
    return np.digitize(np.log(p / (1 - p)), edges)


@dataclass(frozen=True)
class RankComparison:
    """Window against baseline on the reading scale: one-sided p-value, z, and Cliff's delta (the rise)."""

    p_value: np.ndarray
    statistic: np.ndarray
    delta: np.ndarray


def rank_compare(window: np.ndarray, baseline: np.ndarray, *, exact_below: float = 1.0) -> RankComparison:
    """Wilcoxon-Mann-Whitney test of H1: the window's readings are stochastically higher (more negative).

    ``window`` and ``baseline`` are histograms over the reading bins, one row per test (2-D, rows x bins).
    ``delta`` is Cliff's delta, P(window > baseline) - P(window < baseline), in [-1, 1]: for hard labels it
    equals the rise of the negative share. p-values: Fisher's exact test where the pooled data occupy two bins;
    otherwise exact (permutation distribution of rounded mid-rank scores) for windows of at most
    EXACT_MAX_WINDOW articles whose normal-approximation p-value is at most ``exact_below`` (the approximation
    understates the tail when most articles share one bin), the normal approximation with tie and continuity
    corrections elsewhere. Rows with an empty side get p 1, z 0, delta 0.
    """
    w = np.atleast_2d(np.asarray(window, dtype=np.int64))
    b = np.atleast_2d(np.asarray(baseline, dtype=np.int64))
    n, n0 = w.sum(axis=1), b.sum(axis=1)
    pooled = w + b
    total = n + n0
    below = np.cumsum(b, axis=1) - b  # baseline articles in lower bins
    u = (w * (below + 0.5 * b)).sum(axis=1).astype(float)
    ok = (n > 0) & (n0 > 0)
    nn0 = np.where(ok, n * n0, 1).astype(float)
    delta = np.where(ok, 2.0 * u / nn0 - 1.0, 0.0)
    ties = (pooled.astype(float) ** 3 - pooled).sum(axis=1)
    tt = np.maximum(total, 2).astype(float)
    var = nn0 / 12.0 * ((tt + 1) - ties / (tt * (tt - 1)))
    z = np.where(ok & (var > 0), (u - nn0 / 2.0 - 0.5) / np.sqrt(np.where(var > 0, var, 1.0)), 0.0)
    p = np.where(ok & (var > 0), 0.5 * erfc(z / math.sqrt(2.0)), 1.0)
    occupied = (pooled > 0).sum(axis=1)
    binary = ok & (occupied == 2)
    if binary.any():
        rows = np.flatnonzero(binary)
        top = pooled[rows].shape[1] - 1 - np.argmax(pooled[rows][:, ::-1] > 0, axis=1)  # highest occupied bin
        k = w[rows, top]
        k0 = b[rows, top]
        p[rows] = fisher_upper_p(k, n[rows], k0, n0[rows])
    exact = ok & (occupied > 2) & (n <= EXACT_MAX_WINDOW) & (p <= exact_below)
    done: dict[bytes, float] = {}  # sliding windows repeat: a window changes only when an article enters or leaves
    for row in np.flatnonzero(exact):
        key = w[row].tobytes() + b[row].tobytes()
        if key not in done:
            done[key] = exact_rank_p(w[row], b[row])
        p[row] = done[key]
    return RankComparison(np.clip(p, 0.0, 1.0), z, delta)


def _hypergeom_pmf(x: np.ndarray, total: int, good: int, draws: np.ndarray) -> np.ndarray:
    """P(x good among ``draws`` drawn without replacement from ``total`` holding ``good``); 0 where impossible."""

    def log_choose(a, b):
        return gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)

    x, draws = np.broadcast_arrays(x, draws)
    possible = (x <= draws) & (x <= good) & (draws - x <= total - good) & (draws <= total)
    xs, ds = np.where(possible, x, 0), np.where(possible, draws, 0)
    logp = log_choose(good, xs) + log_choose(total - good, ds - xs) - log_choose(total, ds)
    return np.where(possible, np.exp(logp), 0.0)


def exact_rank_p(window: np.ndarray, baseline: np.ndarray) -> float:
    """Exact one-sided permutation p-value of the window's rank-score sum, given the pooled histogram.

    Scores are the bins' mid-ranks in the pooled data, rounded to 0..RANK_SCORES (a function of the pooled data
    alone, so the permutation test stays exact). The window's bin counts are multivariate hypergeometric under
    H0; the score sum's distribution is built bin by bin (items drawn so far x score so far)."""
    w = np.asarray(window, dtype=np.int64)
    pooled = w + np.asarray(baseline, dtype=np.int64)
    keep = pooled > 0
    counts, wk = pooled[keep], w[keep]
    total, n = int(counts.sum()), int(wk.sum())
    mid = np.cumsum(counts) - counts + (counts + 1) / 2.0  # mid-rank of each bin, 1..total
    scores = np.rint(RANK_SCORES * (mid - 0.5) / total).astype(np.int64)
    top = int((wk * scores).sum())  # the observed sum; scores are >= 0, so column ``top`` holds every sum >= it
    if top == 0:
        return 1.0
    dist = np.zeros((n + 1, top + 1))
    dist[0, 0] = 1.0
    remaining = total
    drawn = np.arange(n + 1)
    for c, s in zip(counts.tolist(), scores.tolist(), strict=True):
        xs = np.arange(min(c, n) + 1)
        # P(x from this bin | k drawn so far): hypergeometric over what is left of the pool.
        pmf = _hypergeom_pmf(xs[:, None], remaining, c, (n - drawn)[None, :])
        new = np.zeros_like(dist)
        for x in xs.tolist():
            shift, weight = min(x * s, top), pmf[x, : n + 1 - x, None]
            src = dist[: n + 1 - x]
            if shift < top:
                new[x:, shift:top] += src[:, : top - shift] * weight
            new[x:, top] += src[:, top - shift:].sum(axis=1) * weight[:, 0]
        dist = new
        remaining -= c
    return float(min(1.0, dist[n, top]))
