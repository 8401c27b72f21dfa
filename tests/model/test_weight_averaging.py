"""Layer-wise learning-rate decay and the moving average of the weights (``layer_decay``, ``ema_decay``)."""

import pytest
import torch
from transformers import get_linear_schedule_with_warmup

from monitor.model.arguments import preset
from monitor.model.errors import TrainingDataError
from monitor.model.loop import ema_average, layer_scales, make_optimizer
from monitor.model.serialization import load_model
from monitor.model.training import train_model
from tests.model.test_cli import run_cli


@pytest.fixture
def tiny(tiny_model_dir):
    model, _ = load_model(tiny_model_dir)
    return model


def test_layer_decay_gives_the_heads_the_rate_and_each_lower_block_one_factor_less(tiny):
    scales = layer_scales(tiny, 0.5)  # a 2-block encoder
    assert scales["heads.topic.weight"] == scales["heads.sentiment.bias"] == 1.0
    assert scales["encoder.encoder.layer.1.attention.self.query.weight"] == 0.5
    assert scales["encoder.encoder.layer.0.output.dense.bias"] == 0.25
    assert scales["encoder.embeddings.word_embeddings.weight"] == 0.125
    assert set(layer_scales(tiny, 1.0).values()) == {1.0}

    args = preset("full", learning_rate=1e-3, layer_decay=0.5)
    optimizer = make_optimizer(tiny, args)
    rate = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    named = dict(tiny.named_parameters())
    for name, param in named.items():
        if not name.startswith("uncertainty."):
            assert rate[id(param)] == pytest.approx(1e-3 * scales[name]), name
    decayed = {id(p) for g in optimizer.param_groups if g["weight_decay"] for p in g["params"]}
    assert id(named["encoder.encoder.layer.0.output.dense.weight"]) in decayed
    assert id(named["encoder.encoder.layer.0.output.dense.bias"]) not in decayed
    # The schedule scales every group alike: the ratios between blocks hold through warm-up and decay.
    schedule = get_linear_schedule_with_warmup(optimizer, 2, 10)
    for _ in range(5):
        optimizer.step()
        schedule.step()
        lrs = sorted({round(g["lr"] / optimizer.param_groups[0]["lr"], 9) for g in optimizer.param_groups})
        assert lrs == [0.125, 0.25, 0.5, 1.0]


def test_the_moving_average_forgets_its_start_quickly_then_keeps_the_set_memory():
    averaged, current = [torch.zeros(3)], [torch.ones(3)]
    ema_average(0.999)(averaged, current, torch.tensor(1))  # second update: memory (1 + 1) / (10 + 1)
    assert torch.allclose(averaged[0], torch.full((3,), 9 / 11))
    averaged = [torch.zeros(3)]
    ema_average(0.5)(averaged, current, torch.tensor(10_000))  # long run: the set decay
    assert torch.allclose(averaged[0], torch.full((3,), 0.5))


def _weights(path):
    model, _ = load_model(path)
    return {k: v for k, v in model.state_dict().items() if v.is_floating_point()}


def test_training_keeps_and_saves_the_moving_average(tiny_encoder_dir, tmp_path):
    def train(name, **overrides):
        args = preset("full", limit=120, epochs=2, max_steps=8, learning_rate=1e-2, max_length=32, seed=3,
                      **overrides)
        return train_model(args, out=tmp_path / name, backbone=tiny_encoder_dir, version=name, progress=False)

    train("raw")
    near_raw = train("near-raw", ema_decay=1e-9)  # an average that forgets at once is the raw weights
    averaged = train("averaged", ema_decay=0.9)
    raw = _weights(tmp_path / "raw")
    assert all(torch.allclose(raw[k], v, atol=1e-6) for k, v in _weights(tmp_path / "near-raw").items())
    differs = [k for k, v in _weights(tmp_path / "averaged").items() if not torch.allclose(raw[k], v, atol=1e-6)]
    assert "heads.topic.weight" in differs and "encoder.encoder.layer.0.output.dense.weight" in differs
    assert averaged.config.training["arguments"]["ema_decay"] == 0.9
    assert "ema_decay 0.9, layer_decay 1.0, distillation 0.0" in (tmp_path / "averaged" / "card.md").read_text()
    assert near_raw.config.training["steps"] == averaged.config.training["steps"] == 8  # the same raw run


@pytest.mark.parametrize(("option", "value", "says"), [
    ("--ema-decay", "1.5", "ema_decay 1.5 is not between 0 and 1"),
    ("--layer-decay", "1.2", "layer_decay 1.2 is not in (0, 1]"),
    ("--distill", "0.5", "distillation 0.5 needs a teacher: pass --teacher MODEL_DIR"),
])
def test_train_cli_bad_averaging_or_layer_decay_is_one_line(monkeypatch, capsys, tmp_path, option, value, says):
    code, _, err = run_cli(monkeypatch, capsys, "train", "--out", str(tmp_path / "m"), option, value)
    assert code == 2 and says in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()


def test_train_cli_pseudo_labels_with_distillation_need_a_weight(monkeypatch, capsys, tmp_path):
    code, _, err = run_cli(monkeypatch, capsys, "train", "--out", str(tmp_path / "m"), "--with-pseudo-labels")
    assert code == 2 and "need a distillation weight (e.g. --distill 0.2)" in err and "Traceback" not in err
    assert err.strip().count("\n") == 0 and not (tmp_path / "m").exists()


def test_train_cli_soft_targets_on_the_missing_task_need_a_weight(monkeypatch, capsys, tmp_path):
    code, _, err = run_cli(monkeypatch, capsys, "train", "--out", str(tmp_path / "m"), "--distill-missing-only")
    assert code == 2 and "need a distillation weight (e.g. --distill 0.5)" in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()


def test_arguments_refuse_a_decay_outside_its_range():
    with pytest.raises(TrainingDataError, match="ema_decay 0.0"):
        preset("warm", ema_decay=0.0)
    assert preset("full", layer_decay=1.0).layer_decay == 1.0
