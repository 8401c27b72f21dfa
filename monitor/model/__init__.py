"""The multi-task model: shared encoder, topic and sentiment heads, training, evaluation, prediction.

Heavy names (torch, transformers) load on first use, so importing the label lists stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from monitor.model.errors import ModelLoadError, TrainingDataError
from monitor.model.labels import (
    SENTIMENT_LABELS,
    TOPIC_LABELS,
    normalize_label,
    normalize_sentiment,
    normalize_topic,
)
from monitor.model.prediction import TextPrediction

_LAZY = {
    "ModelConfig": "monitor.model.config",
    "MultiTaskModel": "monitor.model.modeling",
    "Predictor": "monitor.model.predictor",
    "load_model": "monitor.model.serialization",
    "save_model": "monitor.model.serialization",
    "TrainingArguments": "monitor.model.arguments",
    "PRESETS": "monitor.model.arguments",
    "train_model": "monitor.model.training",
    "TaskReport": "monitor.model.evaluation",
    "evaluate_task": "monitor.model.evaluation",
    "make_tiny_encoder": "monitor.model.testing",
    "make_tiny_model": "monitor.model.testing",
}

__all__ = [
    "PRESETS",
    "SENTIMENT_LABELS",
    "TOPIC_LABELS",
    "ModelConfig",
    "ModelLoadError",
    "MultiTaskModel",
    "TextPrediction",
    "Predictor",
    "TaskReport",
    "TrainingArguments",
    "TrainingDataError",
    "evaluate_task",
    "load_model",
    "make_tiny_encoder",
    "make_tiny_model",
    "normalize_label",
    "normalize_sentiment",
    "normalize_topic",
    "save_model",
    "train_model",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'monitor.model' has no attribute {name!r}")
