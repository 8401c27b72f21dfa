"""Where a model runs, in which precision, and the batch sizes that suit that device."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from monitor.model.errors import ModelLoadError


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("device 'cuda' was asked for but no CUDA device is visible; use auto or cpu")
    return torch.device(device)


def resolve_autocast(precision: str, device: torch.device) -> torch.dtype | None:
    """bf16 autocast on CUDA by default; on CPU only when asked (fast on AVX-512-bf16 CPUs only).

    The trainer's choice (its weights stay fp32 for the optimizer); serving uses :func:`resolve_precision`.
    """
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


@dataclass(frozen=True)
class Precision:
    """How a served model computes: the dtype its weights are cast to, and an autocast dtype if any."""

    weights: torch.dtype = torch.float32
    autocast: torch.dtype | None = None

    def __str__(self) -> str:
        if self.weights == torch.bfloat16:
            return "bf16 weights"
        return "bf16 autocast" if self.autocast is not None else "fp32"


def resolve_precision(precision: str, device: torch.device) -> Precision:
    """Serving precision. ``auto``: bf16 *weights* on CUDA (measured on an H200, autocast re-casts the
    weights on every pass and ran at half the speed of plain fp32), fp32 on CPU. ``bf16``: autocast
    (what pays on CPUs with AVX-512-bf16). ``bf16-weights``: cast the weights, any device. Softmax
    stays fp32 in every case."""
    if precision == "bf16-weights" or (precision == "auto" and device.type == "cuda"):
        return Precision(weights=torch.bfloat16)
    if precision == "bf16":
        return Precision(autocast=torch.bfloat16)
    return Precision()


@dataclass(frozen=True)
class Batching:
    """Batch sizes for one device: the worker's flush, and the limits of one forward pass."""

    flush_size: int
    max_rows: int
    max_tokens: int


# CPU: flushes of 128 texts, passes of 32 (the measured best on a 2-core CPU; larger passes only add
# padding). CUDA: a GPU wants big passes (MiniLM-L6 on an H200: 150k texts/s at 1,024 rows vs 15k/s
# end to end at 256), so a flush is one or two passes; the token budget caps a pass of long texts.
CPU_BATCHING = Batching(flush_size=128, max_rows=32, max_tokens=32 * 64)
CUDA_BATCHING = Batching(flush_size=1024, max_rows=1024, max_tokens=1024 * 64)


def resolve_batching(settings: Any, device: torch.device | None = None, *, flush: int | str = "auto") -> Batching:
    """The model settings' pass limits and the stream's ``flush`` size, every ``auto`` replaced by the
    device's default."""
    device = device or resolve_device(settings.device)
    cuda = device.type == "cuda"
    base = CUDA_BATCHING if cuda else CPU_BATCHING
    rows = base.max_rows if settings.inference_batch_size == "auto" else int(settings.inference_batch_size)
    # On CPU the row limit alone decides (as measured best); on CUDA the budget bounds a pass of long texts.
    auto_tokens = base.max_tokens if cuda else rows * settings.max_length
    tokens = auto_tokens if settings.max_tokens == "auto" else int(settings.max_tokens)
    flush_size = base.flush_size if flush == "auto" else int(flush)
    return Batching(flush_size=flush_size, max_rows=rows, max_tokens=tokens)
