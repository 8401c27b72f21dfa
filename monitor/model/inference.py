"""Batched inference: tokenize once, sort by length, cut forward passes by a token budget, pad each to
its own longest row with one array operation, keep probabilities on the device until the flush ends,
then one device-to-host copy and the input order restored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from monitor.model.modeling import MultiTaskModel
from monitor.model.symbols import name_symbols
from monitor.text import strip_links


@dataclass(frozen=True)
class PassLimits:
    """What one forward pass may hold: at most ``max_rows`` texts and ``max_tokens`` padded tokens.

    The token budget (rows × longest row) keeps the work, and the activation memory, of a pass about
    constant: many short tweets or a few long wire stories. A text longer than the budget still runs,
    alone.
    """

    max_rows: int
    max_tokens: int

    def __post_init__(self) -> None:
        if self.max_rows < 1 or self.max_tokens < 1:
            raise ValueError("a forward pass needs max_rows >= 1 and max_tokens >= 1")


class Tokenizer:
    """The fast (Rust) tokenizer of a model, called directly: about twice the speed of the
    ``transformers`` wrapper, which converts every encoding into Python dicts, and parallel across
    cores inside Rust (the GIL is released while it runs). Same ids as the wrapper, special tokens
    and truncation included."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_length: int, preprocessing: str = "none") -> None:
        self.max_length = max_length
        self.preprocessing = preprocessing
        self.pad_id = tokenizer.pad_token_id or 0
        backend = getattr(tokenizer, "backend_tokenizer", None)
        self._wrapper = tokenizer
        self._backend = None
        if backend is not None:
            from tokenizers import Tokenizer as RustTokenizer

            # A private copy: the wrapper's backend is shared and its truncation/padding state is global.
            self._backend = RustTokenizer.from_str(backend.to_str())
            self._backend.enable_truncation(max_length)
            self._backend.no_padding()

    def __call__(self, texts: Sequence[str]) -> list[list[int]]:
        if not texts:
            return []
        if self._backend is None:
            return tokenize(self._wrapper, texts, self.max_length, self.preprocessing)
        return [e.ids for e in self._backend.encode_batch(prepare_texts(texts, self.preprocessing))]


def prepare_texts(texts: Sequence[str], preprocessing: str = "none") -> list[str]:
    """What the tokenizer sees: the model's ``text_preprocessing`` applied (one rule for training and serving)."""
    if preprocessing == "strip_links":
        return [strip_links(t) for t in texts]
    if preprocessing == "strip_links+name_symbols":
        return [name_symbols(strip_links(t)) for t in texts]
    if preprocessing != "none":
        raise ValueError(f"unknown text_preprocessing {preprocessing!r}")
    return list(texts)


def tokenize(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int, preprocessing: str = "none"
) -> list[list[int]]:
    """Token ids per text, unpadded (padding happens per forward pass, to that pass's longest)."""
    if not texts:
        return []
    enc = tokenizer(prepare_texts(texts, preprocessing), truncation=True, max_length=max_length, padding=False)
    return enc["input_ids"]


def plan_passes(lengths: np.ndarray, limits: PassLimits) -> list[np.ndarray]:
    """Indices of each forward pass: shortest first, so that similar lengths share a pass.

    Greedy over the sorted lengths: a pass grows while (rows + 1) × the next length, which is its new
    longest, fits the token budget and the row limit.
    """
    order = np.argsort(lengths, kind="stable")
    passes, start = [], 0
    for i in range(1, len(order) + 1):
        full = i == len(order) or i - start >= limits.max_rows
        if full or (i - start + 1) * lengths[order[i]] > limits.max_tokens:
            passes.append(order[start:i])
            start = i
    return passes


def pad_batch(ids: Sequence[Sequence[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded ids and attention mask as tensors on ``device`` (the trainer's entry point)."""
    input_ids, mask = pad_arrays(ids, pad_id)
    return to_device(input_ids, device), to_device(mask, device)


def pad_arrays(ids: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded ids and attention mask, to the longest row, filled by one masked assignment."""
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    mask = np.arange(int(lengths.max())) < lengths[:, None]
    input_ids = np.full(mask.shape, pad_id, dtype=np.int64)
    input_ids[mask] = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
    return input_ids, mask.astype(np.int64)


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    tensor = torch.from_numpy(array)
    if device.type == "cuda":  # pinned memory: the copy is asynchronous and overlaps the last pass
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def autocast_for(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def temperatures(model: MultiTaskModel) -> dict[str, float]:
    """Per-task calibration temperatures (1.0 = uncalibrated); older configs have none."""
    found = getattr(model.config, "temperatures", None) or {}
    return {task: float(found.get(task, 1.0)) for task in model.config.tasks}


def predict_probabilities(
    model: MultiTaskModel,
    token_ids: Sequence[Sequence[int]],
    *,
    pad_id: int,
    batch_size: int = 32,
    max_tokens: int | None = None,
    device: torch.device | None = None,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, np.ndarray]:
    """Softmax probabilities per task (fp32, temperature-scaled), rows in the order of ``token_ids``.

    Forward passes hold at most ``batch_size`` texts and ``max_tokens`` padded tokens (default: no
    more than ``batch_size`` full-length rows, i.e. the row limit alone decides).
    """
    device = device or next(model.parameters()).device
    tasks = model.config.tasks
    n = len(token_ids)
    if n == 0:
        return {task: np.zeros((0, len(labels)), dtype=np.float32) for task, labels in tasks.items()}
    lengths = np.fromiter(map(len, token_ids), dtype=np.int64, count=n)
    limits = PassLimits(batch_size, max_tokens or batch_size * int(lengths.max()))
    passes = plan_passes(lengths, limits)
    scale = temperatures(model)
    was_training = model.training
    model.eval()
    chunks = []
    with torch.inference_mode(), autocast_for(device, autocast_dtype):
        for idx in passes:
            input_ids, mask = pad_batch([token_ids[i] for i in idx], pad_id, device)
            logits = model(input_ids, mask)
            # Kept on the device: one copy to the host per call, not one per pass and task.
            chunks.append(torch.cat([torch.softmax(logits[t].float() / scale[t], dim=-1) for t in tasks], dim=1))
    model.train(was_training)
    stacked = torch.cat(chunks).cpu().numpy()
    ordered = np.empty_like(stacked)
    ordered[np.concatenate(passes)] = stacked
    return _split(ordered, tasks)


def _split(probabilities: np.ndarray, tasks: dict[str, list[str]]) -> dict[str, np.ndarray]:
    out, start = {}, 0
    for task, labels in tasks.items():
        out[task] = np.ascontiguousarray(probabilities[:, start : start + len(labels)])
        start += len(labels)
    return out
