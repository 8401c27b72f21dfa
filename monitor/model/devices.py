"""Where a model runs and in which precision."""

from __future__ import annotations

import torch

from monitor.model.errors import ModelLoadError


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("device 'cuda' was asked for but no CUDA device is visible; use auto or cpu")
    return torch.device(device)


def resolve_autocast(precision: str, device: torch.device) -> torch.dtype | None:
    """bf16 autocast on CUDA by default; on CPU only when asked (fast on AVX-512-bf16 CPUs only)."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None
