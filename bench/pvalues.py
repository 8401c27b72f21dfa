"""How far the reading signal's p-value approximations are from the permutation test they stand for.

    python bench/pvalues.py [--sims 200000] [--cases 800] [--seed 0]

Two studies of monitor.alerts.statistics, printed as JSON lines (docs/alerts.md quotes them):

- ``level``: null windows drawn at random from a pooled histogram in which most readings share one bin (what a
  confident model gives), tested as the detector does (``rank_compare``: the normal approximation, refined near
  the level, exactly up to EXACT_MAX_WINDOW articles and by saddlepoint above) and by the normal approximation
  alone; each prints its rejection rate over the nominal one at 1e-2, 1e-3 and 1e-4 (1 is right; above 1 the
  test finds surges that are not there).
- ``accuracy``: skewed random histograms (3-8 occupied bins, Dirichlet 0.5 shares, the window tilted up), the
  saddlepoint's and the normal approximation's p-value over the exact one, where the exact one is 1e-8 to 0.02:
  percentiles per window-size band, and the milliseconds of each method.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.alerts.statistics import (  # noqa: E402
    READING_BINS,
    exact_rank_p,
    rank_compare,
    saddlepoint_rank_p,
)

LEVELS = (1e-2, 1e-3, 1e-4)
SHAPES = {"97/2/1": (0.97, 0.02, 0.01), "90/5/5": (0.90, 0.05, 0.05), "85/5/4/3/2/1": (0.85, 0.05, 0.04, 0.03,
                                                                                         0.02, 0.01)}
BINS = (10, 20, 25, 28, 29, 30)


def level(rng: np.random.Generator, window: int, pooled_size: int, shape: str, sims: int) -> dict:
    pooled = np.zeros(READING_BINS, dtype=np.int64)
    for b, share in zip(BINS, SHAPES[shape], strict=False):
        pooled[b] = round(share * pooled_size)
    w = rng.multivariate_hypergeometric(pooled, window, size=sims)
    b = pooled - w
    normal = rank_compare(w, b, exact_below=-1.0).p_value
    detector = rank_compare(w, b, exact_below=2 * max(LEVELS)).p_value
    ratio = {name: [round(float((p <= a).mean() / a), 2) for a in LEVELS]
             for name, p in (("normal", normal), ("detector", detector))}
    return {"study": "level", "window": window, "pooled": int(pooled.sum()), "shape": shape, "sims": sims,
            "levels": list(LEVELS), "rejection_over_nominal": ratio}


def skewed_pair(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    k = int(rng.integers(3, 9))
    bins = rng.choice(READING_BINS, k, replace=False)
    shares = rng.dirichlet(np.full(k, 0.5))
    tilted = shares * np.exp(rng.uniform(0, 1) * np.argsort(np.argsort(bins)))
    w = np.bincount(rng.choice(bins, n, p=tilted / tilted.sum()), minlength=READING_BINS)
    b = np.bincount(rng.choice(bins, int(rng.integers(3 * n, 10 * n)), p=shares), minlength=READING_BINS)
    return w, b


def ratios(rng: np.random.Generator, low: int, high: int, cases: int) -> tuple[list[float], list[float], float, float]:
    """The saddlepoint's and the normal approximation's p-value over the exact one for ``cases`` random
    histograms of ``low`` to ``high`` - 1 window articles (kept where the exact one is 1e-8 to 0.02), and the
    seconds the exact and the saddlepoint computations took."""
    saddle, normal, t_exact, t_saddle = [], [], 0.0, 0.0
    for _ in range(cases):
        w, b = skewed_pair(rng, int(rng.integers(low, high)))
        approx = float(rank_compare(w, b, exact_below=-1.0).p_value[0])
        if ((w + b) > 0).sum() <= 2 or approx > 0.05:
            continue
        t = time.perf_counter()
        exact = exact_rank_p(w, b)
        t_exact += time.perf_counter() - t
        if not 1e-8 < exact < 0.02:
            continue
        t = time.perf_counter()
        saddle.append(saddlepoint_rank_p(w, b, approx) / exact)
        t_saddle += time.perf_counter() - t
        normal.append(approx / exact)
    return saddle, normal, t_exact, t_saddle


def accuracy(rng: np.random.Generator, low: int, high: int, cases: int) -> dict:
    saddle, normal, t_exact, t_saddle = ratios(rng, low, high, cases)
    pct = [0, 1, 5, 50, 95, 99, 100]

    def spread(values: list[float]) -> dict:
        return dict(zip([f"p{q}" for q in pct], np.percentile(values, pct).round(3).tolist(), strict=True))

    n = max(len(saddle), 1)
    return {"study": "accuracy", "window": [low, high - 1], "compared": len(saddle),
            "saddlepoint_over_exact": spread(saddle) if saddle else None,
            "normal_over_exact": spread(normal) if normal else None,
            "ms_saddlepoint": round(1000 * t_saddle / n, 2), "ms_exact": round(1000 * t_exact / n, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=200_000, help="null windows per level case")
    parser.add_argument("--cases", type=int, default=800, help="random histograms drawn per accuracy band")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.sims < 1000 or args.cases < 10:
        parser.error("--sims must be at least 1000 and --cases at least 10")
    rng = np.random.default_rng(args.seed)
    for window, pooled, shape in ((61, 561, "97/2/1"), (100, 1100, "90/5/5"), (200, 2200, "90/5/5"),
                                  (400, 3400, "97/2/1"), (400, 3400, "85/5/4/3/2/1")):
        print(json.dumps(level(rng, window, pooled, shape, args.sims)), flush=True)
    for low, high, cases in ((61, 151, args.cases), (150, 301, max(10, args.cases // 3))):
        print(json.dumps(accuracy(rng, low, high, cases)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
