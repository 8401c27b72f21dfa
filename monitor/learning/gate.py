"""The promotion gate: a pure decision over candidate and champion scores.

Scores are ``{set_name: {"accuracy": .., "macro_f1": .., "n": ..}}``. The fixed sets ``topic`` and
``sentiment`` may drop by at most ``tolerance`` on ``metric``; the held-out labels (``labels``, accuracy
over both tasks) may not drop at all, since they are the corrections the run was triggered by.

Adapting to a stream's own language (retail investors' slang, a new desk's jargon) often costs the fixed
sets a point: they are news tweets, not the operator's stream. So when the candidate is *significantly*
better on the held-out labels (exact one-sided McNemar test over the texts exactly one model gets right,
``p <= significance``), a fixed set may drop by up to ``adapt_tolerance`` instead. That needs both models'
per-text outcomes on the held-out labels (``labels.outcomes``, a "0"/"1" string in the sets' order, written
by ``monitor.learning.evaluation``); without them the plain tolerance applies. The widening is a budget, not
a per-step allowance: each version stores its ``drift`` (how far it stands below its lineage per fixed set),
and a widened step may not take that past ``adapt_tolerance``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scipy.stats import binom

TASK_SETS = ("topic", "sentiment")
LABELS_SET = "labels"
DRIFT_KEY = "drift"  # where a version's scores keep its GateDecision.drift

Scores = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    # Per fixed set: how far the candidate's metric stands below its lineage's (the champion's drift plus
    # this step's drop, never below 0). Stored with the candidate's scores, so that adapting step after step
    # cannot erode the fixed sets by more than the adaptation tolerance in all.
    drift: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class HeldOutGain:
    """The held-out labels, text by text: how many only the candidate gets right, and only the champion."""

    candidate_only: int
    champion_only: int

    @property
    def p_value(self) -> float:
        """Exact one-sided McNemar: P(at least ``candidate_only`` of the discordant texts) under a fair coin."""
        n = self.candidate_only + self.champion_only
        return 1.0 if n == 0 else float(binom.sf(self.candidate_only - 1, n, 0.5))

    def describe(self) -> str:
        return (f"held-out labels: {self.candidate_only} texts right only by the candidate, {self.champion_only} "
                f"only by the champion (p={self.p_value:.3g})")


def held_out_gain(candidate: Scores, champion: Scores) -> HeldOutGain | None:
    """Paired outcomes on the same held-out labels, or None when either model's are missing or they differ."""
    new, old = (s.get(LABELS_SET, {}).get("outcomes") for s in (candidate, champion))
    if not new or not old or len(new) != len(old):
        return None
    return HeldOutGain(sum(a == "1" and b == "0" for a, b in zip(new, old, strict=True)),
                       sum(a == "0" and b == "1" for a, b in zip(new, old, strict=True)))


def decide_promotion(
    candidate: Scores, champion: Scores | None, *, tolerance: float, metric: str = "macro_f1",
    adapt_tolerance: float | None = None, significance: float = 0.05,
    champion_drift: Mapping[str, float] | None = None,
) -> GateDecision:
    """``adapt_tolerance`` (None: same as ``tolerance``) is the drop allowed per fixed set when the held-out
    labels improve with ``p <= significance``; ``champion_drift`` (stored with the champion's scores) is how far
    the champion already stands below its lineage, and with it the drop may not pass ``adapt_tolerance``
    in all."""
    if champion is None:
        return GateDecision(True, "no champion yet: the candidate becomes the first champion",
                            dict.fromkeys(TASK_SETS, 0.0))
    gain = held_out_gain(candidate, champion)
    adapting = (adapt_tolerance is not None and adapt_tolerance > tolerance and gain is not None
                and gain.p_value <= significance)
    allowed = adapt_tolerance if adapting else tolerance
    failures, notes, drift = [], [], {}
    for name in TASK_SETS:
        new, old = _metric(candidate, name, metric), _metric(champion, name, metric)
        if new is None or old is None:
            failures.append(f"{name} {metric} missing ({'candidate' if new is None else 'champion'})")
            continue
        before = float((champion_drift or {}).get(name, 0.0))
        drift[name] = round(max(0.0, before + old - new), 6)
        line = f"{name} {metric} {new:.4f} vs {old:.4f}"
        if new < old - allowed:
            failures.append(line)
        elif adapting and new < old - tolerance and drift[name] > adapt_tolerance:
            failures.append(f"{line}, {drift[name]:.4f} below the lineage in all (adaptation allows "
                            f"{adapt_tolerance})")
        else:
            notes.append(line)
    new, old = _metric(candidate, LABELS_SET, "accuracy"), _metric(champion, LABELS_SET, "accuracy")
    if new is None or old is None:
        notes.append("no held-out labels to compare")
    else:
        (failures if new < old else notes).append(f"held-out labels accuracy {new:.4f} vs {old:.4f}")
    if gain is not None:
        notes.append(gain.describe())
    rule = (f"tolerance {allowed}, widened from {tolerance}: held-out labels significantly better"
            if adapting else f"tolerance {tolerance}")
    if failures:
        return GateDecision(False, f"rejected ({rule}): " + "; ".join(failures + notes), drift)
    return GateDecision(True, f"promoted ({rule}): " + "; ".join(notes), drift)


def without_outcomes(scores: Scores | None) -> dict[str, Any] | None:
    """The scores to store: per-text outcomes are for the gate only."""
    if scores is None:
        return None
    return {name: {k: v for k, v in entry.items() if k != "outcomes"} for name, entry in scores.items()}


def _metric(scores: Scores, name: str, metric: str) -> float | None:
    entry = scores.get(name)
    if not entry or not entry.get("n"):
        return None
    value = entry.get(metric)
    return float(value) if value is not None else None
