"""Pure statistics of a negative-share rise: exact and z tests, Benjamini-Hochberg, and the alert rules.

No I/O and no database here, so the edges (no data, zero baseline, all negative) are unit-testable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import erfc, expit, gammaln, ndtr
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
# Exact p-values up to this many window articles (1-20 ms each; 20-70 ms at 61-150 articles, 0.6 s at 300);
# above, a saddlepoint approximation of the same permutation distribution (0.3 ms): on skewed random histograms
# of 61-150 articles 90 % of its p-values are within 0.83-1.07 of the exact ones (the normal approximation's:
# 0.40-3.9), at 150-300 within 0.89-1.03 (python bench/pvalues.py; docs/alerts.md).
EXACT_MAX_WINDOW = 60
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
    otherwise, for rows whose normal-approximation p-value is at most ``exact_below``, the permutation
    distribution of rounded mid-rank scores: exact for windows of at most EXACT_MAX_WINDOW articles, its
    saddlepoint approximation above (the normal approximation understates the tail when most articles share one
    bin, at any window size); the normal approximation with tie and continuity corrections elsewhere, where the
    p-value is far from any level. Rows with an empty side get p 1, z 0, delta 0.
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
    refine = ok & (occupied > 2) & (p <= exact_below)
    done: dict[bytes, float] = {}  # sliding windows repeat: a window changes only when an article enters or leaves
    for row in np.flatnonzero(refine):
        key = w[row].tobytes() + b[row].tobytes()
        if key not in done:
            exact = n[row] <= EXACT_MAX_WINDOW
            done[key] = exact_rank_p(w[row], b[row]) if exact else saddlepoint_rank_p(w[row], b[row], p[row])
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


def _rank_scores(window: np.ndarray, baseline: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """The occupied bins' pooled counts and scores, the window's size and its observed score sum.

    Scores are the bins' mid-ranks in the pooled data, rounded to 0..RANK_SCORES: a function of the pooled data
    alone, so a permutation test of their sum is exact."""
    w = np.asarray(window, dtype=np.int64)
    pooled = w + np.asarray(baseline, dtype=np.int64)
    keep = pooled > 0
    counts, wk = pooled[keep], w[keep]
    mid = np.cumsum(counts) - counts + (counts + 1) / 2.0  # mid-rank of each bin, 1..total
    scores = np.rint(RANK_SCORES * (mid - 0.5) / int(counts.sum())).astype(np.int64)
    return counts, scores, int(wk.sum()), int((wk * scores).sum())


def exact_rank_p(window: np.ndarray, baseline: np.ndarray) -> float:
    """Exact one-sided permutation p-value of the window's rank-score sum, given the pooled histogram.

    The window's bin counts are multivariate hypergeometric under H0; the score sum's distribution is built bin
    by bin (items drawn so far x score so far)."""
    counts, scores, n, top = _rank_scores(window, baseline)
    total = int(counts.sum())
    # top: the observed sum; scores are >= 0, so column ``top`` holds every sum >= it
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


def saddlepoint_rank_p(window: np.ndarray, baseline: np.ndarray, fallback: float = 1.0) -> float:
    """The p-value of ``exact_rank_p`` by a saddlepoint approximation, for windows too large to compute exactly.

    Drawing the window without replacement is drawing each pooled article independently with probability n/N,
    conditioned on n drawn; the score sum's upper tail given that count is Skovgaard's double-saddlepoint formula
    (Butler 2007, section 4.2) with the continuity correction for a lattice. Checked against the exact
    distribution in tests/alerts/test_reading_signal.py. ``fallback`` (the normal approximation) is returned
    where the observed sum is at the centre of the distribution, where the formula is 0/0 and the p-value is
    near 1/2 anyway."""
    counts, scores, n, observed = _rank_scores(window, baseline)
    weights = np.bincount(scores, weights=counts)  # bins whose rounded scores agree are one class
    present = np.flatnonzero(weights)
    c, a = weights[present], present - present[0]
    total = float(c.sum())
    span = int(np.gcd.reduce(a))
    if span == 0 or not 0 < n < total:
        return 1.0  # one score: the sum cannot vary
    a = a // span
    y = (observed - n * int(present[0])) / span - 0.5  # the sum on a unit lattice, continuity-corrected
    if y <= (c * a).sum() * n / total:
        return fallback  # at or below the mean
    start = math.log(n / (total - n))

    def objective(alpha: float, t: float) -> float:  # K(alpha, t) - alpha n - t y, convex
        return float((c * np.logaddexp(0.0, alpha + t * a)).sum() - alpha * n - t * y)

    alpha, t = start, 0.0
    for _ in range(200):
        q = expit(alpha + t * a)
        v = c * q * (1.0 - q)
        gradient = np.array([(c * q).sum() - n, (c * a * q).sum() - y])
        hessian = np.array([[v.sum(), (v * a).sum()], [(v * a).sum(), (v * a * a).sum()]])
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:  # saturated far in the tail (every class all in or all out): no curvature left
            return fallback
        here, slope, shrink = objective(alpha, t), float(gradient @ step), 1.0
        # Backtracking (Armijo): the objective is convex, but a full Newton step may overshoot.
        while shrink > 1e-8 and objective(
                alpha - shrink * step[0], t - shrink * step[1]) > here - 1e-4 * shrink * slope:
            shrink /= 2.0
        alpha, t = alpha - shrink * step[0], t - shrink * step[1]
        if np.abs(shrink * step).max() < 1e-12:
            break
    q = expit(alpha + t * a)
    v = c * q * (1.0 - q)
    det = v.sum() * (v * a * a).sum() - (v * a).sum() ** 2
    gap = objective(start, 0.0) - objective(alpha, t)
    if not (t > 0.0 and gap > 1e-10 and det > 0.0 and math.isfinite(t)):
        return fallback
    r = math.sqrt(2.0 * gap)
    u = 2.0 * math.sinh(t / 2.0) * math.sqrt(det / (n * (total - n) / total))
    density = math.exp(-0.5 * r * r) / math.sqrt(2.0 * math.pi)
    return float(min(1.0, max(0.0, ndtr(-r) + density * (1.0 / u - 1.0 / r))))
