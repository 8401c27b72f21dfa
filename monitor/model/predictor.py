"""Texts in, predictions out (topic + sentiment), in input order; knows nothing of Kafka or SQL."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from monitor.model.devices import Batching, resolve_batching, resolve_device, resolve_precision
from monitor.model.errors import ModelLoadError
from monitor.model.inference import Tokenizer, predict_probabilities
from monitor.model.modeling import MultiTaskModel
from monitor.model.prediction import TextPrediction
from monitor.model.serialization import load_model

log = logging.getLogger(__name__)

Device = Literal["auto", "cpu", "cuda"]
Precision = Literal["auto", "fp32", "bf16", "bf16-weights"]


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
        weights_dtype: torch.dtype = torch.float32,
        max_length: int = 64,
        batch_size: int = 32,
        max_tokens: int | None = None,
    ) -> None:
        missing = {"topic", "sentiment"} - set(model.config.tasks)
        if missing:
            raise ModelLoadError(f"model {version} has no {', '.join(sorted(missing))} head; it cannot serve")
        self.model = model.to(device=device, dtype=weights_dtype).eval()
        self.tokenizer = tokenizer
        self.tokenize = Tokenizer(tokenizer, max_length, model.config.text_preprocessing)
        self.version = version
        self.device = device
        self.autocast_dtype = autocast_dtype
        self.max_length = max_length
        self.batch_size = batch_size
        self.max_tokens = max_tokens
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
        batch_size: int | None = None,
        max_tokens: int | None = None,
        threads: int | None = None,
    ) -> Predictor:
        """``batch_size`` / ``max_tokens`` None: the device's defaults (see :mod:`monitor.model.devices`)."""
        if threads:
            torch.set_num_threads(threads)
        model, tokenizer = load_model(path)
        dev = resolve_device(device)
        prec = resolve_precision(precision, dev)
        version = model.config.version or Path(path).resolve().name
        batching = _batching(dev, max_length, batch_size, max_tokens)
        log.info(
            "model %s loaded from %s on %s (%s, passes of <= %d texts / %d tokens)",
            version, path, dev, prec, batching.max_rows, batching.max_tokens,
        )
        return cls(
            model,
            tokenizer,
            version=version,
            device=dev,
            autocast_dtype=prec.autocast,
            weights_dtype=prec.weights,
            max_length=max_length,
            batch_size=batching.max_rows,
            max_tokens=batching.max_tokens,
        )

    @classmethod
    def from_settings(cls, model_settings, path: str | Path | None = None) -> Predictor:
        """From the ``model`` settings section (directory, device, precision, batch sizes, threads)."""
        batching = resolve_batching(model_settings)
        return cls.from_directory(
            path or model_settings.directory,
            device=model_settings.device,
            precision=model_settings.precision,
            max_length=model_settings.max_length,
            batch_size=batching.max_rows,
            max_tokens=batching.max_tokens,
            threads=model_settings.threads,
        )

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text: the CPU half of a prediction, safe to run in another thread while
        :meth:`predict_encoded` runs the previous batch (the Rust tokenizer releases the GIL)."""
        return self.tokenize(texts)

    def predict_encoded(self, ids: Sequence[Sequence[int]]) -> dict[str, np.ndarray]:
        return predict_probabilities(
            self.model,
            ids,
            pad_id=self.tokenize.pad_id,
            batch_size=self.batch_size,
            max_tokens=self.max_tokens,
            device=self.device,
            autocast_dtype=self.autocast_dtype,
        )

    def predict_proba(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Probabilities per task (columns in the order of the model's label lists), in input order."""
        return self.predict_encoded(self.encode(texts))

    def predict(self, texts: Sequence[str]) -> list[TextPrediction]:
        return self.predictions(self.predict_proba(texts))

    def predictions(self, probs: dict[str, np.ndarray]) -> list[TextPrediction]:
        return [self._prediction(t, s) for t, s in zip(probs["topic"], probs["sentiment"], strict=True)]

    def _prediction(self, topic_p: np.ndarray, sent_p: np.ndarray) -> TextPrediction:
        t, s = int(topic_p.argmax()), int(sent_p.argmax())
        by_name = dict(zip(self.sentiment_labels, sent_p.tolist(), strict=True))
        return TextPrediction(
            topic=self.topic_labels[t],
            topic_confidence=float(topic_p[t]),
            sentiment=self.sentiment_labels[s],
            sentiment_confidence=float(sent_p[s]),
            p_negative=float(by_name.get("negative", 0.0)),
            p_neutral=float(by_name.get("neutral", 0.0)),
            p_positive=float(by_name.get("positive", 0.0)),
        )


def _batching(device: torch.device, max_length: int, rows: int | None, tokens: int | None) -> Batching:
    from types import SimpleNamespace

    auto = SimpleNamespace(
        device=device.type, max_length=max_length, max_batch_size="auto",
        inference_batch_size=rows or "auto", max_tokens=tokens or "auto",
    )
    return resolve_batching(auto, device)
