"""The optimisation loop: encoded data, class weights, AdamW with warm-up/decay, best dev checkpoint."""

from __future__ import annotations

import logging
import math
import random
import time
from collections import Counter
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.optim.swa_utils import AveragedModel
from tqdm import tqdm
from transformers import get_linear_schedule_with_warmup

from monitor.model.arguments import TrainingArguments
from monitor.model.corpora import TrainingData
from monitor.model.data import Example
from monitor.model.devices import resolve_autocast, resolve_device
from monitor.model.evaluation import TaskReport, evaluate_task
from monitor.model.inference import autocast_for, pad_batch, tokenize
from monitor.model.losses import IGNORE_INDEX, joint_loss
from monitor.model.modeling import MultiTaskModel, SplitEncoder, frozen_block_count
from monitor.model.sampling import mixed_batches
from monitor.progress import bar_options

log = logging.getLogger(__name__)


@dataclass
class EncodedSet:
    token_ids: list[list[int]]
    labels: dict[str, Tensor]  # task -> label ids, IGNORE_INDEX where the example has no label


def encode(
    examples: list[Example], tasks: dict[str, list[str]], tokenizer, max_length: int, preprocessing: str = "none"
) -> EncodedSet:
    labels = {}
    for task, names in tasks.items():
        index = {name: i for i, name in enumerate(names)}
        labels[task] = torch.tensor(
            [index[e.label(task)] if e.label(task) is not None else IGNORE_INDEX for e in examples],
            dtype=torch.long,
        )
    return EncodedSet(tokenize(tokenizer, [e.text for e in examples], max_length, preprocessing), labels)


def class_weights(train: EncodedSet, tasks: dict[str, list[str]], mode: str) -> dict[str, Tensor] | None:
    """Inverse (or square-root inverse) label frequency, normalised to mean 1 over the classes seen."""
    if mode == "none":
        return None
    power = 0.5 if mode == "sqrt_inverse" else 1.0
    weights = {}
    for task, names in tasks.items():
        counts = Counter(int(v) for v in train.labels[task].tolist() if v != IGNORE_INDEX)
        raw = torch.tensor([(1.0 / counts[i]) ** power if counts[i] else 0.0 for i in range(len(names))])
        seen = raw > 0
        weights[task] = raw / raw[seen].mean() if seen.any() else torch.ones(len(names))
    return weights


def layer_scales(model: MultiTaskModel, decay: float) -> dict[str, float]:
    """Learning-rate factor per parameter name under layer-wise decay: 1 for the heads (and anything above the
    blocks), ``decay ** k`` for the k-th encoder block from the top, one more factor for the embeddings."""
    names = [name for name, _ in model.named_parameters()]
    layers = getattr(getattr(model.encoder, "encoder", None), "layer", None)
    if decay == 1.0:
        return dict.fromkeys(names, 1.0)
    if layers is None:
        log.warning("layer-wise learning-rate decay needs a BERT-like encoder; one rate for all parameters")
        return dict.fromkeys(names, 1.0)
    n = len(layers)
    scales = {}
    for name in names:
        parts = name.split(".")
        if parts[:3] == ["encoder", "encoder", "layer"]:
            scales[name] = decay ** (n - int(parts[3]))
        elif parts[:2] == ["encoder", "embeddings"]:
            scales[name] = decay ** (n + 1)
        else:
            scales[name] = 1.0
    return scales


def make_optimizer(model: MultiTaskModel, args: TrainingArguments) -> torch.optim.AdamW:
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    scales = layer_scales(model, args.layer_decay)
    groups: dict[tuple[float, float], list] = {}
    weighting = []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if name.startswith("uncertainty."):
            weighting.append(param)
            continue
        decay = 0.0 if any(name.endswith(nd) for nd in no_decay) else args.weight_decay
        groups.setdefault((scales[name], decay), []).append(param)
    params = [
        {"params": ps, "weight_decay": decay, "lr": args.learning_rate * scale}
        for (scale, decay), ps in sorted(groups.items(), reverse=True)
    ]
    if args.loss_weighting == "uncertainty":
        params.append({"params": weighting, "weight_decay": 0.0, "lr": args.weighting_learning_rate})
    return torch.optim.AdamW(params, lr=args.learning_rate)


def ema_average(decay: float):
    """``AveragedModel``'s multi-tensor update for an exponential moving average whose memory grows over the
    first steps, ``min(decay, (1 + n) / (10 + n))``, so the starting weights do not linger in the average."""

    @torch.no_grad()
    def update(averaged: list[Tensor], current: list[Tensor], num_averaged) -> None:
        n = int(num_averaged)
        weight = 1.0 - min(decay, (1 + n) / (10 + n))
        torch._foreach_lerp_(averaged, current, weight)

    return update


def selection_score(reports: dict[str, TaskReport]) -> float:
    """Checkpoint choice: mean over tasks of (accuracy + macro-F1) / 2, so rare classes count too."""
    return sum((r.accuracy + r.macro_f1) / 2 for r in reports.values()) / len(reports)


class TrainingLoop:
    """The optimisation loop over one model; keeps the best dev checkpoint in memory."""

    def __init__(self, model, tokenizer, data: TrainingData, args: TrainingArguments, progress: bool,
                 soft_targets: dict | None = None) -> None:
        self.model, self.tokenizer, self.data, self.args = model, tokenizer, data, args
        # A teacher's probabilities per task, rows in the order of data.train (knowledge distillation).
        self.soft = {t: torch.as_tensor(p, dtype=torch.float32) for t, p in soft_targets.items()} \
            if soft_targets else None
        self.device = resolve_device(args.device)
        self.autocast = resolve_autocast("auto", self.device)
        model.to(self.device)
        self.tasks = model.config.tasks
        self.train_set = encode(data.train, self.tasks, tokenizer, args.max_length, model.config.text_preprocessing)
        self.lengths = [len(ids) for ids in self.train_set.token_ids]
        weights = class_weights(self.train_set, self.tasks, args.class_weighting)
        self.weights = {t: w.to(self.device) for t, w in weights.items()} if weights else None
        self.rng = random.Random(args.seed)
        self.progress = progress
        self.split, self.cache = self._frozen_cache()
        self.steps = 0
        self.examples = 0
        self.seconds = 0.0  # time spent in optimisation steps, for an honest examples/s
        self.history: list[dict] = []
        self.best: tuple[float, int, dict[str, Tensor]] | None = None
        self.best_dev_probabilities: dict | None = None  # raw, of the kept epoch: calibration fits on them
        self.average: AveragedModel | None = None  # the weights' moving average, with ``ema_decay``

    def _frozen_cache(self) -> tuple[SplitEncoder | None, list[Tensor] | None]:
        """With ``cache_frozen`` and the lowest ``freeze_layers`` blocks frozen, their output for every train
        text, computed once (without dropout): each step then runs only the upper blocks, so an epoch costs a
        fraction of a full pass and a short run can afford several."""
        args, encoder = self.args, self.model.encoder
        frozen = frozen_block_count(encoder, args.freeze_layers)
        if not args.cache_frozen or frozen == 0:
            return None, None
        blocks = len(encoder.encoder.layer) if SplitEncoder.supports(encoder) else 0
        if not 0 < frozen < blocks:
            log.warning("cannot cache %d frozen blocks of a %d-block encoder; training through every block",
                        frozen, blocks)
            return None, None
        split = SplitEncoder(encoder, frozen)
        ids, pad_id = self.train_set.token_ids, self.tokenizer.pad_token_id or 0
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        cache: list[Tensor | None] = [None] * len(ids)
        store = torch.float16 if self.device.type == "cpu" else torch.bfloat16  # half the memory; math stays fp32
        was_training = self.model.training
        self.model.eval()
        started = time.perf_counter()
        with torch.inference_mode(), tqdm(total=len(ids), desc=f"encoding {frozen} frozen blocks",
                                          unit="text", disable=not self.progress, **bar_options()) as bar:
            for start in range(0, len(order), 128):
                rows = order[start : start + 128]
                input_ids, mask = pad_batch([ids[i] for i in rows], pad_id, self.device)
                with autocast_for(self.device, self.autocast):
                    hidden = split.lower(input_ids, mask)
                for j, i in enumerate(rows):
                    cache[i] = hidden[j, : len(ids[i])].to("cpu", store, copy=True)
                bar.update(len(rows))
        self.model.train(was_training)
        log.info("cached the output of %d frozen blocks for %d texts in %.0fs", frozen, len(ids),
                 time.perf_counter() - started)
        return split, cache

    def _logits(self, batch: list[int]) -> dict[str, Tensor]:
        if self.cache is None:
            input_ids, mask = pad_batch(
                [self.train_set.token_ids[i] for i in batch], self.tokenizer.pad_token_id or 0, self.device
            )
            with autocast_for(self.device, self.autocast):
                return self.model(input_ids, mask)
        states = [self.cache[i] for i in batch]
        lengths = torch.tensor([len(h) for h in states])
        hidden = torch.nn.utils.rnn.pad_sequence(states, batch_first=True).to(self.device, torch.float32)
        mask = (torch.arange(hidden.shape[1])[None, :] < lengths[:, None]).long().to(self.device)
        with autocast_for(self.device, self.autocast):
            return self.model.classify(self.model.pool(self.split.upper(hidden, mask), mask))

    def _epoch_batches(self) -> list[list[int]]:
        return mixed_batches(
            self.data.sources,
            self.lengths,
            batch_size=self.args.batch_size,
            temperature=self.args.temperature,
            rng=self.rng,
            bucket_batches=self.args.bucket_batches,
        )

    def run(self) -> None:
        args = self.args
        per_epoch = math.ceil(len(self.data.train) / args.batch_size)
        total = per_epoch * args.epochs if not args.max_steps else min(args.max_steps, per_epoch * args.epochs)
        self.optimizer = make_optimizer(self.model, args)
        self.scheduler = get_linear_schedule_with_warmup(self.optimizer, int(total * args.warmup_ratio), total)
        self.total_steps = total
        if args.ema_decay is not None:
            self.average = AveragedModel(self.model, multi_avg_fn=ema_average(args.ema_decay))
        # One bar over every step of the run, so its ETA is the whole training's, measured from the speed
        # so far (early stopping can only make it shorter); dev scoring after each epoch is not in it.
        bar = tqdm(
            total=total,
            desc="training",
            unit="step",
            disable=not self.progress,
            dynamic_ncols=True,
            **bar_options(),
        )
        stale = 0
        try:
            for epoch in range(1, args.epochs + 1):
                self._train_epoch(epoch, bar)
                improved = self._evaluate_dev(epoch)
                stale = 0 if improved else stale + 1
                if self.steps >= total or stale >= args.patience:
                    break
        finally:
            bar.close()
        if self.best is not None:
            self.model.load_state_dict(self.best[2])
        self.average = None  # a second copy of the weights, no longer needed

    def _train_epoch(self, epoch: int, bar) -> None:
        self.model.train()
        batches = self._epoch_batches()
        start, seen, ema = time.perf_counter(), 0, None
        for batch in batches:
            if self.steps >= self.total_steps:
                break
            loss, parts = self._step(batch)
            seen += len(batch)
            ema = loss if ema is None else 0.98 * ema + 0.02 * loss
            rate = seen / max(time.perf_counter() - start, 1e-9)
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{ema:.3f}", ex_s=f"{rate:.0f}", refresh=False)
        self.examples += seen
        self.seconds += time.perf_counter() - start
        log.info(
            "epoch %d: %d examples in %.0fs (%.1f ex/s), loss %.4f",
            epoch,
            seen,
            time.perf_counter() - start,
            seen / max(time.perf_counter() - start, 1e-9),
            ema or 0,
        )

    def _step(self, batch: list[int]) -> tuple[float, dict[str, float]]:
        index = torch.tensor(batch)
        labels = {t: self.train_set.labels[t][index].to(self.device) for t in self.tasks}
        logits = self._logits(batch)
        loss, parts = joint_loss(
            logits,
            labels,
            weights=self.model.config.loss_weights,
            uncertainty=self.model.uncertainty if self.args.loss_weighting == "uncertainty" else None,
            class_weights=self.weights,
            label_smoothing=self.args.label_smoothing,
            soft_targets={t: p[index].to(self.device) for t, p in self.soft.items()} if self.soft else None,
            distillation=self.args.distillation,
            distill_missing_only=self.args.distill_missing_only,
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], self.args.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        if self.average is not None:
            self.average.update_parameters(self.model)
        self.steps += 1
        return float(loss.detach()), parts

    def _evaluate_dev(self, epoch: int) -> bool:
        scored = self.average.module if self.average is not None else self.model
        probs = self.dev_probabilities(scored)
        reports = {}
        for t, names in self.tasks.items():
            rows = [i for i, e in enumerate(self.data.dev) if e.label(t) is not None]
            predicted = [names[k] for k in probs[t][rows].argmax(axis=1)] if rows else []
            reports[t] = evaluate_task(t, [self.data.dev[i].label(t) for i in rows], predicted, names)
        reports = {t: r for t, r in reports.items() if r.n}
        score = selection_score(reports) if reports else float(epoch)  # no dev slice: the latest epoch wins
        self.history.append(
            {
                "epoch": epoch,
                "steps": self.steps,
                "score": score,
                **{t: r.summary() for t, r in reports.items()},
            }
        )
        log.info(
            "epoch %d dev: %s",
            epoch,
            "  ".join(f"{t} acc {r.accuracy:.4f} macro-F1 {r.macro_f1:.4f}" for t, r in reports.items()),
        )
        if self.best is None or score > self.best[0]:
            state = {k: v.detach().to("cpu", copy=True) for k, v in scored.state_dict().items()}
            self.best = (score, epoch, state)
            self.best_dev_probabilities = probs
            return True
        return False

    def dev_probabilities(self, model: MultiTaskModel | None = None) -> dict:
        """Every head's raw probabilities on the dev slice (of ``model``, default the trained one), in one
        inference pass over it."""
        from monitor.model.inference import predict_probabilities

        model = model or self.model
        ids = tokenize(self.tokenizer, [e.text for e in self.data.dev], self.args.max_length,
                       model.config.text_preprocessing)
        return predict_probabilities(model, ids, pad_id=self.tokenizer.pad_token_id or 0,
                                     batch_size=self.args.eval_batch_size)
