"""Fill an empty database with a few days of realistic monitor data, for screenshots and trying the dashboard.

    MONITOR_DATABASE__URL=postgresql+psycopg://... python -m dashboard.seed_demo [--articles 6000 --days 3]

Real headlines from the bundled Twitter Financial News topic set, a daily rhythm, a burst of negative
earnings news in the last hours with its open alert, two model versions and one retraining run.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from monitor import datasets
from monitor.alerts.statistics import compare_shares
from monitor.errors import MonitorError
from monitor.learning import NewLabel, insert_labels, promote_version, register_version
from monitor.store.orm import ALL_TOPICS, Alert, AlertMute, Article, Prediction, TrainingRun, WorkerHeartbeat
from monitor.text import strip_links

NEGATIVE_WORDS = re.compile(
    r"\b(miss|misses|missed|cuts?|falls?|drops?|slumps?|plunges?|loss|losses|warns?|warning|weak|weaker|"
    r"probe|lawsuit|sinks?|tumbles?|slides?|declines?|downgrades?|layoffs?|slashes)\b",
    re.I,
)
SOURCES = {
    "Reuters": 5,
    "Bloomberg": 4,
    "CNBC": 3,
    "MarketWatch": 2,
    "WSJ": 2,
    "Financial Times": 1,
    "Benzinga": 2,
    "Seeking Alpha": 1,
}
BURST_TOPIC = "Earnings"
BURST_FOR = timedelta(hours=1, minutes=30)
SCORES_OLD = {
    "topic": {"accuracy": 0.871, "macro_f1": 0.792},
    "sentiment": {"accuracy": 0.866, "macro_f1": 0.82},
}
SCORES_NEW = {
    "topic": {"accuracy": 0.889, "macro_f1": 0.826},
    "sentiment": {"accuracy": 0.874, "macro_f1": 0.83},
}


@dataclass(frozen=True)
class Seeded:
    articles: int
    negative: int
    alert_id: int


def load_headlines() -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, int]]:
    """Headlines per topic, split into negative-sounding and the rest, and each topic's frequency."""
    negative, other, counts = defaultdict(list), defaultdict(list), defaultdict(int)
    with open(datasets.path("twitter-fin-topic") / "train.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            text = strip_links(row["text"])
            if len(text) < 25:
                continue
            (negative if NEGATIVE_WORDS.search(text) else other)[row["label"]].append(text)
            counts[row["label"]] += 1
    return dict(negative), dict(other), dict(counts)


def _rate(t: datetime) -> float:
    # News volume follows the New York trading day: busiest 13:30-20:00 UTC, quiet at night.
    hour = t.hour + t.minute / 60
    return 0.35 + 0.65 * max(0.0, math.sin(math.pi * (hour - 10) / 14)) if 10 <= hour <= 24 else 0.35


def _negative_share(topic: str, t: datetime, now: datetime, base: dict[str, float]) -> float:
    if topic == BURST_TOPIC and t > now - BURST_FOR:
        return 0.68
    return base[topic]


def plan_articles(
    rng: random.Random, now: datetime, days: int, n: int, *, burst: bool = True
) -> list[tuple[datetime, str, bool]]:
    """(event time, topic, negative?) for about ``n`` articles over ``days`` days ending now (the burst in the
    last BURST_FOR unless ``burst`` is false)."""
    _, _, counts = load_headlines()
    topics, weights = list(counts), list(counts.values())
    base = {t: rng.uniform(0.12, 0.3) for t in topics} | {BURST_TOPIC: 0.14}
    start = now - timedelta(days=days)
    planned = []
    while len(planned) < n:
        t = start + timedelta(seconds=rng.uniform(0, days * 86400))
        if rng.random() > _rate(t):
            continue
        topic = rng.choices(topics, weights)[0]
        in_burst = burst and t > now - BURST_FOR
        if in_burst and rng.random() < 0.5:
            topic = BURST_TOPIC  # the burst: many more earnings stories, mostly bad
        share = _negative_share(topic, t, now, base) if in_burst else base[topic]
        planned.append((t, topic, rng.random() < share))
    return sorted(planned)


def _prediction(rng: random.Random, topic: str, negative: bool, version: str) -> dict[str, Any]:
    sentiment = "negative" if negative else rng.choices(["neutral", "positive"], [3, 2])[0]
    conf = min(0.995, rng.betavariate(7, 1.6))
    rest = 1 - conf
    split = rng.random()
    probs = {
        s: rest * (split if i == 0 else 1 - split)
        for i, s in enumerate(x for x in ("negative", "neutral", "positive") if x != sentiment)
    }
    probs[sentiment] = conf
    return {
        "model_version": version,
        "topic": topic,
        "topic_confidence": min(0.995, rng.betavariate(8, 1.4)),
        "sentiment": sentiment,
        "sentiment_confidence": conf,
        "p_negative": probs["negative"],
        "p_neutral": probs["neutral"],
        "p_positive": probs["positive"],
    }


def seed_articles(
    session: Session, rng: random.Random, now: datetime, days: int, n: int, promoted_at: datetime,
    *, burst: bool = True, id_prefix: str = "demo", first_offset: int = 0,
) -> list[dict[str, Any]]:
    negative_texts, other_texts, _ = load_headlines()
    rows, preds = [], []
    for i, (t, topic, negative) in enumerate(plan_articles(rng, now, days, n, burst=burst)):
        pool = negative_texts.get(topic) if negative and negative_texts.get(topic) else other_texts[topic]
        rows.append(
            {
                "external_id": f"{id_prefix}-{i}",
                "source": rng.choices(list(SOURCES), list(SOURCES.values()))[0],
                "text": rng.choice(pool),
                "published_at": t,
                "event_time": t,
                "received_at": t + timedelta(seconds=rng.uniform(0.2, 4)),
                "kafka_topic": "news",
                "kafka_partition": i % 3,
                "kafka_offset": first_offset + i // 3,
                "lang": "en",
            }
        )
        preds.append(_prediction(rng, topic, negative, "minilm-2" if t >= promoted_at else "minilm-1"))
    ids = session.scalars(insert(Article).returning(Article.id, sort_by_parameter_order=True), rows).all()
    for article_id, pred, row in zip(ids, preds, rows, strict=True):
        pred["article_id"] = article_id
        pred["created_at"] = row["received_at"] + timedelta(milliseconds=40)
        row.update(
            id=article_id, topic=pred["topic"], sentiment=pred["sentiment"], p_negative=pred["p_negative"]
        )
    session.execute(insert(Prediction), preds)
    return rows


def seed_models(session: Session, now: datetime, promoted_at: datetime) -> None:
    run = TrainingRun(
        trigger="labels",
        status="promoted",
        started_at=promoted_at - timedelta(minutes=31),
        finished_at=promoted_at,
        n_base_examples=26930,
        n_labels=412,
        n_new_labels=412,
        candidate_version="minilm-2",
        champion_version="minilm-1",
        candidate_scores=SCORES_NEW,
        champion_scores=SCORES_OLD,
        decision="promoted: better on topic (+0.018) and sentiment (+0.008) accuracy",
    )
    session.add(run)
    session.flush()
    old = register_version(
        "minilm-1", "models/minilm-1", session=session, scores=SCORES_OLD, status="champion"
    )
    new = register_version(
        "minilm-2", "models/minilm-2", session=session, scores=SCORES_NEW, training_run_id=run.id
    )
    promote_version("minilm-2", session=session)
    old.created_at = old.promoted_at = now - timedelta(days=12)
    new.created_at, new.promoted_at = run.finished_at - timedelta(minutes=2), promoted_at
    session.flush()


def _window_counts(rows: list[dict[str, Any]], topic: str, start: datetime, end: datetime) -> tuple[int, int]:
    picked = [r for r in rows if r["topic"] == topic and start <= r["event_time"] < end]
    return sum(r["sentiment"] == "negative" for r in picked), len(picked)


def seed_alerts(session: Session, rows: list[dict[str, Any]], now: datetime) -> int:
    """The open alert of the earnings burst (figures from the seeded rows) and an older resolved one."""
    w_start, b_start = now - timedelta(hours=1), now - timedelta(hours=25)
    w_neg, w_n = _window_counts(rows, BURST_TOPIC, w_start, now)
    b_neg, b_n = _window_counts(rows, BURST_TOPIC, b_start, w_start)
    cmp = compare_shares(w_neg, w_n, b_neg, b_n)
    negative = [
        r
        for r in rows
        if r["topic"] == BURST_TOPIC and r["sentiment"] == "negative" and r["event_time"] >= w_start
    ]
    by_text = {r["text"]: r for r in sorted(negative, key=lambda r: r["p_negative"])}  # one per headline
    worst = sorted(by_text.values(), key=lambda r: -r["p_negative"])[:5]
    examples = [
        {
            "article_id": r["id"],
            "headline": r["text"],
            "topic": BURST_TOPIC,
            "source": r["source"],
            "p_negative": round(r["p_negative"], 4),
            "event_time": r["event_time"].isoformat(),
        }
        for r in worst
    ]
    opened = now - timedelta(minutes=70)
    alert = Alert(
        scope=BURST_TOPIC,
        status="open",
        opened_at=opened,
        updated_at=now,
        window_start=w_start,
        window_end=now,
        baseline_start=b_start,
        window_count=w_n,
        window_negative=w_neg,
        baseline_count=b_n,
        baseline_negative=b_neg,
        observed_share=cmp.observed_share,
        baseline_share=cmp.baseline_share,
        peak_share=max(cmp.observed_share, 0.71),
        statistic=cmp.statistic,
        p_value=cmp.p_value,
        examples=examples,
    )
    then = now - timedelta(days=2, hours=3)
    resolved = Alert(
        scope=ALL_TOPICS,
        status="resolved",
        opened_at=then,
        updated_at=then + timedelta(hours=2),
        resolved_at=then + timedelta(hours=2),
        window_start=then - timedelta(hours=1),
        window_end=then,
        baseline_start=then - timedelta(hours=25),
        window_count=96,
        window_negative=41,
        baseline_count=1650,
        baseline_negative=352,
        observed_share=41 / 96,
        baseline_share=352 / 1650,
        peak_share=0.45,
        statistic=4.6,
        p_value=2.1e-6,
        examples=[],
        acknowledged_at=then + timedelta(minutes=12),
        acknowledged_by="maria",
    )
    session.add_all([alert, resolved])
    session.add(
        AlertMute(scope="Politics", muted_until=now + timedelta(hours=3), reason="election night noise")
    )
    session.flush()
    return alert.id


def seed_pipeline(session: Session, rows: list[dict[str, Any]], now: datetime) -> None:
    for i, speed in enumerate((182.4, 176.9)):
        session.add(
            WorkerHeartbeat(
                worker_id=f"worker-{i + 1}",
                model_version="minilm-2",
                updated_at=now - timedelta(seconds=3 + i),
                texts_per_second=speed,
                messages_stored=len(rows) // 2,
                messages_dead_lettered=3 - i,
                lag={f"news[{p}]": 4 + 3 * p + i for p in range(3)},
            )
        )
    labels = [
        NewLabel(
            text=r["text"],
            topic=r["topic"],
            sentiment=r["sentiment"],
            origin="dashboard",
            article_id=r["id"],
            author="maria",
        )
        for r in rows[-60:-20]
    ]
    insert_labels(labels, session=session)


def seed_demo(
    session: Session,
    *,
    now: datetime | None = None,
    days: int = 3,
    articles: int = 6000,
    seed: int = 7,
    quiet_days_after: int = 0,
) -> Seeded:
    """Write the demo data into an empty database; the caller commits.

    ``quiet_days_after``: ordinary news for that many days after the burst, as in `monitor demo`'s replay,
    where the burst sits weeks before the stream's last article.
    """
    if session.scalar(select(func.count()).select_from(Article)):
        raise MonitorError(
            "the database already holds articles; seed an empty one (monitor db upgrade on a new "
            "database) so demo rows never mix with real ones"
        )
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    promoted_at = now - timedelta(days=days) * 0.6  # the retrained model took over part-way
    rows = seed_articles(session, rng, now, days, articles, promoted_at)
    seed_models(session, now, promoted_at)
    alert_id = seed_alerts(session, rows, now)
    seed_pipeline(session, rows, now)
    if quiet_days_after:
        after = now + timedelta(days=quiet_days_after)
        n_after = articles * quiet_days_after // days // 4  # a quieter stream than the burst's days
        seed_articles(session, rng, after, quiet_days_after, n_after, promoted_at, burst=False, id_prefix="after",
                      first_offset=len(rows))
    session.flush()
    return Seeded(
        articles=len(rows), negative=sum(r["sentiment"] == "negative" for r in rows), alert_id=alert_id
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=6000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    from monitor.settings import Settings
    from monitor.store import make_engine, make_session_factory, transaction

    engine = make_engine(Settings().database)
    with transaction(make_session_factory(engine)) as session:
        seeded = seed_demo(session, days=args.days, articles=args.articles, seed=args.seed)
    print(f"seeded {seeded.articles} articles ({seeded.negative} negative) and open alert {seeded.alert_id}")


if __name__ == "__main__":
    main()
