"""Texts in, predictions out (topic + sentiment), in input order; knows nothing of Kafka or SQL."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from monitor.model.devices import resolve_autocast, resolve_device
from monitor.model.errors import ModelLoadError
from monitor.model.inference import predict_probabilities, tokenize
from monitor.model.modeling import MultiTaskModel
from monitor.model.serialization import load_model

log = logging.getLogger(__name__)

Device = Literal["auto", "cpu", "cuda"]
Precision = Literal["auto", "fp32", "bf16"]


@dataclass(frozen=True)
class Prediction:
    topic: str
    topic_confidence: float
    sentiment: str
    sentiment_confidence: float
    p_negative: float
    p_neutral: float
    p_positive: float


class Predictor:
    """A loaded multi-task model ready to classify batches of texts."""

    def __init__(
        self,
        model: MultiTaskModel,
        tokenizer,
        *,
        version: str,
        device: torch.device,
        autocast_dtype: torch.dtype | None = None,
        max_length: int = 64,
        batch_size: int = 32,
    ) -> None:
        missing = {"topic", "sentiment"} - set(model.config.tasks)
        if missing:
            raise ModelLoadError(f"model {version} has no {', '.join(sorted(missing))} head; it cannot serve")
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.version = version
        self.device = device
        self.autocast_dtype = autocast_dtype
        self.max_length = max_length
        self.batch_size = batch_size
        self.topic_labels = list(model.config.tasks["topic"])
        self.sentiment_labels = list(model.config.tasks["sentiment"])

    @classmethod
    def from_directory(
        cls,
        path: str | Path,
        *,
        device: Device = "auto",
        precision: Precision = "auto",
        max_length: int = 64,
        batch_size: int = 32,
        threads: int | None = None,
    ) -> Predictor:
        if threads:
            torch.set_num_threads(threads)
        model, tokenizer = load_model(path)
        dev = resolve_device(device)
        version = model.config.version or Path(path).resolve().name
        log.info("model %s loaded from %s on %s (%s)", version, path, dev, precision)
        return cls(
            model,
            tokenizer,
            version=version,
            device=dev,
            autocast_dtype=resolve_autocast(precision, dev),
            max_length=max_length,
            batch_size=batch_size,
        )

    @classmethod
    def from_settings(cls, model_settings, path: str | Path | None = None) -> Predictor:
        """From the ``model`` settings section (directory, device, precision, max_length, threads)."""
        return cls.from_directory(
            path or model_settings.directory,
            device=model_settings.device,
            precision=model_settings.precision,
            max_length=model_settings.max_length,
            batch_size=model_settings.inference_batch_size,
            threads=model_settings.threads,
        )

    def predict_proba(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Probabilities per task (columns in the order of the model's label lists), in input order."""
        ids = tokenize(self.tokenizer, texts, self.max_length)
        return predict_probabilities(
            self.model,
            ids,
            pad_id=self.tokenizer.pad_token_id or 0,
            batch_size=self.batch_size,
            device=self.device,
            autocast_dtype=self.autocast_dtype,
        )

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        probs = self.predict_proba(texts)
        return [self._prediction(probs["topic"][i], probs["sentiment"][i]) for i in range(len(texts))]

    def _prediction(self, topic_p: np.ndarray, sent_p: np.ndarray) -> Prediction:
        t, s = int(topic_p.argmax()), int(sent_p.argmax())
        by_name = dict(zip(self.sentiment_labels, sent_p.tolist(), strict=True))
        return Prediction(
            topic=self.topic_labels[t],
            topic_confidence=float(topic_p[t]),
            sentiment=self.sentiment_labels[s],
            sentiment_confidence=float(sent_p[s]),
            p_negative=float(by_name.get("negative", 0.0)),
            p_neutral=float(by_name.get("neutral", 0.0)),
            p_positive=float(by_name.get("positive", 0.0)),
        )
