"""Which alert signal separates a model-read burst day from an ordinary one? An offline study, not the detector.

    python bench/signals.py --model DIR [--model DIR ...] [--seed 20] [--days 7]

Replays bench/alerts.py's two-class stream (bullish/bearish retail posts, ~27 a day for a year, nine days at
90-100 % bearish) through a model once, then compares each day (a 1 d window) with the trailing --days days
(the baseline) under several signals:

- ``argmax``: the share the model calls negative, exact one-sided Fisher test (the detector's label signal);
- ``mean_p``: the mean calibrated p_negative, one-sided Welch t-test;
- ``mean_bearish``: the mean of p_negative / (p_negative + p_positive), "bearish among opinionated", Welch;
- ``rank``: the detector's reading signal (MONITOR_ALERTS__SIGNAL=reading): p_negative binned by logit, a
  Wilcoxon-Mann-Whitney test of window against baseline (monitor.alerts.statistics.rank_compare);
- ``truth``: the authors' own tags, Fisher (the ceiling).

For each signal it prints one JSON line: the burst days found when the threshold lets 1, 3, 6 and 12 ordinary
days of the year through (days within a week after a burst are left out: their baseline holds the burst). The
detector itself adds multi-scale windows, episodes and a correction across scopes; this isolates the signal.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import alerts as alert_bench  # noqa: E402

from monitor.alerts.statistics import READING_BINS, fisher_upper_p, rank_compare, reading_bins  # noqa: E402

FALSE_DAYS = (1, 3, 6, 12)


def read(model_dir: Path, texts: list[str]) -> dict[str, tuple[bool, float, float]]:
    """Each distinct text once: (called negative, p_negative, p_negative / (p_negative + p_positive))."""
    return {text: (p.sentiment == "negative", p.p_negative, p.p_negative / max(p.p_negative + p.p_positive, 1e-9))
            for text, p in alert_bench.read_distinct(model_dir, texts).items()}


def day_p_values(days: dict[int, list[tuple]], baseline_days: int) -> dict[str, dict[int, float]]:
    """Per signal, per day with at least 10 posts and a full baseline: the one-sided p-value of a rise."""
    out: dict[str, dict[int, float]] = defaultdict(dict)
    for d in range(baseline_days, max(days) + 1):
        window = days.get(d, [])
        base = [x for b in range(d - baseline_days, d) for x in days.get(b, [])]
        if len(window) < 10 or len(base) < 30:
            continue
        w, b = np.array(window, dtype=float), np.array(base, dtype=float)
        for name, col in (("truth", 0), ("argmax", 1)):
            out[name][d] = float(fisher_upper_p(int(w[:, col].sum()), len(w), int(b[:, col].sum()), len(b)))
        for name, col in (("mean_p", 2), ("mean_bearish", 3)):
            out[name][d] = float(stats.ttest_ind(w[:, col], b[:, col], equal_var=False, alternative="greater").pvalue)
        w_bins = np.bincount(reading_bins(w[:, 2]), minlength=READING_BINS)
        b_bins = np.bincount(reading_bins(b[:, 2]), minlength=READING_BINS)
        out["rank"][d] = float(rank_compare(w_bins, b_bins).p_value[0])
    return out


def found_at(p_values: dict[int, float], bursts: set[int], after: set[int]) -> dict[str, int]:
    burst_p = sorted(p for d, p in p_values.items() if d in bursts)
    ordinary = sorted(p for d, p in p_values.items() if d not in bursts and d not in after)
    found = {}
    for n in FALSE_DAYS:
        threshold = ordinary[n - 1] if len(ordinary) >= n else 1.0
        found[f"found_at_{n}_false_days"] = sum(p < threshold for p in burst_p)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append", required=True, help="model directory (repeatable)")
    parser.add_argument("--seed", type=int, default=20, help="the two-class stream's seed")
    parser.add_argument("--days", type=int, default=7, help="baseline length in days")
    args = parser.parse_args(argv)
    for model in args.model:
        if not (model / "config.json").is_file():
            parser.error(f"--model {model}: not a model directory (no config.json)")
    stream = alert_bench.two_class_stream(seed=args.seed)
    start = min(p.at for p in stream.posts).date()
    bursts = {(d - start).days for d in stream.burst_days}
    after = {b + i for b in bursts for i in range(1, args.days + 1)}
    for model in args.model:
        reading = read(model, [p.text for p in stream.posts])
        days: dict[int, list[tuple]] = defaultdict(list)
        for post in stream.posts:
            days[(post.at.date() - start).days].append((post.sentiment == "negative", *reading[post.text]))
        for signal, p_values in day_p_values(days, args.days).items():
            print(json.dumps({"model": str(model), "seed": args.seed, "signal": signal, "burst_days": len(bursts),
                              **found_at(p_values, bursts, after)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
