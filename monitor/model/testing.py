"""Tiny random models for fast tests anywhere in the project (real tokenizer, 2-layer 32-wide encoder)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
from transformers import AutoTokenizer, BertConfig, BertModel, PreTrainedTokenizerBase

from monitor.model.backbone import default_backbone
from monitor.model.config import ModelConfig
from monitor.model.labels import TASK_LABELS
from monitor.model.modeling import MultiTaskModel
from monitor.model.serialization import save_model


@lru_cache(maxsize=1)
def _minilm_tokenizer() -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(str(default_backbone()), local_files_only=True)


def _tiny_bert(seed: int) -> BertModel:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=_minilm_tokenizer().vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    return BertModel(config)


def make_tiny_encoder(directory: str | Path, seed: int = 0) -> Path:
    """A randomly initialised tiny BERT + the MiniLM tokenizer; loads with ``AutoModel``, offline."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _tiny_bert(seed).save_pretrained(str(directory))
    _minilm_tokenizer().save_pretrained(str(directory))
    return directory


def make_tiny_model(directory: str | Path, version: str = "tiny-1", seed: int = 0) -> Path:
    """A complete (untrained) multi-task model directory that ``Predictor.from_directory`` loads."""
    config = ModelConfig(
        backbone="tiny-random-bert",
        tasks={task: list(labels) for task, labels in TASK_LABELS.items()},
        version=version,
        training={"note": "random weights for tests; predictions are meaningless"},
    )
    model = MultiTaskModel(config, _tiny_bert(seed))
    return save_model(model, _minilm_tokenizer(), directory)
