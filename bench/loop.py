"""Does the product's own loop teach the model a new domain? Labels in, warm retrain, negative recall and alerts out.

    python bench/loop.py [--base DIR | --base-preset quick|full] [--budgets 100 300 1000]
                         [--hold-out stock-tweets-taborda] [--work DIR] [--mode warm|scratch]
                         [--scratch-preset quick] [--label-classes negative,positive]

One retail-investor corpus is held out as the "new domain" (default: stock-tweets-taborda, CC BY 4.0, positive,
neutral and negative tweets). A base model is trained without it (`monitor train --preset quick --domains <the
others>`, or --base-preset full), or --base names one that was. Then, for each budget N, exactly as an operator
would, in a fresh database: `monitor db upgrade`, `monitor models register BASE --champion`, `monitor labels
import` N labels drawn (stratified, seeded) from the held-out corpus's train split, and `monitor jobs run retrain
--force` (warm start from the champion, the default; `--mode scratch` trains the scratch preset from the backbone
on the base model's corpora plus the labels instead, to compare the two). Each model (base, then each candidate) is
scored on the held-out corpus's valid split, never trained on: accuracy, negative recall, the ROC AUC of p_negative
(negative vs the rest) and the share called negative; and on the base valid sets (forgetting).
Its predictions then replay two streams of bench/alerts.py made of those valid texts through the real detector
with default settings: "retail" (~30 a day, 120 days, 15-25 % negative, 8 bearish days) and "two-class" (shaped
like issue 16's private stream: bullish/bearish only, ~27 a day for a year, 45 % bearish, 9 days at 90-100 %):
burst days caught, false alerts per 30 days.

One JSON line per model. The retrain job's own gate decides promotion; a candidate is scored either way.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import alerts as alert_bench  # noqa: E402

from monitor.local.postgres import create_database, drop_database, reachable_local_postgres  # noqa: E402
from monitor.model.corpora import DOMAIN_CORPORA  # noqa: E402

DATASETS = ROOT / "monitor" / "datasets"
MONITOR = [sys.executable, "-m", "monitor"]


def rows(corpus: str, split: str) -> list[tuple[str, str]]:
    with open(DATASETS / corpus / f"{split}.csv", newline="", encoding="utf-8-sig") as fh:
        return [(r["text"], r["label"]) for r in csv.DictReader(fh)]


def sample_labels(corpus: str, n: int, seed: int, classes: set[str] | None = None) -> list[tuple[str, str]]:
    """``n`` train rows with the label shares kept; a larger budget contains a smaller one (same order).
    ``classes`` keeps only rows of those labels (e.g. positive/negative, as bullish/bearish tags would give)."""
    by_label: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in rows(corpus, "train"):
        if classes is None or row[1] in classes:
            by_label[row[1]].append(row)
    rng = random.Random(seed)
    for group in by_label.values():
        rng.shuffle(group)
    total = sum(len(g) for g in by_label.values())
    if n > total:
        raise SystemExit(f"--budgets: {corpus} has only {total} train rows; use budgets up to {total}")
    order: list[tuple[str, str]] = []
    cursors = dict.fromkeys(by_label, 0)
    while len(order) < total:  # interleave labels in proportion, so every prefix keeps the shares
        label = max(by_label, key=lambda k: (len(by_label[k]) - cursors[k]) / len(by_label[k]))
        order.append(by_label[label][cursors[label]])
        cursors[label] += 1
    return order[:n]


def score_domain(model_dir: Path, corpus: str) -> dict:
    """Held-out valid split of the new domain: accuracy, negative recall, AUC of p_negative, negative share."""
    from sklearn.metrics import roc_auc_score

    from monitor.model.predictor import Predictor

    valid = rows(corpus, "valid")
    predictions = Predictor.from_directory(model_dir, device="cpu").predict([t for t, _ in valid])
    truth = [label for _, label in valid]
    negatives = [i for i, label in enumerate(truth) if label == "negative"]
    positives = [i for i, label in enumerate(truth) if label == "positive"]
    called = [p.sentiment for p in predictions]
    polar = negatives + positives
    bearish = sum(called[i] == "negative" for i in negatives) / len(negatives)
    bullish = sum(called[i] == "negative" for i in positives) / len(positives) if positives else 0.0
    return {
        "n": len(valid),
        "accuracy": round(sum(c == t for c, t in zip(called, truth, strict=True)) / len(valid), 4),
        "negative_recall": round(bearish, 4),
        "negative_auc": round(roc_auc_score([t == "negative" for t in truth], [p.p_negative for p in predictions]), 4),
        "called_negative": round(called.count("negative") / len(called), 4),
        "true_negative": round(len(negatives) / len(truth), 4),
        # The bullish/bearish texts alone, as the two-class stream draws them: AUC of p_negative between the two,
        # the share of bullish ones called negative, and how much of the true labels' burst signal is left.
        "negative_vs_positive_auc": round(roc_auc_score([truth[i] == "negative" for i in polar],
                                                        [predictions[i].p_negative for i in polar]), 4)
        if positives else None,
        "positive_called_negative": round(bullish, 4),
        "two_class_signal": round(two_class_signal(bearish, bullish), 3),
    }


def two_class_signal(bearish: float, bullish: float, burst: float = 0.95, ordinary: float = 0.45) -> float:
    """How much of a burst day's signal a model keeps on the two-class stream, as a share of the true labels'.

    With a share ``bearish`` of bearish posts and ``bullish`` of bullish ones called negative, a burst day (95 %
    bearish) and an ordinary day (45 %) read as b and o; the day's z against a long baseline is (b - o) /
    sqrt(o (1 - o) / n). The ratio of that to the true labels' (bearish 1, bullish 0) does not depend on n: a
    continuous figure to compare models by, where burst days caught over a few seeds turn on a few texts."""
    def z(t: float, f: float) -> float:
        b, o = burst * t + (1 - burst) * f, ordinary * t + (1 - ordinary) * f
        return (b - o) / max(o * (1 - o), 1e-9) ** 0.5

    return z(bearish, bullish) / z(1.0, 0.0)


def base_scores(model_dir: Path) -> dict:
    config = json.loads((model_dir / "config.json").read_text())
    return {task: {"accuracy": round(s["accuracy"], 4), "macro_f1": round(s["macro_f1"], 4)}
            for task, s in config.get("scores", {}).items()}


def alert_outcome(model_dir: Path, admin_url: str, corpus: str) -> dict:
    """Per stream of bench/alerts.py built from the held-out corpus's valid split: the model's alert outcome."""
    from monitor.settings import Settings

    out = {}
    for stream in (alert_bench.retail_stream(corpus), alert_bench.two_class_stream(corpus)):
        stream.posts.sort(key=lambda p: p.at)
        labels, topics, probabilities = alert_bench.model_labels(model_dir, stream.posts)
        result = alert_bench.run(stream, labels, "model", admin_url, Settings().alerts, topics, probabilities)
        out[stream.name] = {k: result[k] for k in ("caught", "covered", "burst_days", "false_alerts",
                                                   "false_alerts_per_30_days", "negative_share")}
    return out


def monitor(args: list[str], env: dict[str, str], log: Path) -> str:
    started = time.perf_counter()
    with log.open("a") as fh:
        fh.write(f"\n$ monitor {' '.join(args)}\n")
        done = subprocess.run([*MONITOR, *args], env=env, capture_output=True, text=True)
        fh.write(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"monitor {' '.join(args)} failed ({done.returncode}); see {log}")
    print(f"# monitor {' '.join(args)}: {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
    return done.stdout.strip()


def report(name: str, model_dir: Path, corpus: str, admin_url: str, **extra) -> None:
    line = {"model": name, **extra, "domain": score_domain(model_dir, corpus), "base_valid": base_scores(model_dir),
            "alerts": alert_outcome(model_dir, admin_url, corpus), "load_average": os.getloadavg()}
    print(json.dumps(line), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, help="model trained without the held-out corpus (default: train one)")
    parser.add_argument("--base-preset", default="quick", choices=["quick", "full"],
                        help="preset of the base model trained when --base is not given (full: 15 min idle)")
    parser.add_argument("--budgets", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--hold-out", default="stock-tweets-taborda", choices=sorted(DOMAIN_CORPORA))
    parser.add_argument("--mode", choices=["warm", "scratch"], default="warm",
                        help="retrain mode: warm (fine-tune the champion, the default) or scratch (train "
                             "--scratch-preset from the backbone on the base corpora and the labels)")
    parser.add_argument("--scratch-preset", default="quick", help="preset of a --mode scratch retrain")
    parser.add_argument("--label-classes", help="import only labels of these classes, comma-separated "
                        "(negative,positive: what authors' bullish/bearish tags give; default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=ROOT / ".local" / "bench-loop")
    parser.add_argument("--database-url", help="admin URL of a Postgres server (default: 127.0.0.1:5432)")
    args = parser.parse_args(argv)
    admin_url = args.database_url or reachable_local_postgres()
    if admin_url is None:
        parser.error("no Postgres at 127.0.0.1:5432; pass --database-url postgresql://user@host:port/postgres")
    if any(n < 1 for n in args.budgets):
        parser.error("--budgets must be positive")
    label_classes = set(args.label_classes.split(",")) if args.label_classes else None
    if label_classes and not label_classes <= {"negative", "neutral", "positive"}:
        parser.error("--label-classes: use some of negative, neutral, positive")
    args.work.mkdir(parents=True, exist_ok=True)
    log = args.work / "loop.log"
    env = {**os.environ, "MONITOR_LOG_LEVEL": "INFO"}
    others = [d for d in DOMAIN_CORPORA if d != args.hold_out]

    base = args.base
    if base is None:
        base = args.work / ("base" if args.base_preset == "quick" else f"base-{args.base_preset}")
        if not (base / "config.json").is_file():
            started = time.perf_counter()
            monitor(["train", "--preset", args.base_preset, "--out", str(base), "--version", "loop-base",
                     "--domains", ",".join(others) or "none"], env, log)
            print(f"# base model trained in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    trained_on = json.loads((base / "config.json").read_text())["training"]["arguments"].get("domains") or []
    if args.hold_out in trained_on:
        parser.error(f"--base {base} was trained on {args.hold_out}; the held-out domain must be new to it")
    report("base", base, args.hold_out, admin_url, labels=0)

    for n in sorted(args.budgets):
        name = f"bench_loop_{uuid.uuid4().hex[:8]}"
        url = create_database(admin_url, name, exist_ok=False)
        registry = args.work / f"registry-{args.mode}-{(args.label_classes or 'all').replace(',', '-')}-{n}"
        shutil.rmtree(registry, ignore_errors=True)
        run_env = {**env, "MONITOR_DATABASE__URL": url, "MONITOR_MODEL__REGISTRY_DIR": str(registry),
                   "MONITOR_LEARNING__MODE": args.mode}
        if args.mode == "scratch":  # the same corpora as the base, never the held-out domain's own split
            run_env |= {"MONITOR_LEARNING__PRESET": args.scratch_preset,
                        "MONITOR_LEARNING__DOMAINS": json.dumps(others)}
        try:
            labels_file = args.work / f"labels-{n}.csv"
            with labels_file.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(["text", "sentiment"])
                writer.writerows(sample_labels(args.hold_out, n, args.seed, label_classes))
            monitor(["db", "upgrade"], run_env, log)
            monitor(["models", "register", str(base), "--version", "loop-base", "--champion"], run_env, log)
            monitor(["labels", "import", str(labels_file), "--author", "bench-loop"], run_env, log)
            started = time.perf_counter()
            outcome = monitor(["jobs", "run", "retrain", "--force"], run_env, log)
            seconds = time.perf_counter() - started
            candidates = [d for d in registry.iterdir() if (d / "config.json").is_file()]
            if len(candidates) != 1:
                raise SystemExit(f"expected one candidate in {registry}, found {len(candidates)}; see {log}")
            report(candidates[0].name, candidates[0], args.hold_out, admin_url, labels=n, mode=args.mode,
                   label_classes=args.label_classes or "all",
                   retrain_seconds=round(seconds, 1), retrain=outcome.splitlines()[-1])
        finally:
            drop_database(admin_url, name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
