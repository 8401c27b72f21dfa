"""Windows of several lengths sliding over bucketed counts, each tested against its trailing baseline.

At every evaluated step and for every scope, each window scale with enough articles on both sides is
one test (the reading signal: a rank test of the articles' p_negative, Cliff's delta as the rise; the label
signal, and a thin scope on a borrowed baseline: exact one-sided Fisher on the count called negative); all tests
of one step form one family, corrected with weighted
Benjamini-Hochberg, so adding scopes or scales does not add false alerts. A window's weight is its length's
share of a day (at most 1): short windows look many times a day and so get a proportionally smaller level. The
all-topics scope's tests weigh ``all_topics_weight`` times more, and one step's weights are scaled to average at
most 1, so that weight comes from the other scopes rather than from the rate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from monitor.alerts.counts import BucketCounts
from monitor.alerts.statistics import SpikeRules, compare_shares, fisher_upper_p, rank_compare, share
from monitor.store.orm import ALL_TOPICS


@dataclass(frozen=True)
class Figures:
    """One window against one baseline: what an alert shows for its opening, peak and resolution."""

    window_minutes: int
    window_start: datetime
    window_end: datetime
    window_count: int
    window_negative: int
    baseline_start: datetime
    baseline_end: datetime
    baseline_count: int
    baseline_negative: int
    statistic: float
    p_value: float
    # What the window was judged against: "own" (the scope's own baseline), "borrowed" (a thin scope's, all
    # topics' over the same span) or "filled" (a thin scope usually more negative than all topics: its own
    # articles, filled up to MIN_BASELINE_COUNT at the all-topics share). None: not known (alerts stored before).
    baseline_kind: str | None = None
    # The reading signal only: Cliff's delta of the window's p_negative against the baseline's (the rise on the
    # reading scale; statistic and p_value are then the rank test's), and the baseline's p_negative histogram,
    # which an episode freezes at opening.
    reading_rise: float | None = None
    baseline_bins: tuple[int, ...] | None = None

    @property
    def observed_share(self) -> float:
        return share(self.window_negative, self.window_count)

    @property
    def baseline_share(self) -> float:
        return share(self.baseline_negative, self.baseline_count)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = asdict(self)
        for key in ("baseline_kind", "reading_rise", "baseline_bins"):
            if out[key] is None:
                del out[key]
        if "baseline_bins" in out:
            out["baseline_bins"] = list(out["baseline_bins"])
        for key in ("window_start", "window_end", "baseline_start", "baseline_end"):
            out[key] = out[key].isoformat()
        out["observed_share"], out["baseline_share"] = self.observed_share, self.baseline_share
        out["rise"] = self.observed_share - self.baseline_share
        return out


BASELINE_KINDS = {
    "borrowed": "all topics' baseline (too few articles of its own)",
    "filled": "its own few articles, usually more negative, filled up to the minimum at all topics' share",
}


def baseline_note(figures: dict[str, Any] | None) -> str:
    """What a thin scope's window was judged against, for people ("" for a scope's own baseline or unknown)."""
    return BASELINE_KINDS.get((figures or {}).get("baseline_kind") or "", "")


def figures_of(
    window_minutes: int, end: datetime, window: tuple[int, int], baseline: tuple[int, int],
    baseline_span: tuple[datetime, datetime], baseline_kind: str | None = None,
    bins: tuple[np.ndarray, np.ndarray] | None = None,
) -> Figures:
    """``bins``: the window's and the baseline's p_negative histograms (the reading signal), else None."""
    n, k = window
    n0, k0 = baseline
    if bins is None:
        z = compare_shares(k, n, k0, n0).statistic
        p = float(fisher_upper_p(k, n, k0, n0))
        rise, frozen = None, None
    else:
        ranked = rank_compare(bins[0], bins[1])
        z, p, rise = float(ranked.statistic[0]), float(ranked.p_value[0]), float(ranked.delta[0])
        frozen = tuple(int(x) for x in np.asarray(bins[1]).ravel())
    return Figures(window_minutes, end - timedelta(minutes=window_minutes), end, n, k, *baseline_span[:1],
                   baseline_span[1], n0, k0, z, p, baseline_kind, rise, frozen)


@dataclass(frozen=True)
class Candidate:
    """A rejected test whose rise is large enough: a scope that may open at this step."""

    scope: str
    scale: int  # window length in steps
    p_value: float


@dataclass(frozen=True)
class _Baselines:
    """A scope's own baseline counts, all topics' over the same span, and where the scope's own is thin."""

    n0: np.ndarray
    k0: np.ndarray
    all_n0: np.ndarray
    all_k0: np.ndarray
    thin: np.ndarray
    # The reading signal only: the scope's own baseline as p_negative histograms (rows x bins).
    h0: np.ndarray | None = None

    def borrowed(self) -> tuple[np.ndarray, np.ndarray]:
        return np.where(self.thin, self.all_n0, self.n0), np.where(self.thin, self.all_k0, self.k0)

    def usually_worse(self, rows: np.ndarray, rules: SpikeRules) -> np.ndarray:
        """Those thin ``rows`` whose own baseline articles are more negative than all topics' (p < borrow_level)."""
        rows = rows & self.thin
        worse = np.zeros(len(self.n0), dtype=bool)
        if rules.borrow_level > 0 and rows.any():
            worse[rows] = fisher_upper_p(self.k0[rows], self.n0[rows], self.all_k0[rows], self.all_n0[rows]) \
                < rules.borrow_level
        return worse

    def kind(self, rules: SpikeRules) -> list[str]:
        """Per row, what ``choose(thin)`` judges against: "own", "borrowed" or "filled" (Figures.baseline_kind)."""
        worse = self.usually_worse(self.thin, rules)
        return ["filled" if w else "borrowed" if t else "own" for t, w in zip(self.thin, worse, strict=True)]

    def choose(self, rows: np.ndarray, rules: SpikeRules) -> tuple[np.ndarray, np.ndarray]:
        """The borrowed baseline, except in those thin ``rows`` whose own articles are more negative than all
        topics' (one-sided Fisher p < ``rules.borrow_level``): there the own ones, filled up to
        ``min_baseline_count`` at the all-topics share. Testing only ``rows`` keeps a scan cheap: a filled
        baseline only ever raises a p-value, so only rows that would fire borrowing need the test."""
        n0, k0 = self.borrowed()
        worse = self.usually_worse(rows, rules)
        if not worse.any():
            return n0, k0
        fill = rules.min_baseline_count - self.n0[worse]
        share_all = self.all_k0[worse] / self.all_n0[worse]
        n0, k0 = n0.copy(), k0.copy()
        n0[worse] = self.n0[worse] + fill
        k0[worse] = self.k0[worse] + np.rint(fill * share_all).astype(np.int64)
        return n0, k0


class Scan:
    """Evaluation steps j in [first, n_buckets): windows ending at ``counts.start + (j+1)*step``."""

    def __init__(
        self, counts: BucketCounts, rules: SpikeRules, *, scales: list[int], baseline: int, first: int,
        first_event: datetime | None,
    ) -> None:
        self.counts, self.rules, self.scales, self.baseline, self.first = counts, rules, scales, baseline, first
        self.first_event = first_event
        self._prefix = {
            scope: (_prefix(counts.total[scope]), _prefix(counts.negative[scope])) for scope in counts.total
        }
        # The reading signal: prefix sums of the p_negative histograms (None: the label signal).
        self.readings = counts.bins is not None
        self._bin_prefix = {} if counts.bins is None else {
            scope: np.concatenate((np.zeros((1, h.shape[1]), dtype=np.int32), np.cumsum(h, axis=0, dtype=np.int32)))
            for scope, h in counts.bins.items()
        }
        self.steps = np.arange(first, counts.n_buckets)

    def time(self, j: int) -> datetime:
        return self.counts.start + self.counts.step * (int(j) + 1)

    @property
    def scopes(self) -> list[str]:
        return sorted(self._prefix)

    def window(self, scope: str, scale: int, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        total, negative = self._prefix[scope]
        return _span(total, j + 1 - scale, j + 1), _span(negative, j + 1 - scale, j + 1)

    def window_bins(self, scope: str, scale: int, j: np.ndarray) -> np.ndarray:
        """The windows' p_negative histograms (rows x bins; the reading signal)."""
        return _span_rows(self._bin_prefix[scope], j + 1 - scale, j + 1)

    def baseline_counts(self, scope: str, scale: int, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The scope's own baseline; one too thin for a test (under ``min_baseline_count`` articles), once data
        covers the whole baseline, borrows strength from all topics.

        It borrows the whole all-topics baseline (a burst in a quiet scope is exactly what should alert), unless
        its own few baseline articles already say it is usually more negative than all topics (one-sided exact
        test at ``SpikeRules.borrow_level``), as for a ticker named mostly in bearish posts: judged against
        thousands of all-topics articles, its ordinary share would read as a surge. Such a scope keeps its own
        articles, filled up to ``min_baseline_count`` at the all-topics share."""
        base = self._baselines(scope, scale, j)
        return base.choose(base.thin, self.rules)

    def _baselines(self, scope: str, scale: int, j: np.ndarray) -> _Baselines:
        total, negative = self._prefix[scope]
        lo, hi = j + 1 - scale - self.baseline, j + 1 - scale
        n0, k0 = _span(total, lo, hi), _span(negative, lo, hi)
        h0 = _span_rows(self._bin_prefix[scope], lo, hi) if self.readings else None
        if scope == ALL_TOPICS or ALL_TOPICS not in self._prefix or self.first_event is None:
            return _Baselines(n0, k0, n0, k0, np.zeros(len(n0), dtype=bool), h0)
        # Data covers the baseline once the first event lies at or before the baseline's start.
        covered = lo >= (self.first_event - self.counts.start) / self.counts.step
        all_base = self._baselines(ALL_TOPICS, scale, j)
        all_n0, all_k0 = all_base.n0, all_base.k0
        thin = covered & (n0 < self.rules.min_baseline_count) & (all_n0 >= self.rules.min_baseline_count)
        return _Baselines(n0, k0, all_n0, all_k0, thin, h0)

    def weight(self, scale: int, scope: str | None = None) -> float:
        """A test's weight before the step's normalisation: the window length's share of the false-discovery rate
        (``SpikeRules.rate_weight``), times ``all_topics_weight`` for the all-topics scope."""
        scope_weight = self.rules.all_topics_weight if scope == ALL_TOPICS else 1.0
        return self.rules.rate_weight(scale * self.step_minutes) * scope_weight

    def candidates(self) -> dict[int, list[Candidate]]:
        """Per step index: the scopes whose rise is significant after the correction and large enough.

        Weighted Benjamini-Hochberg is Benjamini-Hochberg on p / weight, with the weights of one step's tests
        scaled to average at most 1 (``weighted_bh_passed``). Scaling only shrinks weights, so a test it can
        reject has p / weight <= q before scaling, and a value's rank among those equals its rank among all: only
        the tested count and weight sum per step and the values <= q are kept, and memory grows with the steps
        and the hits, not with steps x scopes x scales.
        """
        q = self.rules.false_discovery_rate
        tested = np.zeros(len(self.steps), dtype=np.int64)
        weight_sum = np.zeros(len(self.steps))
        hits: dict[int, list[tuple[float, bool, str, int, float]]] = {}
        for scope in self.scopes:
            for scale in self.scales:
                p, large = self._test(scope, scale)
                made = ~np.isnan(p)
                weight = self.weight(scale, scope)
                tested += made
                weight_sum += made * weight
                weighted = p / weight
                for row in np.flatnonzero(weighted <= q):
                    hits.setdefault(int(row), []).append(
                        (float(weighted[row]), bool(large[row]), scope, scale, float(p[row])))
        found: dict[int, list[Candidate]] = {}
        for row, row_hits in hits.items():
            row_hits.sort()
            passed = weighted_bh_passed([h[0] for h in row_hits], int(tested[row]), float(weight_sum[row]), q)
            if passed:
                picks = [Candidate(scope, scale, p) for _, large, scope, scale, p in row_hits[:passed] if large]
                if picks:
                    found[int(self.steps[row])] = picks
        return found

    def _test(self, scope: str, scale: int) -> tuple[np.ndarray, np.ndarray]:
        """p-values (NaN where the window is not testable) and whether each rise is large enough."""
        n, k = self.window(scope, scale, self.steps)
        base = self._baselines(scope, scale, self.steps)
        p, large = self._test_labels(scale, n, k, base)
        if self.readings:
            # A thin scope's borrowed baseline holds other articles, whose readings can differ in shape from the
            # scope's own without any surge (a ticker named in a few particular posts): a rank test finds that
            # difference. Such rows stay on the label test; scopes with a baseline of their own use the readings.
            own = ~base.thin
            p_r, large_r = self._test_readings(scope, scale, np.where(own, n, 0), base.n0, base.h0)
            p, large = np.where(own, p_r, p), np.where(own, large_r, large)
        return p, large

    def _test_labels(self, scale: int, n: np.ndarray, k: np.ndarray, base: _Baselines) -> tuple[np.ndarray, np.ndarray]:
        """``_test`` on the label signal: exact Fisher test of the negative count, the share's rise."""
        p, large = self._p_values(n, k, *base.borrowed())
        # A thin scope keeps its own (filled) baseline where its own articles are usually more negative; that only
        # raises p, so only the rows borrowing would let through are re-tested (the scan stays fast with tickers).
        recheck = base.thin & (p / self.weight(scale) <= self.rules.false_discovery_rate)
        if recheck.any():
            n0, k0 = base.choose(recheck, self.rules)
            p[recheck], large[recheck] = (a[recheck] for a in self._p_values(n, k, n0, k0))
        return p, large

    def _test_readings(self, scope: str, scale: int, n: np.ndarray, n0: np.ndarray,
                       h0: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """``_test`` on the reading signal against the scope's own baselines (``h0``): a rank test of the windows'
        p_negative, and Cliff's delta as the rise. Only testable rows are computed; exact p-values where they could
        be rejected."""
        assert h0 is not None
        testable = (n >= self.rules.min_count) & (n0 >= self.rules.min_baseline_count)
        p = np.full(len(n), np.nan)
        large = np.zeros(len(n), dtype=bool)
        rows = np.flatnonzero(testable)
        if not len(rows):
            return p, large
        level = 2 * self.rules.false_discovery_rate * self.weight(scale, scope)
        window = self.window_bins(scope, scale, self.steps[rows])
        ranked = rank_compare(window, h0[rows], exact_below=level)
        p[rows], large[rows] = ranked.p_value, ranked.delta >= self.rules.min_rise
        return p, large

    def _p_values(self, n, k, n0, k0) -> tuple[np.ndarray, np.ndarray]:
        testable = (n >= self.rules.min_count) & (n0 >= self.rules.min_baseline_count)
        rise = np.divide(k, n, out=np.zeros(len(n)), where=n > 0) - np.divide(k0, n0, out=np.zeros(len(n)),
                                                                                 where=n0 > 0)
        p = np.full(len(n), np.nan)
        p[testable] = 1.0
        # Only a rising share can have a small p-value; the others stay in the family with p = 1, which
        # changes no Benjamini-Hochberg decision at any rate below 0.5.
        rising = testable & (rise > 0)
        p[rising] = fisher_upper_p(k[rising], n[rising], k0[rising], n0[rising])
        return p, testable & (rise >= self.rules.min_rise)

    def figures(self, scope: str, scale: int, j: int, *, baseline: tuple[int, int] | None = None,
                baseline_span: tuple[datetime, datetime] | None = None, baseline_kind: str | None = None,
                baseline_bins: list[int] | None = None) -> Figures:
        """One window's figures against the baseline the scan judges it by, or against a given (frozen) one
        (with the reading signal, its frozen ``baseline_bins``; without them, the label signal's figures)."""
        idx = np.array([j])
        n, k = self.window(scope, scale, idx)
        bins = None
        if baseline is None:
            base = self._baselines(scope, scale, idx)
            n0, k0 = base.choose(base.thin, self.rules)
            baseline, baseline_kind = (int(n0[0]), int(k0[0])), base.kind(self.rules)[0]
            start = self.time(j - scale)
            baseline_span = (start - self.counts.step * self.baseline, start)
            if self.readings and not base.thin[0]:  # a thin scope is judged on labels (``_test``)
                bins = (self.window_bins(scope, scale, idx), base.h0)
        elif self.readings and baseline_bins is not None:
            bins = (self.window_bins(scope, scale, idx), np.asarray([baseline_bins]))
        assert baseline_span is not None
        return figures_of(scale * self.step_minutes, self.time(j), (int(n[0]), int(k[0])), baseline, baseline_span,
                          baseline_kind, bins)

    @property
    def step_minutes(self) -> int:
        return int(self.counts.step / timedelta(minutes=1))


def weighted_bh_passed(weighted: list[float], tested: int, weight_sum: float, rate: float) -> int:
    """How many of one step's smallest p / weight values (``weighted``, ascending, those <= ``rate``) weighted
    Benjamini-Hochberg rejects, among ``tested`` tests whose weights sum to ``weight_sum``.

    The weights are first scaled to average at most 1 (by tested / weight_sum when they sum to more than the
    count): with weights averaging 1, weighted Benjamini-Hochberg keeps the false-discovery rate at ``rate``
    (Genovese, Roeder and Wasserman 2006), so giving one scope more weight takes it from the others."""
    if not weighted or tested <= 0:
        return 0
    scale = min(1.0, tested / weight_sum) if weight_sum > 0 else 1.0
    values = np.asarray(weighted) / scale
    below = np.flatnonzero(values <= rate * np.arange(1, len(values) + 1) / tested)
    return int(below[-1]) + 1 if len(below) else 0


def _prefix(values: np.ndarray) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(values)))


def _span_rows(prefix: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Histograms of buckets [lo, hi) from a 2-D prefix-sum array (rows: buckets + 1, columns: bins)."""
    last = len(prefix) - 1
    return (prefix[np.clip(hi, 0, last)] - prefix[np.clip(lo, 0, last)]).astype(np.int64)


def _span(prefix: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sums of buckets [lo, hi) from a prefix-sum array, clipped to the buckets loaded."""
    return prefix[np.clip(hi, 0, len(prefix) - 1)] - prefix[np.clip(lo, 0, len(prefix) - 1)]
