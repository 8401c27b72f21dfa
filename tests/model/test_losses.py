import math

import pytest
import torch
import torch.nn.functional as F

from monitor.model.losses import IGNORE_INDEX, UncertaintyWeighting, joint_loss, masked_task_loss


def _logits(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"topic": torch.randn(6, 20, generator=g), "sentiment": torch.randn(6, 3, generator=g)}


def test_masked_loss_equals_single_task_loss_when_only_one_label_present():
    logits = _logits()
    topic = torch.tensor([3, 0, 19, 7, 7, 1])
    labels = {"topic": topic, "sentiment": torch.full((6,), IGNORE_INDEX)}
    total, parts = joint_loss(logits, labels, weights={"topic": 1.0, "sentiment": 1.0})
    expected = F.cross_entropy(logits["topic"], topic)
    assert torch.allclose(total, expected)
    assert set(parts) == {"topic"}


def test_mixed_batch_masks_each_task_to_its_own_examples():
    logits = _logits(1)
    topic = torch.tensor([3, 5, IGNORE_INDEX, IGNORE_INDEX, 1, IGNORE_INDEX])
    sent = torch.tensor([IGNORE_INDEX, IGNORE_INDEX, 0, 2, IGNORE_INDEX, 1])
    total, _ = joint_loss(logits, {"topic": topic, "sentiment": sent}, weights={"topic": 0.7, "sentiment": 2.0})
    t = F.cross_entropy(logits["topic"][[0, 1, 4]], topic[[0, 1, 4]])
    s = F.cross_entropy(logits["sentiment"][[2, 3, 5]], sent[[2, 3, 5]])
    assert torch.allclose(total, 0.7 * t + 2.0 * s)


def test_batch_without_labels_for_a_task_gives_no_nan_and_gradients_flow():
    logits = {k: v.requires_grad_() for k, v in _logits(2).items()}
    labels = {"topic": torch.full((6,), IGNORE_INDEX), "sentiment": torch.tensor([0, 1, 2, 0, 1, 2])}
    total, _ = joint_loss(logits, labels)
    assert math.isfinite(float(total.detach()))
    total.backward()
    assert torch.isfinite(logits["sentiment"].grad).all()
    assert logits["topic"].grad is None or torch.count_nonzero(logits["topic"].grad) == 0
    assert masked_task_loss(logits["topic"], labels["topic"]) is None


def test_uncertainty_weighting_at_init_is_the_plain_sum_and_learns():
    logits = _logits(3)
    labels = {"topic": torch.tensor([1, 2, 3, 4, 5, 6]), "sentiment": torch.tensor([0, 1, 2, 0, 1, 2])}
    weighting = UncertaintyWeighting(["topic", "sentiment"])
    total, parts = joint_loss(logits, labels, uncertainty=weighting)
    assert torch.allclose(total, torch.tensor(parts["topic"] + parts["sentiment"]), atol=1e-5)
    total.backward()
    # dL/ds = -exp(-s) CE + 1/2: a task with CE > 1/2 pushes its log-variance up (its weight down).
    assert weighting.log_vars["topic"].grad < 0
    assert weighting.weights() == {"topic": 1.0, "sentiment": 1.0}


def test_class_weights_and_label_smoothing_change_the_loss():
    logits = _logits(4)
    labels = {"topic": torch.tensor([1, 1, 1, 2, 2, 3]), "sentiment": torch.full((6,), IGNORE_INDEX)}
    plain, _ = joint_loss(logits, labels)
    weights = {"topic": torch.linspace(0.5, 2.0, 20), "sentiment": torch.ones(3)}
    weighted, _ = joint_loss(logits, labels, class_weights=weights)
    smoothed, _ = joint_loss(logits, labels, label_smoothing=0.1)
    assert not torch.allclose(plain, weighted) and not torch.allclose(plain, smoothed)


def test_distillation_mixes_gold_ce_with_kl_to_the_teacher_on_every_row():
    logits = _logits(2)
    topic = torch.tensor([3, 5, IGNORE_INDEX, IGNORE_INDEX, 1, IGNORE_INDEX])
    sent = torch.full((6,), IGNORE_INDEX)  # no gold sentiment in this batch: the teacher alone teaches it
    g = torch.Generator().manual_seed(9)
    teacher = {t: torch.softmax(torch.randn(v.shape, generator=g), dim=-1) for t, v in logits.items()}
    total, parts = joint_loss(logits, {"topic": topic, "sentiment": sent}, soft_targets=teacher, distillation=0.25)

    def kl(task):
        return F.kl_div(F.log_softmax(logits[task], -1), teacher[task], reduction="batchmean")

    ce = F.cross_entropy(logits["topic"][[0, 1, 4]], topic[[0, 1, 4]])
    assert torch.allclose(total, 0.75 * ce + 0.25 * kl("topic") + 0.25 * kl("sentiment"))
    assert set(parts) == {"topic", "sentiment"}
    # A model that already says what the teacher says pays only its gold CE.
    agreeing = {t: torch.log(p) for t, p in teacher.items()}
    total, _ = joint_loss(agreeing, {"topic": topic, "sentiment": sent}, soft_targets=teacher, distillation=0.25)
    ce = F.cross_entropy(agreeing["topic"][[0, 1, 4]], topic[[0, 1, 4]])
    assert torch.allclose(total, 0.75 * ce, atol=1e-6)
    # Weight 0: the soft targets change nothing.
    plain, _ = joint_loss(logits, {"topic": topic, "sentiment": sent})
    zero, _ = joint_loss(logits, {"topic": topic, "sentiment": sent}, soft_targets=teacher, distillation=0.0)
    assert torch.equal(plain, zero)


def test_distillation_on_the_missing_task_only_keeps_the_gold_loss_whole():
    logits = _logits(4)
    topic = torch.tensor([3, 5, IGNORE_INDEX, IGNORE_INDEX, 1, IGNORE_INDEX])
    sent = torch.tensor([IGNORE_INDEX, 2, 0, 1, IGNORE_INDEX, IGNORE_INDEX])
    g = torch.Generator().manual_seed(3)
    teacher = {t: torch.softmax(torch.randn(v.shape, generator=g), dim=-1) for t, v in logits.items()}
    total, parts = joint_loss(logits, {"topic": topic, "sentiment": sent}, soft_targets=teacher, distillation=0.4,
                              distill_missing_only=True)

    def kl(task, rows):
        return F.kl_div(F.log_softmax(logits[task][rows], -1), teacher[task][rows], reduction="batchmean")

    t_ce = F.cross_entropy(logits["topic"][[0, 1, 4]], topic[[0, 1, 4]])
    s_ce = F.cross_entropy(logits["sentiment"][[1, 2, 3]], sent[[1, 2, 3]])
    topic_part, sentiment_part = t_ce + 0.4 * kl("topic", [2, 3, 5]), s_ce + 0.4 * kl("sentiment", [0, 4, 5])
    assert parts == pytest.approx({"topic": float(topic_part), "sentiment": float(sentiment_part)})
    assert torch.allclose(total, topic_part + sentiment_part)
    # The teacher's view of a gold row counts for nothing: change it and the loss stays.
    other = {t: p.clone() for t, p in teacher.items()}
    other["topic"][[0, 1, 4]] = other["topic"][[0, 1, 4]].flip(-1)
    again, _ = joint_loss(logits, {"topic": topic, "sentiment": sent}, soft_targets=other, distillation=0.4,
                          distill_missing_only=True)
    assert torch.equal(total, again)
    # A batch whose rows all carry the task's label is plain CE; one with none learns from the teacher alone.
    full = torch.tensor([3, 5, 0, 2, 1, 7])
    plain, _ = joint_loss(logits, {"topic": full, "sentiment": torch.full((6,), IGNORE_INDEX)})
    only_kd, parts = joint_loss(logits, {"topic": full, "sentiment": torch.full((6,), IGNORE_INDEX)},
                                soft_targets=teacher, distillation=0.4, distill_missing_only=True)
    teacher_only = 0.4 * kl("sentiment", list(range(6)))
    assert parts == pytest.approx({"topic": float(F.cross_entropy(logits["topic"], full)),
                                   "sentiment": float(teacher_only)})
    assert torch.allclose(only_kd, plain + teacher_only)
