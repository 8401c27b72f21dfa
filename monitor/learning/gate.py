"""The promotion gate: a pure decision over candidate and champion scores.

Scores are ``{set_name: {"accuracy": .., "macro_f1": .., "n": ..}}``. The fixed sets ``topic`` and
``sentiment`` may drop by at most ``tolerance`` on ``metric``; the held-out labels (``labels``, accuracy
over both tasks) may not drop at all, since they are the corrections the run was triggered by.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TASK_SETS = ("topic", "sentiment")
LABELS_SET = "labels"

Scores = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str


def decide_promotion(
    candidate: Scores, champion: Scores | None, *, tolerance: float, metric: str = "macro_f1"
) -> GateDecision:
    if champion is None:
        return GateDecision(True, "no champion yet: the candidate becomes the first champion")
    failures, notes = [], []
    for name in TASK_SETS:
        new, old = _metric(candidate, name, metric), _metric(champion, name, metric)
        if new is None or old is None:
            failures.append(f"{name} {metric} missing ({'candidate' if new is None else 'champion'})")
            continue
        line = f"{name} {metric} {new:.4f} vs {old:.4f}"
        (failures if new < old - tolerance else notes).append(line)
    new, old = _metric(candidate, LABELS_SET, "accuracy"), _metric(champion, LABELS_SET, "accuracy")
    if new is None or old is None:
        notes.append("no held-out labels to compare")
    else:
        (failures if new < old else notes).append(f"held-out labels accuracy {new:.4f} vs {old:.4f}")
    if failures:
        return GateDecision(False, f"rejected (tolerance {tolerance}): " + "; ".join(failures + notes))
    return GateDecision(True, f"promoted (tolerance {tolerance}): " + "; ".join(notes))


def _metric(scores: Scores, name: str, metric: str) -> float | None:
    entry = scores.get(name)
    if not entry or not entry.get("n"):
        return None
    value = entry.get(metric)
    return float(value) if value is not None else None
