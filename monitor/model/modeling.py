"""The network: one shared Hugging Face encoder, pooling, dropout and one linear head per task."""

from __future__ import annotations

import copy

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
        return self.pool(out.last_hidden_state, attention_mask)

    def pool(self, hidden: Tensor, attention_mask: Tensor) -> Tensor:
        if self.config.pooling == "cls":
            return hidden[:, 0]
        return mean_pool(hidden, attention_mask)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> dict[str, Tensor]:
        return self.classify(self.embed(input_ids, attention_mask))

    def classify(self, pooled: Tensor) -> dict[str, Tensor]:
        pooled = self.dropout(pooled)
        return {task: head(pooled) for task, head in self.heads.items()}

    def head_parameters(self) -> list[nn.Parameter]:
        return [*self.heads.parameters(), *self.uncertainty.parameters()]


def frozen_block_count(encoder: PreTrainedModel, freeze_layers: int) -> int:
    """Blocks that ``freeze_layers`` freezes in ``encoder``: that many from the bottom, or with a negative value
    all but the top ``-freeze_layers`` (-1: every block but the last, whatever the depth). 0 for an encoder
    without a BERT-like block list."""
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    if layers is None or getattr(encoder, "embeddings", None) is None or freeze_layers == 0:
        return 0
    n = len(layers)
    return min(n, freeze_layers) if freeze_layers > 0 else max(0, n + freeze_layers)


def freeze_lower_layers(encoder: PreTrainedModel, n_layers: int) -> int:
    """Freeze the embeddings and the lowest blocks (see :func:`frozen_block_count`; cheaper backward); returns
    blocks frozen."""
    embeddings = getattr(encoder, "embeddings", None)
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    if n_layers == 0 or embeddings is None or layers is None:
        return 0  # nothing asked, or not a BERT-like layout: train everything rather than guess
    n_layers = frozen_block_count(encoder, n_layers)
    for param in embeddings.parameters():
        param.requires_grad_(False)
    for block in list(layers)[:n_layers]:
        for param in block.parameters():
            param.requires_grad_(False)
    return n_layers


class _GivenEmbeddings(nn.Module):
    """Stands in for the embedding layer of an upper encoder: its input already is a hidden state."""

    def forward(self, input_ids=None, inputs_embeds=None, **_: object) -> Tensor:
        return inputs_embeds


def _with_layers(encoder: PreTrainedModel, layers: list[nn.Module], *, given_embeddings: bool) -> PreTrainedModel:
    """A view of ``encoder`` running only ``layers`` (the very same modules, so training one trains both)."""
    view = copy.copy(encoder)
    view._modules = dict(encoder._modules)
    stack = copy.copy(encoder.encoder)
    stack._modules = dict(encoder.encoder._modules)
    stack.layer = nn.ModuleList(layers)
    view.encoder = stack
    if given_embeddings:
        view.embeddings = _GivenEmbeddings()
    return view


class SplitEncoder:
    """A BERT-like encoder cut after block ``at``: ``lower`` maps token ids to the hidden state after that
    block, ``upper`` continues from such a state to the last hidden state. With the lower part frozen, its
    output can be computed once per text and training then runs only the upper blocks (``TrainingLoop``)."""

    def __init__(self, encoder: PreTrainedModel, at: int) -> None:
        layers = list(encoder.encoder.layer)
        if not 0 < at < len(layers):
            raise ValueError(f"cannot cut a {len(layers)}-block encoder after block {at}")
        self.at = at
        self._lower = _with_layers(encoder, layers[:at], given_embeddings=False)
        self._upper = _with_layers(encoder, layers[at:], given_embeddings=True)

    @staticmethod
    def supports(encoder: PreTrainedModel) -> bool:
        return hasattr(getattr(encoder, "encoder", None), "layer") and hasattr(encoder, "embeddings")

    def lower(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        return self._lower(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def upper(self, hidden: Tensor, attention_mask: Tensor) -> Tensor:
        return self._upper(inputs_embeds=hidden, attention_mask=attention_mask).last_hidden_state


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def set_seed(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
