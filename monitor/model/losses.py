"""Joint loss: per-task cross-entropy masked where a task has no label, summed with weights."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

IGNORE_INDEX = -100


def masked_task_loss(
    logits: Tensor,
    labels: Tensor,
    *,
    class_weights: Tensor | None = None,
    label_smoothing: float = 0.0,
) -> Tensor | None:
    """Mean CE over the examples that carry this task's label; None when none do (0/0 would be NaN)."""
    if not bool((labels != IGNORE_INDEX).any()):
        return None
    return F.cross_entropy(
        logits.float(),
        labels,
        weight=class_weights,
        ignore_index=IGNORE_INDEX,
        label_smoothing=label_smoothing,
    )


class UncertaintyWeighting(nn.Module):
    """Kendall, Gal & Cipolla (2018): L = sum_t exp(-s_t) CE_t + s_t / 2, s_t = log sigma_t^2 learned."""

    def __init__(self, tasks: list[str]) -> None:
        super().__init__()
        self.log_vars = nn.ParameterDict({task: nn.Parameter(torch.zeros(())) for task in tasks})

    def combine(self, losses: dict[str, Tensor]) -> Tensor:
        terms = [torch.exp(-self.log_vars[t]) * loss + 0.5 * self.log_vars[t] for t, loss in losses.items()]
        return torch.stack(terms).sum()

    def weights(self) -> dict[str, float]:
        return {t: float(torch.exp(-s.detach())) for t, s in self.log_vars.items()}


def joint_loss(
    logits: dict[str, Tensor],
    labels: dict[str, Tensor],
    *,
    weights: dict[str, float] | None = None,
    uncertainty: UncertaintyWeighting | None = None,
    class_weights: dict[str, Tensor] | None = None,
    label_smoothing: float = 0.0,
    soft_targets: dict[str, Tensor] | None = None,
    distillation: float = 0.0,
    distill_missing_only: bool = False,
) -> tuple[Tensor, dict[str, float]]:
    """The batch's loss and each task's loss (for logging). Tasks without labels in the batch drop out.

    With ``soft_targets`` (a teacher's probabilities per task, one row per example) each task's loss is
    ``(1 - distillation) * CE + distillation * KL(teacher || model)``, the KL over every row of the batch, so a
    task also learns on the rows that carry no gold label for it. With ``distill_missing_only`` the KL covers only
    those rows (averaged over them) and the gold CE keeps its whole weight: ``CE + distillation * KL_missing``."""
    per_task: dict[str, Tensor] = {}
    for task, task_logits in logits.items():
        loss = masked_task_loss(
            task_logits,
            labels[task],
            class_weights=(class_weights or {}).get(task),
            label_smoothing=label_smoothing,
        )
        if soft_targets is not None and distillation > 0 and task in soft_targets:
            if distill_missing_only:
                missing = labels[task] == IGNORE_INDEX
                if bool(missing.any()):
                    kd = distillation * F.kl_div(F.log_softmax(task_logits[missing].float(), dim=-1),
                                                 soft_targets[task][missing], reduction="batchmean")
                    loss = kd if loss is None else loss + kd
            else:
                kd = distillation * F.kl_div(F.log_softmax(task_logits.float(), dim=-1), soft_targets[task],
                                             reduction="batchmean")
                loss = kd if loss is None else (1.0 - distillation) * loss + kd
        if loss is not None:
            per_task[task] = loss
    if not per_task:
        # A batch with no labels at all (cannot happen with the samplers here) still yields a usable zero.
        anchor = next(iter(logits.values()))
        return anchor.sum() * 0.0, {}
    if uncertainty is not None:
        total = uncertainty.combine(per_task)
    else:
        total = torch.stack([(weights or {}).get(t, 1.0) * loss for t, loss in per_task.items()]).sum()
    return total, {t: float(loss.detach()) for t, loss in per_task.items()}
