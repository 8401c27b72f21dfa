"""The network: one shared Hugging Face encoder, pooling, dropout and one linear head per task."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from transformers import PreTrainedModel

from monitor.model.config import ModelConfig
from monitor.model.losses import UncertaintyWeighting


def mean_pool(hidden: Tensor, attention_mask: Tensor) -> Tensor:
    """Average of the real (unpadded) token vectors; MiniLM-L6 was trained with this pooling."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


class MultiTaskModel(nn.Module):
    """One encoder pass gives the logits of every task."""

    def __init__(self, config: ModelConfig, encoder: PreTrainedModel) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(config.dropout)
        self.heads = nn.ModuleDict({task: nn.Linear(hidden, len(labels)) for task, labels in config.tasks.items()})
        # Always present so every model has the same state-dict layout; only trained when configured.
        self.uncertainty = UncertaintyWeighting(list(config.tasks))

    @property
    def tasks(self) -> list[str]:
        return list(self.config.tasks)

    def embed(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        hidden = out.last_hidden_state
        if self.config.pooling == "cls":
            return hidden[:, 0]
        return mean_pool(hidden, attention_mask)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> dict[str, Tensor]:
        pooled = self.dropout(self.embed(input_ids, attention_mask))
        return {task: head(pooled) for task, head in self.heads.items()}

    def head_parameters(self) -> list[nn.Parameter]:
        return [*self.heads.parameters(), *self.uncertainty.parameters()]


def freeze_lower_layers(encoder: PreTrainedModel, n_layers: int) -> int:
    """Freeze the embeddings and the lowest ``n_layers`` blocks (cheaper backward); returns blocks frozen."""
    if n_layers <= 0:
        return 0
    embeddings = getattr(encoder, "embeddings", None)
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    if embeddings is None or layers is None:
        return 0  # not a BERT-like layout: train everything rather than guess
    for param in embeddings.parameters():
        param.requires_grad_(False)
    for block in list(layers)[:n_layers]:
        for param in block.parameters():
            param.requires_grad_(False)
    return min(n_layers, len(layers))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def set_seed(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
