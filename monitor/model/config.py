"""The model directory's ``config.json``: everything needed to rebuild the network offline."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args

from monitor.model.errors import ModelLoadError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT = "fin-news-monitor/multitask-v1"

Pooling = Literal["mean", "cls"]
LossWeighting = Literal["fixed", "uncertainty"]
TextPreprocessing = Literal["none", "strip_links", "strip_links+name_symbols"]


@dataclass
class ModelConfig:
    """Architecture and provenance of a multi-task model; label lists live here, not in code."""

    backbone: str
    tasks: dict[str, list[str]]
    encoder: dict[str, Any] = field(default_factory=dict)  # the HF encoder config, so no backbone is needed to load
    pooling: Pooling = "mean"
    max_length: int = 64
    dropout: float = 0.1
    loss_weighting: LossWeighting = "fixed"
    loss_weights: dict[str, float] = field(default_factory=dict)
    version: str = ""
    library_versions: dict[str, str] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, Any] = field(default_factory=dict)
    # Temperature per task head, fitted on the dev slice after training; the predictor divides that head's
    # logits by it before the softmax. Absent (older directories) means 1.0: raw probabilities.
    temperatures: dict[str, float] = field(default_factory=dict)
    # What is done to a text before the tokenizer, at training and serving alike. strip_links drops URLs
    # (t.co links are random strings: about 16 tokens of noise per finance tweet); name_symbols writes emoji
    # and other symbols as words (monitor.model.symbols). Absent (older directories) means none: those models
    # were trained on raw texts and are served raw.
    text_preprocessing: TextPreprocessing = "none"
    format: str = FORMAT

    def task_weight(self, task: str) -> float:
        return float(self.loss_weights.get(task, 1.0))

    def temperature(self, task: str) -> float:
        return float(self.temperatures.get(task, 1.0))

    def save(self, directory: Path) -> Path:
        path = Path(directory) / CONFIG_NAME
        path.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, directory: Path) -> ModelConfig:
        path = Path(directory) / CONFIG_NAME
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelLoadError(
                f"{path} not found; is {directory} a model directory written by `monitor train`?"
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelLoadError(f"{path} is not valid JSON ({exc}); retrain or restore the model") from None
        raw = raw if isinstance(raw, dict) else {}  # a JSON list or number is no config either
        if raw.get("format") != FORMAT or "tasks" not in raw:
            raise ModelLoadError(
                f"{path} is not a multi-task model config (format {raw.get('format')!r}); "
                "point at a directory written by `monitor train`"
            )
        preprocessing = raw.get("text_preprocessing", "none")
        if preprocessing not in get_args(TextPreprocessing):
            raise ModelLoadError(
                f"{path}: text_preprocessing {preprocessing!r} is unknown to this release (it knows "
                f"{', '.join(get_args(TextPreprocessing))}); serve it with the release that trained it, or retrain"
            )
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})


def library_versions() -> dict[str, str]:
    """Versions that produced a model, recorded for anyone debugging a changed prediction later."""
    import platform

    import safetensors
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "safetensors": safetensors.__version__,
    }
