"""Training recipes: the arguments of one run and the named presets of `monitor train`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from monitor.model.config import TextPreprocessing
from monitor.model.errors import TrainingDataError


@dataclass
class TrainingArguments:
    """One training recipe; presets below, any field overridable."""

    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 5e-5
    weighting_learning_rate: float = 1e-2  # the uncertainty log-variances need far more than the encoder's lr
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_grad_norm: float = 1.0
    seed: int = 42
    # Seed of the dev slice (None: ``seed``). A warm start takes its source's, so its dev slice is the one the
    # source model never trained on, and early stopping and the temperature fit see unseen texts.
    dev_seed: int | None = None
    max_length: int = 64
    pooling: Literal["mean", "cls"] = "mean"
    # Applied to every text before the tokenizer, recorded in the model's config and applied by the predictor.
    text_preprocessing: TextPreprocessing = "strip_links"
    dropout: float = 0.1
    loss_weighting: Literal["fixed", "uncertainty"] = "fixed"
    loss_weights: dict[str, float] = field(default_factory=lambda: {"topic": 1.0, "sentiment": 1.0})
    label_smoothing: float = 0.0
    class_weighting: Literal["none", "sqrt_inverse", "inverse"] = "none"
    temperature: float = 1.0
    freeze_layers: int = 0  # blocks frozen from the bottom; negative: all but the top -N (-1: all but the last)
    # Compute the frozen blocks' output once per text and train only the blocks above (needs freeze_layers).
    cache_frozen: bool = False
    limit: int | None = None
    # Corpora of other domains trained on too (retail investors' posts, sentiment only; see DOMAIN_CORPORA).
    # None: all of them from scratch; in a warm start, the ones the source model was trained on (what it replays).
    domains: list[str] | None = None
    replay_per_corpus: int | None = None  # warm start: a stratified sample of each base corpus's train split
    max_steps: int | None = None
    patience: int = 2
    dev_fraction: float = 0.1
    eval_batch_size: int = 64
    bucket_batches: int = 50
    device: Literal["auto", "cpu", "cuda"] = "auto"  # CUDA trains under bf16 autocast
    # Cross-task pseudo-labels (train_model's ``teacher``): a missing label is filled at this calibrated confidence.
    pseudo_min_confidence: float = 0.9
    # Weight averaging: dev scoring, the kept checkpoint and the saved model use an exponential moving average
    # of the weights with this decay per step (None: the raw weights). Its first steps average with a shorter
    # memory, (1 + n) / (10 + n), so the pre-trained start does not linger in it.
    ema_decay: float | None = None
    # Layer-wise learning-rate decay: the heads train at the learning rate, the top encoder block at that times
    # this factor, each block below at one more factor, the embeddings lowest (1.0: one rate for all).
    layer_decay: float = 1.0
    # Knowledge distillation (needs a teacher): each head's loss is (1 - w) * CE on the gold labels + w * KL from the
    # teacher's calibrated probabilities on every train text; the teacher then gives no hard pseudo-labels, unless
    # distill_with_pseudo_labels: then it also fills the missing labels as above, and their CE is the (1 - w) part.
    distillation: float = 0.0
    distill_with_pseudo_labels: bool = False
    # Soft targets only where a text has no gold label for the task (the news headlines' sentiment, the sentiment
    # posts' topic): the gold labels keep their whole CE and the loss is CE + w * KL over those rows alone.
    distill_missing_only: bool = False

    def __post_init__(self) -> None:
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise TrainingDataError(f"ema_decay {self.ema_decay} is not between 0 and 1 (e.g. 0.999), or None")
        if not 0.0 < self.layer_decay <= 1.0:
            raise TrainingDataError(f"layer_decay {self.layer_decay} is not in (0, 1] (e.g. 0.9; 1 turns it off)")
        if not 0.0 <= self.distillation < 1.0:
            raise TrainingDataError(f"distillation {self.distillation} is not in [0, 1) (e.g. 0.5; 0 turns it off)")
        if self.distill_with_pseudo_labels and not self.distillation:
            raise TrainingDataError("pseudo-labels with distillation need a distillation weight (e.g. --distill 0.2); "
                                    "a teacher alone already gives pseudo-labels")
        if self.distill_missing_only and not self.distillation:
            raise TrainingDataError("soft targets on the missing task need a distillation weight (e.g. --distill 0.5)")
        if self.distill_missing_only and self.distill_with_pseudo_labels:
            raise TrainingDataError("soft targets on the missing task and hard pseudo-labels both fill the missing "
                                    "task: choose one")


PRESETS: dict[str, TrainingArguments] = {
    # A usable starter model in minutes on 2 CPU cores. Every block but the top one stays as pre-trained and
    # their output is computed once per text (cache_frozen); three epochs over all the data then train only the
    # top block and the heads, with links stripped from the texts (docs/model.md).
    "quick": TrainingArguments(
        epochs=3,
        learning_rate=3e-4,
        max_length=48,
        freeze_layers=-1,
        cache_frozen=True,
        label_smoothing=0.1,
        class_weighting="sqrt_inverse",
        patience=3,
    ),
    # Best quality: about 15 minutes on 2 idle CPU cores (about 80 s on an H200).
    "full": TrainingArguments(
        epochs=3,
        learning_rate=8e-5,
        max_length=64,
        label_smoothing=0.1,
        class_weighting="sqrt_inverse",
        temperature=1.0,
        patience=2,
    ),
    # Fine-tune an existing model (--init-from, the retrain job's default) on new labels plus a replay
    # sample of the base corpora, so it learns the labels without forgetting: minutes on 2 CPU cores.
    # Sampling temperature 3 gives a small label file a share of the batches well above its size. Every block
    # trains: new words need the embeddings to move. Training only the top block (freeze_layers=-1,
    # cache_frozen=True) is 2-3x faster and measured about the same on 100 and 300 retail labels
    # (bench/loop.py, docs/learning.md). A replay of 5,000 per corpus at lr 5e-5 (was 2,000 at 3e-5) keeps the
    # base sentiment score where a from-scratch `full` retrain on the same labels puts it (docs/learning.md).
    "warm": TrainingArguments(
        epochs=2,
        learning_rate=5e-5,
        warmup_ratio=0.1,
        max_length=64,
        label_smoothing=0.1,
        class_weighting="sqrt_inverse",
        temperature=3.0,
        replay_per_corpus=5000,
        patience=1,
    ),
}


def preset(name: str, **overrides) -> TrainingArguments:
    if name not in PRESETS:
        raise TrainingDataError(f"unknown preset {name!r}; use one of {', '.join(PRESETS)}")
    return replace(PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})
