"""Replay dated, labeled streams through the real detector and print burst-day recall and false alerts.

    python bench/alerts.py [--stream demo|low-volume|retail|two-class|busy|taborda|surge ...] [--model DIR]
                           [--seed N | --seeds 20-27] [--database-url URL]

Each stream is written as article and prediction rows into a fresh Postgres database (the local one at
127.0.0.1:5432, or --database-url's server), then `backfill` evaluates all of its history with the
default settings (or MONITOR_ALERTS__* from the environment). One JSON line per stream and label source:
``labels`` "true" (the stream's own labels) or "model" (--model DIR's predictions of the same texts).

A burst day is caught when an alert of any scope opens between its start and 06:00 the next day, and covered
when an alert is open at some moment of that span (a burst of several days in a row is one episode: caught
once, covered every day); every alert group (one notification) that opens outside those spans is a false
alert.

``--seeds A-B`` (or ``A,B,...``) replays each seeded stream once per seed (the model reads each distinct text
once) and, with two seeds or more, adds one ``summary`` line per stream and label source: totals over the seeds,
the false-alert rate over their pooled span, the worst seed's, and the mean and standard error of burst days
caught per seed. One seed's outcome turns on a few texts; compare models on the same seeds, seed by seed
(``caught_per_seed``).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.alerts import backfill_alerts  # noqa: E402
from monitor.local.postgres import create_database, drop_database, reachable_local_postgres  # noqa: E402
from monitor.local.replay import DEMO_BURSTS, burst_rows, burst_start  # noqa: E402
from monitor.settings import AlertSettings, DatabaseSettings  # noqa: E402
from monitor.store import make_engine, make_session_factory, migrate, transaction  # noqa: E402
from monitor.store.orm import Alert, AlertGroup, Article, Prediction  # noqa: E402

DATASETS = ROOT / "monitor" / "datasets"
SHARED = ROOT.parent / "shared" / "data"
TOPIC = "Stock Commentary"  # labeled streams carry no topic: one topic, so the scopes are all + tickers
CATCH = timedelta(days=1, hours=6)


@dataclass(frozen=True)
class Post:
    at: datetime
    text: str
    sentiment: str
    topic: str | None = None  # None: TOPIC (labeled streams carry no topic)


@dataclass
class Stream:
    name: str
    posts: list[Post]
    burst_days: list[date]
    note: str


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def demo_stream() -> Stream:
    """The demo's stream: the bundled timeline (labels where the authors gave one, else neutral) and its burst."""
    with open(DATASETS / "stock-market-tweets" / "timeline.csv", newline="", encoding="utf-8") as fh:
        posts = [Post(parse_time(r["created_at"]), r["text"], r["label"] or "neutral") for r in csv.DictReader(fh)]
    posts.sort(key=lambda p: p.at)
    first, last = posts[0].at, posts[-1].at
    burst = [Post(parse_time(r["published_at"]), r["text"], "negative")
             for b in DEMO_BURSTS for r in burst_rows(burst_start(first, last, b), b)]
    days = sorted({p.at.date() for p in burst})
    return Stream("demo", posts + burst, days, "bundled timeline + the demo's two injected bursts (60 in 3 h each)")


def low_volume_stream(days: int = 120, per_day: int = 30, bursts: int = 8, seed: int = 16,
                      pool: dict[str, list[str]] | None = None, name: str = "low-volume",
                      source: str = "twitter-fin-sentiment") -> Stream:
    """About 30 real finance tweets a day, 15-25 % negative, with bearish days at 70-100 % negative.

    ``pool``: texts by label to draw from (default: twitter-fin-sentiment's train split)."""
    if pool is None:
        with open(DATASETS / "twitter-fin-sentiment" / "train.csv", newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        pool = defaultdict(list)
        for r in rows:
            pool[{"Bearish": "negative", "Bullish": "positive"}.get(r["label"], "neutral")].append(r["text"])
    others = sorted(label for label in pool if label != "negative")
    rng = random.Random(seed)
    start = datetime(2025, 1, 6, tzinfo=UTC)
    burst_idx = sorted(rng.sample(range(14, days - 3, 13), bursts))  # after two baseline weeks, ~2 weeks apart
    posts = []
    for d in range(days):
        negative = rng.uniform(0.7, 1.0) if d in burst_idx else rng.uniform(0.15, 0.25)
        for _ in range(_poisson(rng, per_day)):
            label = "negative" if rng.random() < negative else rng.choice(others)
            at = start + timedelta(days=d, seconds=rng.randrange(86400))
            posts.append(Post(at, rng.choice(pool[label]), label))
    note = f"{days} days, ~{per_day}/day from {source}, {bursts} bearish days"
    return Stream(name, posts, [(start + timedelta(days=d)).date() for d in burst_idx], note)


def retail_stream(corpus: str = "stock-tweets-taborda", split: str = "valid") -> Stream:
    """The low-volume stream drawn from a retail-investor corpus's held-out split: texts the models never
    trained on, in the language of the private stream's investors."""
    pool: dict[str, list[str]] = defaultdict(list)
    with open(DATASETS / corpus / f"{split}.csv", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            pool[r["label"]].append(r["text"])
    return low_volume_stream(pool=pool, name="retail", source=f"{corpus}/{split}.csv (texts repeat)")


def two_class_stream(corpus: str = "stock-tweets-taborda", split: str = "valid", days: int = 365,
                     per_day: int = 27, seed: int = 20) -> Stream:
    """Shaped like the private stream of issue 16: retail posts each tagged bullish or bearish (no neutral),
    ~27 a day for a year, 35-55 % bearish on ordinary days (45 % overall), and nine bearish days at 90-100 %:
    a crash of three days in a row, then six alone. Only the corpus's held-out positive and negative texts
    (they repeat: ~70 bearish and ~100 bullish texts); the model sees texts it never trained on."""
    pool: dict[str, list[str]] = defaultdict(list)
    with open(DATASETS / corpus / f"{split}.csv", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["label"] in ("negative", "positive"):
                pool[r["label"]].append(r["text"])
    rng = random.Random(seed)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    crash = 70  # mid-March
    alone = sorted(rng.sample([d for d in range(21, days - 2) if abs(d - crash) > 10], 6))
    bursts = sorted({crash, crash + 1, crash + 2, *alone})
    posts = []
    for d in range(days):
        bearish = rng.uniform(0.9, 1.0) if d in bursts else rng.uniform(0.35, 0.55)
        for _ in range(_poisson(rng, per_day)):
            label = "negative" if rng.random() < bearish else "positive"
            at = start + timedelta(days=d, seconds=rng.randrange(86400))
            posts.append(Post(at, rng.choice(pool[label]), label))
    note = f"{days} days, ~{per_day}/day, bullish/bearish only from {corpus}/{split}.csv, 9 bearish days"
    return Stream("two-class", posts, [(start + timedelta(days=d)).date() for d in bursts], note)


def busy_stream(days: int = 21, n_topics: int = 10, seed: int = 30) -> Stream:
    """No burst at all, many scopes: 10 topics at 2-40 articles an hour each, 8-14 % negative, drawn afresh
    per topic and day, over three weeks (~100,000 real finance tweets, with their cashtags). Every alert here is
    false: this stream measures what the tests of many scopes and scales at every step cost."""
    pool: dict[str, list[str]] = defaultdict(list)
    with open(DATASETS / "twitter-fin-sentiment" / "train.csv", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            pool[{"Bearish": "negative", "Bullish": "positive"}.get(r["label"], "neutral")].append(r["text"])
    rng = random.Random(seed)
    start = datetime(2025, 3, 3, tzinfo=UTC)
    posts = []
    for t in range(n_topics):
        topic, per_hour = f"Topic {t + 1}", rng.uniform(2, 40)
        for d in range(days):
            negative = rng.uniform(0.08, 0.14)
            for h in range(24):
                for _ in range(_poisson(rng, per_hour)):
                    label = "negative" if rng.random() < negative else rng.choice(("neutral", "positive"))
                    at = start + timedelta(days=d, hours=h, seconds=rng.randrange(3600))
                    posts.append(Post(at, rng.choice(pool[label]), label, topic))
    return Stream("busy", posts, [], f"{days} days, {n_topics} topics at 2-40/hour each, 8-14 % negative, no burst")


def _poisson(rng: random.Random, mean: float) -> int:
    n, p, limit = 0, 1.0, pow(2.718281828459045, -mean)
    while True:
        p *= rng.random()
        if p < limit:
            return n
        n += 1


def labeled_days_stream(name: str, path: Path, text_col: str, label_col: str, time_col: str,
                        negative: set[str], min_posts: int = 10, share: float = 0.7) -> Stream | None:
    """A dated labeled set from ../shared/data; its burst days are the days with at least ``min_posts``
    labeled posts of which at least ``share`` are negative (the set has no injected bursts)."""
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r[time_col] and r[label_col]]
    posts = [Post(parse_time(r[time_col]), r[text_col], "negative" if r[label_col] in negative else "other")
             for r in rows]
    per_day = Counter(p.at.date() for p in posts)
    neg_day = Counter(p.at.date() for p in posts if p.sentiment == "negative")
    days = sorted(d for d, n in per_day.items() if n >= min_posts and neg_day[d] / n >= share)
    return Stream(name, posts, days, f"labeled posts only; burst days: >= {min_posts} posts, >= {share:.0%} negative")


def streams(wanted: list[str], seed: int | None = None) -> list[Stream]:
    """The named streams; ``seed`` redraws the synthetic ones that take one (low-volume, two-class, busy)."""
    seeded = {} if seed is None else {"seed": seed}
    makers = {
        "demo": demo_stream,
        "low-volume": lambda: low_volume_stream(**seeded),
        "retail": retail_stream,
        "two-class": lambda: two_class_stream(**seeded),
        "busy": lambda: busy_stream(**seeded),
        "taborda": lambda: labeled_days_stream("taborda", SHARED / "stock-market-tweets-taborda" / "labeled.csv",
                                               "text", "label", "created_at", {"negative"}),
        "surge": lambda: labeled_days_stream("surge", SHARED / "surge-stock-sentiment" / "sentiment.csv",
                                             "text", "label", "created_at", {"Negative"}),
    }
    found = [makers[name]() for name in wanted]
    return [s for s in found if s is not None and s.posts]


def model_labels(model_dir: Path, posts: list[Post]) -> tuple[list[str], list[str], list[tuple[float, float, float]]]:
    """The model's sentiment, topic and sentiment probabilities for every post (the topic scopes become the
    model's; the probabilities feed MONITOR_ALERTS__SIGNAL=reading)."""
    return labels_from(read_distinct(model_dir, [post.text for post in posts]), posts)


def labels_from(read: dict, posts: list[Post]) -> tuple[list[str], list[str], list[tuple[float, float, float]]]:
    """``model_labels`` from predictions already read (``read_distinct``), e.g. once for several streams."""
    predictions = [read[post.text] for post in posts]
    return ([p.sentiment for p in predictions], [p.topic for p in predictions],
            [(p.p_negative, p.p_neutral, p.p_positive) for p in predictions])


def read_distinct(model_dir: Path, texts: list[str]) -> dict:
    """The model's prediction of each distinct text, read once (the streams repeat texts)."""
    from monitor.model.predictor import Predictor

    predictor = Predictor.from_directory(model_dir)
    distinct = sorted(set(texts))
    read = {}
    for i in range(0, len(distinct), 512):
        read.update(zip(distinct[i:i + 512], predictor.predict(distinct[i:i + 512]), strict=True))
    return read


def write(posts: list[Post], labels: list[str], factory, topics: list[str] | None = None,
          probabilities: list[tuple[float, float, float]] | None = None) -> None:
    """Articles and predictions; without ``probabilities`` (true labels) p_negative is 1 or 0 by the label."""
    topics = topics or [p.topic or TOPIC for p in posts]
    probabilities = probabilities or [(float(label == "negative"), 0.0, 0.0) for label in labels]
    with transaction(factory) as session:
        for i in range(0, len(posts), 2000):
            chunk = list(zip(posts[i:i + 2000], labels[i:i + 2000], strict=True))
            chunk_topics = topics[i:i + 2000]
            chunk_probabilities = probabilities[i:i + 2000]
            rows = [{"text": p.text, "event_time": p.at, "published_at": p.at, "kafka_topic": "bench",
                     "kafka_partition": 0, "kafka_offset": i + k} for k, (p, _) in enumerate(chunk)]
            ids = session.scalars(insert(Article).returning(Article.id, sort_by_parameter_order=True), rows).all()
            session.execute(insert(Prediction), [
                {"article_id": a, "model_version": "bench", "topic": topic, "topic_confidence": 1.0,
                 "sentiment": label, "sentiment_confidence": 1.0, "p_negative": pn, "p_neutral": pu, "p_positive": pp}
                for a, (_, label), topic, (pn, pu, pp) in zip(ids, chunk, chunk_topics, chunk_probabilities,
                                                              strict=True)])


def score(stream: Stream, alerts: list[Alert], groups: list[AlertGroup]) -> dict:
    def near(at: datetime) -> date | None:
        return next((d for d in stream.burst_days
                     if datetime.combine(d, datetime.min.time(), UTC) <= at < datetime.combine(d, datetime.min.time(),
                                                                                               UTC) + CATCH), None)

    caught = {near(a.opened_at) for a in alerts} - {None}

    def covers(a: Alert, d: date) -> bool:  # an alert open at some moment of the burst day's span
        start = datetime.combine(d, datetime.min.time(), UTC)
        return a.opened_at < start + CATCH and (a.resolved_at is None or a.resolved_at > start)

    covered = {d for d in stream.burst_days if any(covers(a, d) for a in alerts)}
    false_groups = [g for g in groups if near(g.opened_at) is None]
    span = (max(p.at for p in stream.posts) - min(p.at for p in stream.posts)) / timedelta(days=30)
    return {
        "burst_days": len(stream.burst_days), "caught": len(caught), "covered": len(covered),
        "recall": round(len(caught) / len(stream.burst_days), 3) if stream.burst_days else None,
        "alert_groups": len(groups), "false_alerts": len(false_groups),
        "false_alerts_per_30_days": round(len(false_groups) / span, 2) if span else None,
        "scope_alerts": len(alerts), "false_opened_at": [g.opened_at.isoformat() for g in false_groups][:10],
    }


def run(stream: Stream, labels: list[str], source: str, admin_url: str, settings: AlertSettings,
        topics: list[str] | None = None, probabilities: list[tuple[float, float, float]] | None = None) -> dict:
    name = f"bench_alerts_{uuid.uuid4().hex[:8]}"
    url = create_database(admin_url, name, exist_ok=False)
    engine = None
    try:
        migrate.upgrade(url)
        engine = make_engine(DatabaseSettings(url=url))
        factory = make_session_factory(engine)
        write(stream.posts, labels, factory, topics, probabilities)
        t0 = time.perf_counter()
        result = backfill_alerts(settings, factory)
        seconds = time.perf_counter() - t0
        with transaction(factory) as session:
            alerts = list(session.scalars(select(Alert).order_by(Alert.id)))
            groups = list(session.scalars(select(AlertGroup).order_by(AlertGroup.id)))
        days = (max(p.at for p in stream.posts) - min(p.at for p in stream.posts)) / timedelta(days=1)
        return {"stream": stream.name, "labels": source, "signal": settings.signal, "posts": len(stream.posts),
                "days": round(days, 1),
                "negative_share": round(labels.count("negative") / len(labels), 3), **score(stream, alerts, groups),
                "steps": result.steps, "detector_seconds": round(seconds, 1), "note": stream.note}
    finally:
        if engine is not None:
            engine.dispose()
        drop_database(admin_url, name)


def parse_seeds(value: str) -> list[int]:
    """``20-27`` or ``20,22,25``: the seeds, in order, each once."""
    try:
        if "-" in value.strip("-"):
            first, last = (int(v) for v in value.split("-", 1))
            seeds = list(range(first, last + 1))
        else:
            seeds = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: give a range like 20-27 or a list like 20,21,25") from None
    if not seeds:
        raise argparse.ArgumentTypeError(f"{value!r}: no seed in it; give a range like 20-27 (first <= last)")
    return list(dict.fromkeys(seeds))


def summarize(results: list[dict]) -> dict:
    """One stream's per-seed lines (same stream, same label source) summed: what the seeds say together."""
    caught = [r["caught"] for r in results]
    n = len(caught)
    mean = sum(caught) / n
    spread = (sum((c - mean) ** 2 for c in caught) / (n - 1)) ** 0.5 if n > 1 else 0.0
    days = sum(r["days"] for r in results)
    false = sum(r["false_alerts"] for r in results)
    burst_days = sum(r["burst_days"] for r in results)
    return {
        "summary": True, "stream": results[0]["stream"], "labels": results[0]["labels"],
        "signal": results[0]["signal"], "seeds": [r["seed"] for r in results],
        "burst_days": burst_days, "caught": sum(caught), "covered": sum(r["covered"] for r in results),
        "recall": round(sum(caught) / burst_days, 3) if burst_days else None,
        "false_alerts": false, "false_alerts_per_30_days": round(false / days * 30, 2) if days else None,
        "worst_false_alerts_per_30_days": max((r["false_alerts_per_30_days"] or 0.0) for r in results),
        "caught_per_seed": caught, "caught_per_seed_mean": round(mean, 2),
        "caught_per_seed_standard_error": round(spread / n ** 0.5, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream", action="append",
                        choices=["demo", "low-volume", "retail", "two-class", "busy", "taborda", "surge"])
    parser.add_argument("--model", type=Path, help="also replay with this model directory's predictions")
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, help="redraw the low-volume, two-class and busy streams with this seed")
    seeds.add_argument("--seeds", type=parse_seeds, metavar="A-B|A,B,...",
                       help="replay the seeded streams once per seed and add a summary line per stream")
    parser.add_argument("--database-url", help="admin URL of a Postgres server (default: 127.0.0.1:5432)")
    args = parser.parse_args(argv)
    admin_url = args.database_url or reachable_local_postgres()
    if admin_url is None:
        parser.error("no Postgres at 127.0.0.1:5432; pass --database-url postgresql://user@host:port/postgres")
    from monitor.settings import Settings

    settings = Settings().alerts
    names = args.stream or ["demo", "low-volume", "taborda", "surge"]
    seeded = {"low-volume", "two-class", "busy"}
    plan = [(name, seed) for name in names for seed in (args.seeds if args.seeds and name in seeded else [args.seed])]
    made = [(seed, stream) for name, seed in plan for stream in streams([name], seed)]
    read = None
    if args.model:  # every distinct text of every stream once: the seeds redraw the same texts
        read = read_distinct(args.model, [p.text for _, stream in made for p in stream.posts])
    results: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for seed, stream in made:
        stream.posts.sort(key=lambda p: p.at)
        runs = [("true", [p.sentiment for p in stream.posts], None, None)]
        if read is not None:
            runs.append(("model", *labels_from(read, stream.posts)))
        for source, labels, topics, probabilities in runs:
            line = {**run(stream, labels, source, admin_url, settings, topics, probabilities), "seed": seed}
            results[(stream.name, source)].append(line)
            print(json.dumps(line), flush=True)
    if args.seeds:
        for lines in results.values():
            if len({line["seed"] for line in lines}) > 1:
                print(json.dumps(summarize(lines)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
