"""Honest in-memory stand-ins for unit tests: a deterministic predictor and Kafka-like records."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.model.labels import SENTIMENT_LABELS, TOPIC_LABELS
from monitor.model.prediction import TextPrediction


def fake_prediction(text: str) -> TextPrediction:
    """Deterministic in the text: topic from a hash, sentiment from a few words."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    lowered = text.lower()
    if any(w in lowered for w in ("falls", "plunge", "loss", "miss")):
        probs = (0.8, 0.15, 0.05)
    elif any(w in lowered for w in ("rises", "beat", "record", "surge")):
        probs = (0.05, 0.15, 0.8)
    else:
        probs = (0.1, 0.8, 0.1)
    best = max(range(3), key=probs.__getitem__)
    return TextPrediction(
        topic=TOPIC_LABELS[digest[0] % len(TOPIC_LABELS)],
        topic_confidence=0.5 + digest[1] / 512,
        sentiment=SENTIMENT_LABELS[best],
        sentiment_confidence=probs[best],
        p_negative=probs[0],
        p_neutral=probs[1],
        p_positive=probs[2],
    )


@dataclass
class FakePredictor:
    """Predicts like a model would (one result per text, in order); raises on texts containing ``poison``."""

    version: str = "fake-1"
    poison: str | None = None
    calls: list[int] = field(default_factory=list)

    def predict(self, texts: Sequence[str]) -> list[TextPrediction]:
        self.calls.append(len(texts))
        if self.poison is not None and any(self.poison in t for t in texts):
            raise RuntimeError("the model choked on a poison text")
        return [fake_prediction(t) for t in texts]


@dataclass
class FakeRecord:
    """The fields of a kafka-python ConsumerRecord that the worker reads."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def records(values: Sequence[Any], topic: str = "news", partition: int = 0, start: int = 0) -> list[Any]:
    return [FakeRecord(topic, partition, start + i, v) for i, v in enumerate(values)]
