"""Per-task scores: accuracy, macro/weighted F1, per-class precision/recall/F1, confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


@dataclass
class TaskReport:
    task: str
    n: int
    accuracy: float
    macro_f1: float
    weighted_f1: float
    labels: list[str] = field(default_factory=list)
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion: list[list[int]] = field(default_factory=list)  # rows: true label, columns: predicted

    def summary(self) -> dict[str, float | int]:
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "weighted_f1": self.weighted_f1,
            "n": self.n,
        }

    def to_dict(self) -> dict:
        return asdict(self)


def evaluate_task(task: str, y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> TaskReport:
    """Scores over the labels that occur (true or predicted): a small file isn't punished for absent ones."""
    present = [lab for lab in labels if lab in set(y_true) | set(y_pred)]
    if not y_true:
        return TaskReport(task=task, n=0, accuracy=0.0, macro_f1=0.0, weighted_f1=0.0)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=present, zero_division=0)
    per_class = {
        lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i, lab in enumerate(present)
    }
    return TaskReport(
        task=task,
        n=len(y_true),
        accuracy=float(accuracy_score(y_true, y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        weighted_f1=float(f1_score(y_true, y_pred, labels=present, average="weighted", zero_division=0)),
        labels=present,
        per_class=per_class,
        confusion=confusion_matrix(y_true, y_pred, labels=present).tolist(),
    )


def evaluate_probabilities(task: str, probs: np.ndarray, y_true: Sequence[str], labels: Sequence[str]) -> TaskReport:
    predicted = [labels[i] for i in probs.argmax(axis=1)] if len(y_true) else []
    return evaluate_task(task, list(y_true), predicted, labels)


def format_report(report: TaskReport) -> str:
    """A readable table: headline scores, then one line per class, then the confusion matrix."""
    lines = [
        f"{report.task}: n={report.n}  accuracy={report.accuracy:.4f}  macro-F1={report.macro_f1:.4f}  "
        f"weighted-F1={report.weighted_f1:.4f}",
        f"  {'label':<30} {'prec':>6} {'recall':>6} {'f1':>6} {'support':>7}",
    ]
    for label, m in report.per_class.items():
        lines.append(f"  {label:<30} {m['precision']:>6.3f} {m['recall']:>6.3f} {m['f1']:>6.3f} {m['support']:>7d}")
    if report.confusion:
        lines.append("  confusion (rows true, columns predicted, in the order above):")
        lines.extend("  " + " ".join(f"{v:>4d}" for v in row) for row in report.confusion)
    return "\n".join(lines)


def predict_labels(model, tokenizer, examples, task: str, *, max_length: int, batch_size: int = 64) -> list[str]:
    """The model's label for ``task`` of each example, in order."""
    from monitor.model.inference import predict_probabilities, tokenize

    ids = tokenize(tokenizer, [e.text for e in examples], max_length, model.config.text_preprocessing)
    probs = predict_probabilities(model, ids, pad_id=tokenizer.pad_token_id or 0, batch_size=batch_size)
    labels = model.config.tasks[task]
    return [labels[i] for i in probs[task].argmax(axis=1)] if examples else []


def evaluate_examples(model, tokenizer, examples, task: str, *, max_length: int, batch_size: int = 64) -> TaskReport:
    """Score a model on examples that carry ``task``'s label (others are skipped)."""
    labeled = [e for e in examples if e.label(task) is not None]
    predicted = predict_labels(model, tokenizer, labeled, task, max_length=max_length, batch_size=batch_size)
    return evaluate_task(task, [e.label(task) for e in labeled], predicted, model.config.tasks[task])
