"""The model card (``card.md``): what a model was trained on, how, how well, how calibrated, on what machine."""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path
from typing import Any

from monitor.model.config import ModelConfig

RECIPE_FIELDS = ("epochs", "batch_size", "learning_rate", "max_length", "text_preprocessing", "freeze_layers",
                 "cache_frozen", "label_smoothing", "class_weighting", "temperature", "loss_weighting", "limit",
                 "max_steps", "ema_decay", "layer_decay",
                 "distillation", "distill_with_pseudo_labels")


def hardware() -> dict[str, Any]:
    """CPU model and core count, and the GPU if one was used: timings mean nothing without them."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {"cpu": cpu, "cpu_cores": os.cpu_count()}
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    with contextlib.suppress(OSError):
        info["load_average_1m"] = round(os.getloadavg()[0], 2)
    return info


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    # Topic labels contain "|" ("Fed | Central Banks"): escaped, or the row would split into more cells.
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines


def _data_section(training: dict[str, Any]) -> list[str]:
    data = training.get("data") or {}
    rows = [[name, c.get("task", ""), c.get("train", ""), c.get("dev", ""), (c.get("valid") or {}).get("n", "")]
            for name, c in (data.get("corpora") or {}).items()]
    lines = ["## Data", ""]
    lines += _table(["corpus", "task", "train", "dev", "valid"], rows) if rows else ["(not recorded)"]
    if data.get("extra"):
        extra = data["extra"]
        lines += ["", f"Extra labels: {extra.get('n')} from `{extra.get('file')}`."]
    if training.get("init_from"):
        init = training["init_from"]
        lines += ["", f"Warm start from model `{init.get('version')}` with a replay sample of "
                      f"{init.get('replay_per_corpus')} examples per base corpus."]
    if training.get("pseudo_labels"):
        pseudo = training["pseudo_labels"]
        lines += ["", f"Cross-task pseudo-labels from model `{pseudo.get('teacher')}` (calibrated confidence >= "
                      f"{pseudo.get('min_confidence')}): topic filled on {(pseudo.get('topic') or {}).get('filled')} "
                      f"texts, sentiment on {(pseudo.get('sentiment') or {}).get('filled')}; dev and valid keep "
                      "their gold labels only."]
    if training.get("distillation"):
        distilled = training["distillation"]
        spared = distilled.get("extra_not_distilled")
        where = (f"on the {distilled.get('texts')} corpus texts (not on the {spared} analysts' labels)" if spared
                 else f"on all {distilled.get('texts')} train texts")
        if distilled.get("missing_only"):
            lines += ["", f"Distilled from model `{distilled.get('teacher')}`: its calibrated probabilities of the "
                          f"task each text has no gold label for, {where}, at weight {distilled.get('weight')} beside "
                          "the whole gold-label loss; dev and valid keep their gold labels only."]
        else:
            lines += ["", f"Distilled from model `{distilled.get('teacher')}`: its calibrated probabilities of both "
                          f"tasks {where}, weight {distilled.get('weight')} against the gold labels; dev and valid "
                          "keep their gold labels only."]
    return lines + [""]


def _scores_section(config: ModelConfig, evaluation: dict[str, Any]) -> list[str]:
    lines = ["## Scores on valid", ""]
    rows = [[task, s.get("n"), f"{s.get('accuracy', 0):.4f}", f"{s.get('macro_f1', 0):.4f}"]
            for task, s in config.scores.items() if isinstance(s, dict) and "accuracy" in s]
    lines += _table(["task", "n", "accuracy", "macro-F1"], rows) if rows else ["(not recorded)"]
    for task, report in evaluation.items():
        per_class = report.get("per_class") if isinstance(report, dict) else None
        if not per_class:
            continue
        lines += ["", f"### {task} per class", ""]
        lines += _table(["label", "precision", "recall", "F1", "support"],
                        [[label, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", m["support"]]
                         for label, m in per_class.items()])
    return lines + [""]


def _domain_section(config: ModelConfig, evaluation: dict[str, Any]) -> list[str]:
    domains = (config.training or {}).get("domain_scores") or {}
    if not domains:
        return []
    rows = []
    base = evaluation.get("sentiment") or {}
    if base.get("per_class"):
        rows.append(["twitter-fin-sentiment (valid)", "sentiment", base["n"], f"{base['accuracy']:.4f}",
                     f"{base['macro_f1']:.4f}", f"{base['per_class'].get('negative', {}).get('recall', 0):.3f}"])
    rows += [[f"{name} (held out)", d["task"], d["n"], f"{d['accuracy']:.4f}", f"{d['macro_f1']:.4f}",
              f"{d['recall'].get('negative', 0):.3f}"] for name, d in domains.items()]
    return ["## Scores by domain", ""] + _table(
        ["corpus", "task", "n", "accuracy", "macro-F1", "negative recall"], rows) + [""]


def _calibration_section(training: dict[str, Any]) -> list[str]:
    calibration = training.get("calibration") or {}
    lines = ["## Calibration (temperature scaling, fitted on the dev slice; ECE with 15 bins on valid)", ""]
    if not calibration:
        return lines + ["Not calibrated: the predictor uses the raw softmax.", ""]
    rows = [[task, f"{c['temperature']:.3f}", c["fit_n"], f"{c['ece_before']:.4f}", f"{c['ece_after']:.4f}",
             f"{c['nll_before']:.4f}", f"{c['nll_after']:.4f}"] for task, c in calibration.items()]
    return lines + _table(["task", "T", "dev n", "ECE before", "ECE after", "NLL before", "NLL after"], rows) + [""]


def render_card(config: ModelConfig, evaluation: dict[str, Any] | None = None) -> str:
    """Markdown for a model directory, from its config (and evaluation.json's per-class reports when given)."""
    training = config.training or {}
    args = training.get("arguments") or {}
    lines = [f"# Model {config.version or '(unnamed)'}", "",
             f"Backbone `{config.backbone}`, {config.pooling} pooling, max length {config.max_length}, heads: "
             + ", ".join(f"{t} ({len(v)} classes)" for t, v in config.tasks.items()) + ".", ""]
    lines += _data_section(training)
    lines += ["## Recipe", ""]
    if args:
        lines += [f"Seed {args.get('seed')}; " + ", ".join(f"{k} {args[k]}" for k in RECIPE_FIELDS if k in args)
                  + f". Best dev epoch {training.get('best_epoch')}, {training.get('steps')} optimizer steps.", ""]
    else:
        lines += ["(not recorded)", ""]
    lines += _scores_section(config, evaluation or {})
    lines += _domain_section(config, evaluation or {})
    lines += _calibration_section(training)
    hw = training.get("hardware") or {}
    lines += ["## Time and hardware", "",
              f"Training took {training.get('train_seconds', '?')} s ({training.get('examples_per_second', '?')} "
              f"examples/s) on {training.get('device', '?')} with {training.get('torch_threads', '?')} torch threads"
              + (f"; {hw.get('cpu')}, {hw.get('cpu_cores')} cores" if hw else "")
              + (f", GPU {hw['gpu']}" if hw.get("gpu") else "")
              + (f", load average {hw['load_average_1m']} at the end" if "load_average_1m" in hw else "") + ".",
              "", "Library versions: " + ", ".join(f"{k} {v}" for k, v in config.library_versions.items()) + "."]
    return "\n".join(lines) + "\n"
