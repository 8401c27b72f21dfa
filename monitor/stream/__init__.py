"""The streaming path: Kafka → validated micro-batches → predictions → Postgres, with dead letters."""

from monitor.stream.batching import BatchPolicy, RecordBatch
from monitor.stream.clients import ensure_topic, make_consumer, make_producer
from monitor.stream.deadletter import DeadLetter, DeadLetterQueue, dead_letter_headers
from monitor.stream.errors import Backpressure, InvalidMessage, StoreRejected
from monitor.stream.message import MessageLimits, NewsMessage, Reason, parse_message
from monitor.stream.model_source import ModelSource, PredictorLike, StaticModelSource
from monitor.stream.runner import build_worker, run_worker
from monitor.stream.sink import PostgresSink, ScoredArticle
from monitor.stream.worker import StreamWorker

__all__ = [
    "Backpressure",
    "BatchPolicy",
    "DeadLetter",
    "DeadLetterQueue",
    "InvalidMessage",
    "MessageLimits",
    "ModelSource",
    "PredictorLike",
    "NewsMessage",
    "PostgresSink",
    "Reason",
    "RecordBatch",
    "ScoredArticle",
    "StaticModelSource",
    "StoreRejected",
    "StreamWorker",
    "build_worker",
    "dead_letter_headers",
    "ensure_topic",
    "make_consumer",
    "make_producer",
    "parse_message",
    "run_worker",
]
