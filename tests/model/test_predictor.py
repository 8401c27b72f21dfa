import numpy as np
import pytest
import torch

from monitor.model.errors import ModelLoadError
from monitor.model.prediction import TextPrediction
from monitor.model.predictor import Predictor
from monitor.model.serialization import load_model
from monitor.model.testing import make_tiny_model


def test_tiny_model_loads_with_version(tiny_model_dir):
    predictor = Predictor.from_directory(tiny_model_dir, device="cpu")
    assert predictor.version == "tiny-test"
    [pred] = predictor.predict(["Fed raises rates"])
    assert isinstance(pred, TextPrediction)
    assert pred.topic in predictor.topic_labels
    assert pred.p_negative + pred.p_neutral + pred.p_positive == pytest.approx(1.0, abs=1e-5)
    assert pred.sentiment_confidence == max(pred.p_negative, pred.p_neutral, pred.p_positive)


def test_predictor_keeps_input_order_with_mixed_lengths(tiny_model_dir):
    predictor = Predictor.from_directory(tiny_model_dir, device="cpu", batch_size=2)
    texts = [
        "word " * 50,
        "short",
        "a medium length headline about oil prices",
        "x",
        "another fairly long text " * 5,
    ]
    together = predictor.predict(texts)
    one_by_one = [predictor.predict([t])[0] for t in texts]
    for a, b in zip(together, one_by_one, strict=True):
        assert a.topic == b.topic
        assert a.p_negative == pytest.approx(b.p_negative, abs=1e-5)
        assert a.topic_confidence == pytest.approx(b.topic_confidence, abs=1e-5)


def test_empty_input_gives_empty_output(tiny_model_dir):
    assert Predictor.from_directory(tiny_model_dir, device="cpu").predict([]) == []


def test_save_load_round_trip_allclose(tmp_path):
    directory = make_tiny_model(tmp_path / "m", seed=3)
    model, tokenizer = load_model(directory)
    again, _ = load_model(directory)
    batch = tokenizer(["rates up", "oil falls on supply news"], padding=True, return_tensors="pt")
    with torch.inference_mode():
        a = model(batch["input_ids"], batch["attention_mask"])
        b = again(batch["input_ids"], batch["attention_mask"])
    for task in ("topic", "sentiment"):
        assert torch.allclose(a[task], b[task], atol=1e-6)
    # Different seed, different weights: the comparison above is not vacuous.
    other, _ = load_model(make_tiny_model(tmp_path / "o", seed=4))
    with torch.inference_mode():
        c = other(batch["input_ids"], batch["attention_mask"])
    assert not torch.allclose(a["topic"], c["topic"])


def test_bf16_on_cpu_is_close_to_fp32(tiny_model_dir):
    fp32 = Predictor.from_directory(tiny_model_dir, device="cpu", precision="fp32")
    bf16 = Predictor.from_directory(tiny_model_dir, device="cpu", precision="bf16")
    texts = ["Gold climbs as dollar slips", "Company X names new CEO"]
    a, b = fp32.predict_proba(texts), bf16.predict_proba(texts)
    assert np.allclose(a["sentiment"], b["sentiment"], atol=0.05)


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        Predictor.from_directory(tmp_path / "nope")


def test_non_model_directory_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ModelLoadError, match="not a multi-task model"):
        Predictor.from_directory(tmp_path)
