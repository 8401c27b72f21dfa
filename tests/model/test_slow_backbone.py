"""Fine-tunes the real MiniLM-L6 backbone for a few steps (slow: run with -m slow)."""

import pytest
import torch

from monitor import datasets
from monitor.model.arguments import preset
from monitor.model.data import read_task_csv, stratified_sample
from monitor.model.inference import pad_batch
from monitor.model.labels import TASK_LABELS
from monitor.model.loop import encode, make_optimizer
from monitor.model.losses import joint_loss
from monitor.model.training import build_model


@pytest.mark.slow
def test_real_backbone_loss_falls():
    torch.manual_seed(0)
    args = preset("full", learning_rate=1e-4, max_length=48)
    model, tokenizer = build_model(args, TASK_LABELS, None)
    topic = stratified_sample(
        read_task_csv(datasets.path("twitter-fin-topic/train.csv"), "topic", TASK_LABELS["topic"]),
        "topic",
        32,
        seed=0,
    )
    sent = stratified_sample(
        read_task_csv(datasets.path("twitter-fin-sentiment/train.csv"), "sentiment", TASK_LABELS["sentiment"]),
        "sentiment",
        32,
        seed=0,
    )
    batch = encode(topic + sent, TASK_LABELS, tokenizer, args.max_length)
    input_ids, mask = pad_batch(batch.token_ids, tokenizer.pad_token_id, torch.device("cpu"))
    optimizer = make_optimizer(model, args)
    model.train()
    losses = []
    for _ in range(12):
        loss, _ = joint_loss(model(input_ids, mask), batch.labels, weights={"topic": 1.0, "sentiment": 1.0})
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0], losses
