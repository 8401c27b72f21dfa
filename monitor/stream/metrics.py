"""The worker's Prometheus metrics, on a registry of its own (several workers can share a process)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, start_http_server

from monitor.errors import ConfigError

log = logging.getLogger(__name__)

BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class Totals:
    """Plain running totals, for the heartbeat row (Prometheus counters are write-only by design)."""

    messages_in: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_lettered: int = 0


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.totals = Totals()
        r = self.registry
        self.messages_in = Counter("monitor_worker_messages_in", "Messages polled from Kafka.", registry=r)
        self.stored = Counter("monitor_worker_messages_stored", "Articles newly stored.", registry=r)
        self.duplicates = Counter(
            "monitor_worker_messages_duplicate", "Valid messages already stored (redeliveries).", registry=r
        )
        self.dead_lettered = Counter(
            "monitor_worker_messages_dead_lettered",
            "Messages sent to the dead-letter topic.",
            ["reason"],
            registry=r,
        )
        self.backpressure = Counter(
            "monitor_worker_backpressure", "Batches given back because a store refused them.", registry=r
        )
        self.batch_size = Histogram(
            "monitor_worker_batch_size", "Messages per flushed batch.", buckets=BATCH_SIZE_BUCKETS, registry=r
        )
        self.batch_seconds = Histogram(
            "monitor_worker_batch_seconds",
            "Validate + infer + store + commit, per batch.",
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.inference_seconds = Histogram(
            "monitor_worker_inference_seconds", "Model time per batch.", buckets=SECONDS_BUCKETS, registry=r
        )
        self.lag = Gauge(
            "monitor_worker_consumer_lag",
            "Messages behind the partition's end.",
            ["topic", "partition"],
            registry=r,
        )
        self.paused = Gauge(
            "monitor_worker_paused", "1 while the partitions are paused because a store refused a batch.", registry=r
        )
        self.batch_failures = Counter(
            "monitor_worker_batch_failures",
            "Batches in which the model or the store failed every message, a known-good one included.",
            registry=r,
        )
        self.breaker_open = Gauge(
            "monitor_worker_breaker_open",
            "1 once the worker stopped after consecutive whole-batch failures (offsets left uncommitted).",
            registry=r,
        )
        self.model = Info("monitor_worker_model", "The model version in use.", registry=r)
        self._server = None

    def count_in(self, n: int) -> None:
        self.messages_in.inc(n)
        self.totals.messages_in += n

    def count_written(self, new: int, duplicate: int) -> None:
        self.stored.inc(new)
        self.duplicates.inc(duplicate)
        self.totals.stored += new
        self.totals.duplicates += duplicate

    def count_dead_letter(self, reason: str) -> None:
        self.dead_lettered.labels(reason=reason).inc()
        self.totals.dead_lettered += 1

    def set_model(self, version: str) -> None:
        self.model.info({"version": version})

    def set_lag(self, lag: Mapping[tuple[str, int], int]) -> None:
        self.lag.clear()  # partitions revoked since the last update must not linger
        for (topic, partition), value in lag.items():
            self.lag.labels(topic=topic, partition=str(partition)).set(value)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Expose ``/metrics`` on ``host:port`` (port 0 = off); loopback unless told otherwise."""
        if port == 0:
            return
        try:
            self._server, _ = start_http_server(port, addr=host, registry=self.registry)
        except (OSError, UnicodeError) as exc:  # in use, not an address of this host, or not a host name
            raise ConfigError(
                f"cannot serve metrics on {host}:{port} ({exc}); set MONITOR_METRICS__HOST to an address of "
                "this host and MONITOR_METRICS__PORT to a free port, or the port to 0 to turn the endpoint off"
            ) from None
        log.info("metrics on http://%s:%d/metrics", f"[{host}]" if ":" in host else host, port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
