import json

import pytest
import torch

from monitor.model.arguments import preset
from monitor.model.predictor import Predictor
from monitor.model.sampling import mixed_batches, source_probabilities
from monitor.model.serialization import load_model
from monitor.model.training import train_model


def test_source_probabilities_temperature():
    assert source_probabilities({"a": 300, "b": 100}, 1.0) == pytest.approx({"a": 0.75, "b": 0.25})
    flat = source_probabilities({"a": 300, "b": 100}, 1000.0)
    assert flat["a"] == pytest.approx(0.5, abs=0.01)


def test_mixed_batches_mix_corpora_and_bucket_lengths():
    import random

    sources = {"a": list(range(0, 320)), "b": list(range(320, 640))}
    lengths = [(i * 37) % 60 + 3 for i in range(640)]
    batches = mixed_batches(sources, lengths, batch_size=32, temperature=1.0, rng=random.Random(0))
    assert sum(len(b) for b in batches) == 640
    mixed = sum(1 for b in batches if any(i < 320 for i in b) and any(i >= 320 for i in b))
    assert mixed >= len(batches) * 0.8
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 15  # random batches would span most of the 3..62 range


def test_uncertainty_weighting_trains_and_is_recorded(tiny_encoder_dir, tmp_path):
    args = preset("full", limit=120, epochs=1, max_steps=6, loss_weighting="uncertainty", max_length=32)
    result = train_model(args, out=tmp_path / "m", backbone=tiny_encoder_dir, version="u1", progress=False)
    weights = result.config.training["uncertainty_task_weights"]
    assert set(weights) == {"topic", "sentiment"}
    assert all(w != 1.0 for w in weights.values())  # the log-variances moved
    model, _ = load_model(tmp_path / "m")
    assert model.config.loss_weighting == "uncertainty"
    assert float(model.uncertainty.log_vars["topic"].detach()) != 0.0


def test_training_saves_a_loadable_model_with_scores_and_provenance(tiny_encoder_dir, tmp_path):
    args = preset("quick", limit=100, max_steps=4, freeze_layers=1)
    result = train_model(args, out=tmp_path / "m", backbone=tiny_encoder_dir, version="q1", progress=False)
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["version"] == "q1"
    assert set(config["scores"]) == {"topic", "sentiment"}
    assert config["scores"]["sentiment"]["n"] == 100
    assert config["encoder"]["model_type"] == "bert"
    assert config["library_versions"]["torch"] == torch.__version__
    assert config["training"]["steps"] == 4
    assert config["training"]["data"]["corpora"]["twitter-fin-topic"]["dev"] == 10
    assert "near_duplicates_of_train" in config["training"]["data"]["corpora"]["twitter-fin-topic"]["valid"]
    assert (tmp_path / "m" / "evaluation.json").is_file()
    calibration = config["training"]["calibration"]
    assert set(calibration) == set(config["temperatures"]) == {"topic", "sentiment"}
    assert calibration["topic"]["fit_n"] == 10 and calibration["sentiment"]["fit_n"] == 30  # + 2 social dev slices
    domains = config["training"]["domain_scores"]
    assert {name: d["n"] for name, d in domains.items()} == {"stock-tweets-taborda": 261, "surge-stock-sentiment": 100}
    assert config["training"]["data"]["corpora"]["surge-stock-sentiment"]["train"] == 90  # --limit caps it too
    for task, c in calibration.items():
        assert c["eval_n"] == 100
        assert c["nll_after"] <= c["nll_before"] + 0.05  # fitted on dev, scored on valid: no worse by much
        assert config["temperatures"][task] == pytest.approx(c["temperature"], abs=1e-4)
    card = (tmp_path / "m" / "card.md").read_text()
    for section in ("# Model q1", "## Data", "## Recipe", "Seed 42", "## Scores on valid", "### topic per class",
                    "## Scores by domain", "## Calibration", "## Time and hardware"):
        assert section in card, section
    assert "| General News \\| Opinion |" in card  # a "|" inside a label is escaped in the tables
    assert Predictor.from_directory(tmp_path / "m", device="cpu").version == "q1"
    assert result.valid["topic"].n == 100


def test_frozen_layers_do_not_change(tiny_encoder_dir, tmp_path):
    before, _ = load_model_encoder(tiny_encoder_dir)
    args = preset("quick", limit=60, max_steps=3, freeze_layers=1, learning_rate=1e-2)
    train_model(args, out=tmp_path / "m", backbone=tiny_encoder_dir, progress=False)
    after, _ = load_model(tmp_path / "m")
    emb = "embeddings.word_embeddings.weight"
    assert torch.equal(before.state_dict()[emb], after.encoder.state_dict()[emb])
    top = "encoder.layer.1.output.dense.weight"
    assert not torch.equal(before.state_dict()[top], after.encoder.state_dict()[top])


def load_model_encoder(path):
    from monitor.model.backbone import load_backbone

    encoder, tokenizer, _ = load_backbone(path)
    return encoder, tokenizer


def test_extra_labels_join_training(tiny_encoder_dir, tmp_path):
    extra = tmp_path / "extra.csv"
    extra.write_text("text,topic,sentiment\nGold soars,Gold | Metals | Materials,bullish\nNew IPO flops,IPO,\n")
    args = preset("quick", limit=50, max_steps=2)
    result = train_model(args, out=tmp_path / "m", backbone=tiny_encoder_dir, extra=extra, progress=False)
    assert result.config.training["data"]["extra"] == {"file": str(extra), "n": 2, "topic": 2, "sentiment": 1}
