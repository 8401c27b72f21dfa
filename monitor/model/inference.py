"""Batched inference: tokenize once, sort by length, pad per sub-batch, restore the input order."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from monitor.model.modeling import MultiTaskModel


def tokenize(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids per text, unpadded (padding happens per sub-batch, to that sub-batch's longest)."""
    if not texts:
        return []
    enc = tokenizer(list(texts), truncation=True, max_length=max_length, padding=False)
    return enc["input_ids"]


def pad_batch(ids: Sequence[Sequence[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(row) for row in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return input_ids.to(device), mask.to(device)


def autocast_for(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def predict_probabilities(
    model: MultiTaskModel,
    token_ids: Sequence[Sequence[int]],
    *,
    pad_id: int,
    batch_size: int = 32,
    device: torch.device | None = None,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, np.ndarray]:
    """Softmax probabilities per task, rows in the order of ``token_ids``."""
    device = device or next(model.parameters()).device
    n = len(token_ids)
    out = {task: np.zeros((n, len(labels)), dtype=np.float32) for task, labels in model.config.tasks.items()}
    if n == 0:
        return out
    order = sorted(range(n), key=lambda i: len(token_ids[i]))  # similar lengths share a sub-batch
    was_training = model.training
    model.eval()
    with torch.inference_mode(), autocast_for(device, autocast_dtype):
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            input_ids, mask = pad_batch([token_ids[i] for i in idx], pad_id, device)
            logits = model(input_ids, mask)
            for task, task_logits in logits.items():
                out[task][idx] = torch.softmax(task_logits.float(), dim=-1).cpu().numpy()
    model.train(was_training)
    return out
