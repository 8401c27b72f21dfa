"""Streaming worker vs. the model alone, on the same texts; prints one JSON object per line.

    .venv/bin/python bench/throughput.py [--n 2000] [--model DIR] [--database-url URL] [--device cpu]
    .venv/bin/python bench/throughput.py --null-model [--n 30000] [--micro-batch 1024]

Figures: model-alone texts/s (the predictor called on the worker's micro-batches, and on all texts
at once), end-to-end committed texts/s (produce N, start a worker, time until all are stored), their
ratio, where the worker's time goes, produce→stored latency p50/p95/p99 at a steady rate below
capacity, and a one-message-at-a-time baseline (batches of one: one forward pass, one transaction,
one offset commit per message). With --null-model the predictor costs nothing and the run measures
the pipeline's ceiling instead, beside raw kafka-python consume and raw Postgres COPY (see ceiling.py).
Without --model it builds a MiniLM-L6 model with untrained heads
(speed does not depend on training). It starts its own embedded broker; Postgres is the local one
(a scratch database, dropped afterwards) unless --database-url names one.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from kafka import KafkaProducer
from sqlalchemy import Engine, text

from monitor.local import EmbeddedBroker, reachable_local_postgres
from monitor.local.postgres import create_database, drop_database
from monitor.settings import DatabaseSettings, KafkaSettings, Settings, StreamSettings
from monitor.store import make_engine, make_session_factory, migrate
from monitor.stream import StaticModelSource, build_worker, ensure_topic


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def load_texts(n: int) -> list[str]:
    """Real finance tweets (bundled topic validation split), repeated if n exceeds it."""
    from monitor.datasets import path

    with open(path("twitter-fin-topic/valid.csv"), encoding="utf-8", newline="") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    return [texts[i % len(texts)] for i in range(n)]


def build_untrained_minilm(directory: Path, shape: Path | None = None) -> Path:
    """MiniLM-L6 backbone + randomly initialised heads, saved as a servable model directory.

    With ``shape`` (a folder holding the backbone's config.json and tokenizer files, no weights) the
    encoder is built from its config with random weights: the same network, the same speed, for
    machines the 84 MB weights package cannot be brought to.
    """
    from monitor.model.backbone import load_backbone
    from monitor.model.config import ModelConfig
    from monitor.model.labels import TASK_LABELS
    from monitor.model.modeling import MultiTaskModel
    from monitor.model.serialization import save_model

    if shape is not None:
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        encoder = AutoModel.from_config(AutoConfig.from_pretrained(shape))
        tokenizer, name = AutoTokenizer.from_pretrained(shape), "sentence-transformers/all-MiniLM-L6-v2"
    else:
        encoder, tokenizer, name = load_backbone(None)
    config = ModelConfig(
        backbone=name, tasks={t: list(v) for t, v in TASK_LABELS.items()}, version="minilm-untrained-bench"
    )
    return save_model(MultiTaskModel(config, encoder), tokenizer, directory)


def model_alone(predictor: Any, texts: Sequence[str], micro_batch: int) -> float:
    """Texts/s of the predictor called on the worker's micro-batches, in arrival order."""
    started = time.perf_counter()
    for i in range(0, len(texts), micro_batch):
        predictor.predict(texts[i : i + micro_batch])
    return len(texts) / (time.perf_counter() - started)


@contextmanager
def database(url: str | None) -> Iterator[Engine]:
    admin = None
    with ExitStack() as stack:
        if url is None:
            admin = reachable_local_postgres() or _embedded_postgres(stack)
            name = f"monitor_bench_{uuid.uuid4().hex[:8]}"
            url = create_database(admin, name)
        migrate.upgrade(url)
        engine = make_engine(DatabaseSettings(url=url))
        try:
            yield engine
        finally:
            engine.dispose()
            if admin is not None:
                drop_database(admin, name)


def _embedded_postgres(stack: ExitStack) -> str:
    """No Postgres on 127.0.0.1:5432 (a bare GPU machine): a private one from the pgserver package."""
    from monitor.local import EmbeddedPostgres

    data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-pg-")))
    return stack.enter_context(EmbeddedPostgres(data)).admin_url


class Bench:
    def __init__(self, args: argparse.Namespace, predictor: Any, broker: EmbeddedBroker, engine: Engine):
        self.args, self.predictor, self.broker, self.engine = args, predictor, broker, engine

    def settings(self, topic: str, batch_size: int) -> Settings:
        kafka = KafkaSettings(
            bootstrap_servers=self.broker.bootstrap_servers,
            input_topic=topic,
            dead_letter_topic=f"{topic}.dlq",
            consumer_group=f"g-{topic}",
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000,
            max_poll_interval_ms=20000,
        )
        return Settings(
            kafka=kafka,
            database=DatabaseSettings(url=self.engine.url.render_as_string(hide_password=False)),
            metrics={"port": 0},
            stream={
                "max_batch_size": batch_size,
                "max_wait_ms": self.args.max_wait_ms,
                "overlap": not self.args.serial,
            },
        )

    def topic(self, name: str) -> str:
        topic = f"bench-{name}-{uuid.uuid4().hex[:6]}"
        ensure_topic(KafkaSettings(bootstrap_servers=self.broker.bootstrap_servers), topic, self.args.partitions)
        return topic

    def produce(self, topic: str, texts: Sequence[str], rate: float | None = None) -> None:
        producer = KafkaProducer(bootstrap_servers=self.broker.bootstrap_servers, linger_ms=5, acks="all")
        started = time.perf_counter()
        for i, t in enumerate(texts):
            if rate is not None:
                delay = started + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            producer.send(topic, json.dumps({"id": f"{topic}-{i}", "text": t, "sent_at": time.time()}).encode())
        producer.flush()
        producer.close()

    def run_worker(self, topic: str, batch_size: int, until: int, during: Any = None) -> dict[str, float]:
        """Run a worker in the main thread, as ``monitor worker`` does (torch runs slower in other
        threads), until ``until`` messages are written; ``during`` runs in a thread once it joined."""
        settings = self.settings(topic, batch_size)
        worker = build_worker(settings, StaticModelSource(self.predictor), make_session_factory(self.engine))
        times: dict[str, float] = {}

        def watch() -> None:
            started = time.perf_counter()
            while not worker.assignment():
                time.sleep(0.005)
            times["joined"] = time.perf_counter()
            times["join_s"] = times["joined"] - started
            if during is not None:
                during()
            while worker.metrics.totals.stored + worker.metrics.totals.duplicates < until:
                time.sleep(0.005)
            times["wall_s"] = time.perf_counter() - times["joined"]
            worker.stop()

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        worker.run()
        watcher.join()
        sample = worker.metrics.registry.get_sample_value
        times["inference_s"] = sample("monitor_worker_inference_seconds_sum")
        times["batch_s"] = sample("monitor_worker_batch_seconds_sum")
        times["batches"] = sample("monitor_worker_batch_size_count")
        s = worker.seconds
        times |= {"prepare_s": s.prepare, "finish_s": s.finish, "waiting_s": s.waiting, "write_s": worker.store_seconds}
        return times

    def drain(self, name: str, texts: Sequence[str], batch_size: int) -> dict[str, Any]:
        """Produce everything first, then time a fresh worker from joining the group to all stored."""
        topic = self.topic(name)
        self.produce(topic, texts)
        t = self.run_worker(topic, batch_size, len(texts))
        wall = t["wall_s"]
        return {
            "texts_per_s": len(texts) / wall,
            "wall_s": wall,
            "group_join_s": t["join_s"],
            "batches": t["batches"],
            "overlap": not self.args.serial,
            # The consumer thread: validate (+ infer) and format the COPY rows, dead letters + offset commit,
            # blocked on the store, the rest (poll, batching); the store thread's writing time apart (it
            # overlaps the consumer's).
            "time_share": {
                "inference": t["inference_s"] / wall,
                "validate_and_format": (t["prepare_s"] - t["inference_s"]) / wall,
                "dead_letters_and_commit": t["finish_s"] / wall,
                "waiting_for_store": t["waiting_s"] / wall,
                "poll_and_rest": (wall - t["prepare_s"] - t["finish_s"] - t["waiting_s"]) / wall,
                "store_thread_writing": t["write_s"] / wall,
            },
        }

    def latency(self, texts: Sequence[str], rate: float, batch_size: int) -> dict[str, Any]:
        topic = self.topic("latency")
        self.run_worker(topic, batch_size, len(texts), during=lambda: self.produce(topic, texts, rate))
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "select extract(epoch from p.created_at) - (a.extra->>'sent_at')::float "
                    "from articles a join predictions p on p.article_id = a.id where a.kafka_topic = :t"
                ),
                {"t": topic},
            )
            ms = sorted(1000 * r[0] for r in rows)
        q = statistics.quantiles(ms, n=100)
        return {"rate_per_s": rate, "n": len(ms), "p50_ms": q[49], "p95_ms": q[94], "p99_ms": q[98]}


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=None, help="texts for the throughput runs (2000; 30000 with --null-model)")
    p.add_argument("--null-model", action="store_true", help="a predictor that costs nothing: the pipeline ceiling")
    p.add_argument("--processes", type=int, nargs="*", default=[], help="with --null-model: also N worker processes")
    p.add_argument("--null-worker", action="store_true", help=argparse.SUPPRESS)  # a child of --processes
    p.add_argument("--model", type=Path, help="model directory (default: MiniLM-L6 with untrained heads)")
    p.add_argument("--backbone-shape", type=Path, help="MiniLM config + tokenizer folder: random weights, same speed")
    p.add_argument("--database-url", help="Postgres database to use (default: a scratch one on localhost)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto")
    p.add_argument("--batch-size", type=int, help="most texts per forward pass (default: the device's, 32 on CPU)")
    p.add_argument("--max-tokens", type=int, help="token budget per forward pass (default: the device's)")
    p.add_argument(
        "--micro-batch",
        type=int,
        help="the worker's flush size (default: the device's, 128 on CPU, 1024 on CUDA); sorted by length, "
        "then cut into forward passes",
    )
    p.add_argument("--max-wait-ms", type=int, default=StreamSettings().max_wait_ms,
                   help="the worker's flush deadline (default: MONITOR_STREAM__MAX_WAIT_MS's default)")
    p.add_argument("--serial", action="store_true", help="no overlap: each batch committed before the next poll")
    p.add_argument("--partitions", type=int, default=3)
    p.add_argument("--baseline-n", type=int, default=300, help="texts for the one-at-a-time baseline")
    p.add_argument("--rounds", type=int, default=2, help="model-alone / end-to-end pairs")
    p.add_argument("--latency-seconds", type=float, default=20.0)
    p.add_argument("--latency-load", type=float, default=0.5, help="steady rate as a share of model-alone")
    return p.parse_args()


def main() -> None:
    args = parse()
    args.micro_batch = args.micro_batch or default_flush(args.device)
    if args.null_worker:
        from ceiling import null_worker_main

        return null_worker_main()
    if args.null_model:
        args.n = args.n or 30000
        return pipeline_ceiling(args)
    args.n = args.n or 2000
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from monitor.model.predictor import Predictor

    texts = load_texts(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model or build_untrained_minilm(Path(tmp) / "minilm-untrained", args.backbone_shape)
        predictor = Predictor.from_directory(
            model_dir,
            device=args.device,
            precision=args.precision,
            max_length=64,
            batch_size=args.batch_size,
            max_tokens=args.max_tokens,
        )
        args.batch_size, args.max_tokens = predictor.batch_size, predictor.max_tokens
        import torch

        emit(
            event="setup",
            model=str(model_dir),
            version=predictor.version,
            device=str(predictor.device),
            precision=args.precision,
            torch_threads=torch.get_num_threads(),
            cpus=os.cpu_count(),
            load_average=os.getloadavg(),
            n=args.n,
            batch_size=args.batch_size,
            max_tokens=args.max_tokens,
            micro_batch=args.micro_batch,
        )
        predictor.predict(texts[: args.batch_size * 2])  # warm-up
        with EmbeddedBroker() as broker, database(args.database_url) as engine:
            bench = Bench(args, predictor, broker, engine)
            rounds = [run_round(bench, predictor, texts, args.micro_batch, r) for r in range(args.rounds)]
            whole = model_alone(predictor, texts, len(texts))  # one call: sorted over all texts
            one = bench.drain("one-at-a-time", texts[: args.baseline_n], 1)
            emit(event="one_at_a_time", **one)
            alone = statistics.median(r["model_alone"] for r in rounds)
            e2e = statistics.median(r["end_to_end"] for r in rounds)
            emit(
                event="summary",
                model_alone_texts_per_s=alone,
                model_alone_all_texts_in_one_call_texts_per_s=whole,
                end_to_end_texts_per_s=e2e,
                one_at_a_time_texts_per_s=one["texts_per_s"],
                e2e_vs_model_alone=statistics.median(r["ratio"] for r in rounds),
                pipeline_efficiency=statistics.median(r["efficiency"] for r in rounds),
                e2e_vs_one_at_a_time=e2e / one["texts_per_s"],
                load_average=os.getloadavg(),
            )
            rate = args.latency_load * alone
            lat_texts = load_texts(int(rate * args.latency_seconds))
            latency = bench.latency(lat_texts, rate, args.micro_batch)
            emit(event="latency", **latency, load_average=os.getloadavg())


def default_flush(device: str) -> int:
    from monitor.model.devices import CPU_BATCHING, CUDA_BATCHING, resolve_device

    return (CUDA_BATCHING if resolve_device(device).type == "cuda" else CPU_BATCHING).flush_size


def pipeline_ceiling(args: argparse.Namespace) -> None:
    """Null model end to end, raw consume and raw COPY, all on the same texts in the same run."""
    from ceiling import NullPredictor, crc_path, drain_processes, load, raw_consume, raw_copy

    from monitor.stream.clients import fetch_options

    texts = load_texts(args.n)
    emit(event="setup", mode="null-model", n=args.n, micro_batch=args.micro_batch, cpus=os.cpu_count(),
         kafka_crc32c=crc_path(), load_average=load())
    with EmbeddedBroker() as broker, database(args.database_url) as engine:
        bench = Bench(args, NullPredictor(), broker, engine)
        topic = bench.topic("raw")
        bench.produce(topic, texts)
        fetch = fetch_options(args.micro_batch)
        consume = raw_consume(broker.bootstrap_servers, topic, len(texts), fetch)
        emit(event="raw_consume", msgs_per_s=consume, fetch=fetch, load_average=load())
        no_crc = raw_consume(broker.bootstrap_servers, topic, len(texts), fetch, check_crcs=False)
        emit(event="raw_consume_without_crc_checks", msgs_per_s=no_crc, load_average=load())
        copy = raw_copy(engine, texts)
        emit(event="raw_copy", rows_per_s=copy, load_average=load())
        rates = []
        for r in range(args.rounds):
            e2e = bench.drain(f"null{r}", texts, args.micro_batch)
            rates.append(e2e["texts_per_s"])
            emit(event="round", round=r, **e2e, load_average=load())
        for n in args.processes:
            procs = drain_processes(bench, f"procs{n}", texts, args.micro_batch, n)
            emit(event="processes", **procs, load_average=load())
        ceiling = statistics.median(rates)
        emit(event="summary", mode="null-model", ceiling_msgs_per_s=ceiling, raw_consume_msgs_per_s=consume,
             ceiling_vs_raw_consume=ceiling / consume, raw_copy_rows_per_s=copy, load_average=load())


def run_round(bench: Bench, predictor: Any, texts: Sequence[str], batch_size: int, index: int) -> dict:
    """Model alone, end to end, model alone again: the CPU is shared, so compare neighbours only."""
    before = model_alone(predictor, texts, batch_size)
    e2e = bench.drain(f"e2e{index}", texts, batch_size)
    after = model_alone(predictor, texts, batch_size)
    alone = (before + after) / 2
    result = {
        "model_alone": alone,
        "end_to_end": e2e["texts_per_s"],
        "ratio": e2e["texts_per_s"] / alone,
        # Share of the worker's wall time spent in the model: the ratio without the noise of other load.
        "efficiency": e2e["time_share"]["inference"],
    }
    emit(event="round", round=index, model_alone_before=before, model_alone_after=after, **e2e, **result)
    return result


if __name__ == "__main__":
    main()
