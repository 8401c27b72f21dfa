"""The demo's stream: the bundled timestamped tweets plus an injected burst of negative earnings news."""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

# Earnings reports that miss, in the wire style of the topic data set (which files them under "Financials").
BURST_TEMPLATES = [
    "${t} Q2 EPS of -${e} misses by ${m}, revenue falls {p}% and misses estimates",
    "${t} reports surprise quarterly loss of ${e} per share and cuts full-year guidance",
    "${t} posts wider-than-expected Q2 loss, revenue down {p}%, suspends dividend",
    "${t} second-quarter profit plunges {p}%, misses forecasts and withdraws outlook",
    "${t} GAAP EPS of -${e}, revenue misses by {p}%; company slashes guidance",
]
BURST_TICKERS = ["AAPL", "MSFT", "AMZN", "TSLA", "NFLX", "NVDA", "META", "GOOGL", "BA", "DIS"]


@dataclass(frozen=True)
class Burst:
    at_fraction: float = 0.75
    """Where in the timeline the burst starts (0 = first tweet, 1 = last)."""
    count: int = 60
    span: timedelta = timedelta(hours=3)
    seed: int = 7
    name: str = "demo-burst"
    """Prefix of the burst's message ids (two bursts need two prefixes, or the second would be duplicates)."""


DEMO_BURSTS = (Burst(), Burst(at_fraction=0.997, seed=8, name="demo-final-burst"))
"""Two episodes: one three quarters in, which resolves while the replay goes on, and one as the stream's
last messages, which stays open after the replay so the dashboard shows an open alert to acknowledge."""


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def burst_start(first: datetime, last: datetime, burst: Burst) -> datetime:
    return (first + (last - first) * burst.at_fraction).replace(microsecond=0)


def burst_rows(start: datetime, burst: Burst) -> list[dict[str, str]]:
    rng = random.Random(burst.seed)
    step = burst.span / max(burst.count, 1)
    return [
        {
            "id": f"{burst.name}-{i}",
            "text": rng.choice(BURST_TEMPLATES).format(
                t=rng.choice(BURST_TICKERS), p=rng.randint(8, 35), e=f"{rng.uniform(0.05, 2):.2f}",
                m=f"{rng.uniform(0.05, 0.9):.2f}"),
            "published_at": (start + step * i).isoformat().replace("+00:00", "Z"),
            "source": "demo-burst",
        }
        for i in range(burst.count)
    ]


def build_demo_stream(timeline_csv: Path, out_csv: Path, *, bursts: Sequence[Burst] = DEMO_BURSTS,
                      limit: int | None = None) -> Path:
    """Write ``id,text,published_at,source`` rows sorted by time, bursts included; returns ``out_csv``."""
    with open(timeline_csv, newline="", encoding="utf-8") as fh:
        rows = [
            {"id": f"taborda-{r['row_id']}", "text": r["text"], "published_at": r["created_at"],
             "source": "stock-market-tweets"}
            for r in csv.DictReader(fh)
        ]
    rows = rows[:limit] if limit else rows
    if bursts and rows:
        first, last = _parse(rows[0]["published_at"]), _parse(rows[-1]["published_at"])
        for burst in bursts:
            rows += burst_rows(burst_start(first, last, burst), burst)
        rows.sort(key=lambda r: r["published_at"])
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with open(out_csv, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["id", "text", "published_at", "source"])
        writer.writeheader()
        writer.writerows(rows)
    return out_csv


def count_rows(stream_csv: Path) -> int:
    """Messages in a stream written by ``build_demo_stream`` (texts may span lines, so parse, don't count)."""
    with open(stream_csv, newline="", encoding="utf-8") as fh:
        return sum(1 for _ in csv.DictReader(fh))
