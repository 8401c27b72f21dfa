"""Temperature scaling and ECE: the fit recovers a known temperature, ECE measures what it claims, the trainer
stores T per head and the predictor's probabilities use it."""

import json

import numpy as np
import pytest

from monitor.model.calibration import (
    calibrate_head,
    expected_calibration_error,
    fit_temperature,
    log_probabilities,
    negative_log_likelihood,
    scaled_softmax,
)
from monitor.model.config import ModelConfig


def sample_from(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> np.ndarray:
    probs = scaled_softmax(logits, temperature)
    cumulative = probs.cumsum(axis=1)
    return (rng.random((len(probs), 1)) > cumulative).sum(axis=1)


@pytest.mark.parametrize("true_t", [0.5, 1.0, 2.5])
def test_fit_recovers_the_temperature_that_generated_the_labels(true_t):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(20000, 3))
    targets = sample_from(logits, true_t, rng)
    fitted = fit_temperature(logits, targets)
    assert fitted == pytest.approx(true_t, rel=0.06)
    nll = negative_log_likelihood(logits, targets, fitted)
    assert nll <= negative_log_likelihood(logits, targets, fitted * 1.2)
    assert nll <= negative_log_likelihood(logits, targets, fitted / 1.2)


def test_ece_of_a_hand_computed_case():
    # Two bins used: 0.9 confidence (2 rows, 1 right) and 0.6 confidence (2 rows, both right).
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.4, 0.6]])
    targets = np.array([0, 1, 1, 1])
    expected = 0.5 * abs(0.5 - 0.9) + 0.5 * abs(1.0 - 0.6)
    assert expected_calibration_error(probs, targets) == pytest.approx(expected)
    assert expected_calibration_error(np.zeros((0, 2)), np.zeros(0, dtype=int)) == 0.0


def test_scaling_fixes_an_overconfident_head_and_keeps_every_argmax():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 2, size=(6000, 3))
    targets = sample_from(logits, 1.0, rng)
    overconfident = scaled_softmax(logits, 1 / 3)  # the logits a model 3x too sure would output
    fit, held = slice(0, 3000), slice(3000, None)
    result = calibrate_head(overconfident[fit], targets[fit], overconfident[held], targets[held])
    assert result.temperature == pytest.approx(3.0, rel=0.1)
    assert result.ece_before > 0.1 and result.ece_after < 0.03
    assert result.nll_after < result.nll_before
    calibrated = scaled_softmax(log_probabilities(overconfident), result.temperature)
    assert (calibrated.argmax(axis=1) == overconfident.argmax(axis=1)).all()


def test_no_dev_rows_means_no_scaling():
    probs = np.array([[0.7, 0.3]])
    result = calibrate_head(np.zeros((0, 2)), np.zeros(0, dtype=int), probs, np.array([0]))
    assert result.temperature == 1.0 and result.ece_before == result.ece_after


def test_old_config_without_temperatures_loads_as_uncalibrated(tiny_model_dir, tmp_path):
    raw = json.loads((tiny_model_dir / "config.json").read_text())
    raw.pop("temperatures", None)
    (tmp_path / "config.json").write_text(json.dumps(raw))
    config = ModelConfig.load(tmp_path)
    assert config.temperatures == {} and config.temperature("sentiment") == 1.0


def test_predict_probabilities_applies_the_stored_temperature(tiny_model_dir):
    """The contract with the predictor: probabilities are softmax(logits / T) per head."""
    from monitor.model.inference import predict_probabilities, tokenize
    from monitor.model.serialization import load_model

    model, tokenizer = load_model(tiny_model_dir)
    ids = tokenize(tokenizer, ["Stocks tumble as rates rise", "Gold climbs", "Apple beats estimates"], 32)
    raw = predict_probabilities(model, ids, pad_id=tokenizer.pad_token_id)
    model.config.temperatures = {"sentiment": 0.25}
    scaled = predict_probabilities(model, ids, pad_id=tokenizer.pad_token_id)
    np.testing.assert_allclose(scaled["sentiment"], scaled_softmax(log_probabilities(raw["sentiment"]), 0.25),
                               atol=1e-5)
    np.testing.assert_allclose(scaled["topic"], raw["topic"], atol=1e-6)  # no T for topic: untouched
