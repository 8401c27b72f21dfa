"""bench/alerts.py --seeds: one line per seed and a summary line whose figures are the seeds' together."""

from __future__ import annotations

import argparse
import json

import pytest


def test_seed_ranges_and_lists_parse_and_bad_ones_say_what_to_give(bench_script):
    parse = bench_script("alerts").parse_seeds
    assert parse("20-27") == list(range(20, 28))
    assert parse("20,22,20,5") == [20, 22, 5]
    assert parse("7") == [7]
    for bad in ("27-20", "x", "20-y", ","):
        with pytest.raises(argparse.ArgumentTypeError, match="20-27"):
            parse(bad)


def _line(seed: int, caught: int, false: int, days: float = 365.0, **extra) -> dict:
    return {"stream": "two-class", "labels": "model", "signal": "reading", "seed": seed, "burst_days": 9,
            "caught": caught, "covered": caught + 1, "false_alerts": false, "days": days,
            "false_alerts_per_30_days": round(false / days * 30, 2), **extra}


def test_the_summary_pools_the_seeds_and_gives_the_spread_of_caught(bench_script):
    summary = bench_script("alerts").summarize([_line(20, 5, 11), _line(21, 8, 7), _line(22, 5, 6, days=182.5)])
    assert summary["seeds"] == [20, 21, 22]
    assert (summary["burst_days"], summary["caught"], summary["covered"]) == (27, 18, 21)
    assert summary["recall"] == round(18 / 27, 3)
    # The rate over the pooled span, not the mean of the seeds' rates (the third seed is half as long).
    assert summary["false_alerts_per_30_days"] == round(24 / (365 + 365 + 182.5) * 30, 2)
    assert summary["worst_false_alerts_per_30_days"] == round(6 / 182.5 * 30, 2)
    assert summary["caught_per_seed"] == [5, 8, 5]
    assert summary["caught_per_seed_mean"] == 6.0
    assert summary["caught_per_seed_standard_error"] == 1.0  # sample sd sqrt(3) over sqrt(3 seeds)


def test_one_seed_has_no_spread(bench_script):
    summary = bench_script("alerts").summarize([_line(20, 5, 11)])
    assert summary["caught_per_seed_standard_error"] == 0.0


def test_seeds_replay_each_seeded_stream_per_seed_and_end_with_the_summary(bench_script, pg_admin_url, capsys):
    bench = bench_script("alerts")
    assert bench.main(["--stream", "low-volume", "--stream", "demo", "--seeds", "16,17",
                       "--database-url", pg_admin_url]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    per_seed = [line for line in lines if not line.get("summary")]
    summaries = [line for line in lines if line.get("summary")]
    assert [(line["stream"], line["seed"]) for line in per_seed] == [
        ("low-volume", 16), ("low-volume", 17), ("demo", None)]  # the demo stream takes no seed: once
    # Another seed draws another stream (the seed reaches it).
    assert per_seed[0]["posts"] != per_seed[1]["posts"]
    assert summaries == [bench.summarize(per_seed[:2])]
    assert summaries[0]["caught"] == per_seed[0]["caught"] + per_seed[1]["caught"]
