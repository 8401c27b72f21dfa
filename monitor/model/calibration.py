"""Calibrated probabilities: temperature scaling per head (Guo et al. 2017) and expected calibration error.

Alerts and charts read ``p_negative``, so a head whose softmax is over- or under-confident skews every
share the detector compares. One scalar T per head, fitted on the dev slice by minimising the negative
log-likelihood, rescales the logits without changing any argmax (accuracy and F1 are untouched).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ECE_BINS = 15
T_MIN, T_MAX = 0.05, 20.0
_EPS = 1e-30  # float32 softmax never reaches 0 for the logit gaps these heads produce; guard the log anyway


def log_probabilities(probs: np.ndarray) -> np.ndarray:
    """Logits up to a per-row constant (softmax is shift-invariant), recovered from uncalibrated probabilities."""
    return np.log(np.clip(probs.astype(np.float64), _EPS, 1.0))


def scaled_softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def negative_log_likelihood(logits: np.ndarray, targets: np.ndarray, temperature: float = 1.0) -> float:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(len(targets)), targets]))


def fit_temperature(logits: np.ndarray, targets: np.ndarray, *, iterations: int = 60) -> float:
    """The T in [T_MIN, T_MAX] minimising NLL: golden-section search over log T (NLL is unimodal in 1/T)."""
    if len(targets) == 0:
        return 1.0
    lo, hi = math.log(T_MIN), math.log(T_MAX)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa = negative_log_likelihood(logits, targets, math.exp(a))
    fb = negative_log_likelihood(logits, targets, math.exp(b))
    for _ in range(iterations):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = negative_log_likelihood(logits, targets, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = negative_log_likelihood(logits, targets, math.exp(b))
    return float(math.exp((lo + hi) / 2))


def expected_calibration_error(probs: np.ndarray, targets: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label ECE: sum over equal-width confidence bins of (bin share) * |accuracy - mean confidence|."""
    if len(targets) == 0:
        return 0.0
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == targets).astype(np.float64)
    # Bin i holds confidences in (i/bins, (i+1)/bins]; a confidence of exactly 0 cannot occur with >= 2 classes.
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for i in range(bins):
        in_bin = index == i
        if in_bin.any():
            total += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(total)


@dataclass
class HeadCalibration:
    """What one head's fit did: T and the valid-set ECE/NLL with raw and with scaled probabilities."""

    temperature: float
    fit_n: int
    eval_n: int
    ece_before: float
    ece_after: float
    nll_before: float
    nll_after: float

    def to_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def label_indices(labels: Sequence[str], names: Sequence[str]) -> np.ndarray:
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[label] for label in labels], dtype=np.int64)


def calibrate_head(
    fit_probs: np.ndarray, fit_targets: np.ndarray, eval_probs: np.ndarray, eval_targets: np.ndarray
) -> HeadCalibration:
    """Fit T on one set's raw probabilities, report ECE/NLL on another's before and after scaling."""
    temperature = fit_temperature(log_probabilities(fit_probs), fit_targets) if len(fit_targets) else 1.0
    logits = log_probabilities(eval_probs)
    n = len(eval_targets)
    return HeadCalibration(
        temperature=temperature,
        fit_n=len(fit_targets),
        eval_n=n,
        ece_before=expected_calibration_error(eval_probs, eval_targets),
        ece_after=expected_calibration_error(scaled_softmax(logits, temperature), eval_targets) if n else 0.0,
        nll_before=negative_log_likelihood(logits, eval_targets) if n else 0.0,
        nll_after=negative_log_likelihood(logits, eval_targets, temperature) if n else 0.0,
    )
