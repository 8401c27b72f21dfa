"""Token-budget forward passes, vectorised padding, the direct Rust tokenizer and device-aware defaults."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.model.devices import CPU_BATCHING, CUDA_BATCHING, resolve_batching, resolve_precision
from monitor.model.inference import PassLimits, Tokenizer, pad_arrays, plan_passes, predict_probabilities, tokenize
from monitor.model.predictor import Predictor
from monitor.model.serialization import load_model

TEXTS = [
    "word " * 50,
    "short",
    "a medium length headline about oil prices",
    "x",
    "another fairly long text " * 5,
    "Fed holds rates; stocks rally",
    "",
    "Gold climbs as the dollar slips " * 2,
    "ünïcødé 📈 headline",
    "AAPL beats",
]


@given(
    lengths=st.lists(st.integers(min_value=1, max_value=80), min_size=1, max_size=200),
    rows=st.integers(min_value=1, max_value=40),
    tokens=st.integers(min_value=1, max_value=2000),
)
@settings(max_examples=200, deadline=None)
def test_passes_cover_every_text_once_within_both_limits(lengths, rows, tokens) -> None:
    lengths = np.array(lengths)
    passes = plan_passes(lengths, PassLimits(rows, tokens))
    assert sorted(np.concatenate(passes).tolist()) == list(range(len(lengths)))
    for idx in passes:
        assert len(idx) <= rows
        assert len(idx) == 1 or len(idx) * lengths[idx].max() <= tokens  # a text over budget runs alone
    longest = [lengths[idx].max() for idx in passes]
    assert longest == sorted(longest)  # length-sorted: similar lengths share a pass


def test_a_pass_grows_until_the_budget_is_spent() -> None:
    passes = plan_passes(np.array([10, 10, 10, 10, 30, 30]), PassLimits(max_rows=100, max_tokens=60))
    assert [len(p) for p in passes] == [4, 2]


@given(st.lists(st.lists(st.integers(min_value=1, max_value=30000), min_size=1, max_size=20), min_size=1, max_size=30))
def test_padding_matches_the_row_by_row_reference(rows) -> None:
    ids, mask = pad_arrays(rows, pad_id=0)
    width = max(map(len, rows))
    assert ids.shape == mask.shape == (len(rows), width)
    for i, row in enumerate(rows):
        assert ids[i].tolist() == row + [0] * (width - len(row))
        assert mask[i].tolist() == [1] * len(row) + [0] * (width - len(row))


def test_the_rust_tokenizer_gives_the_wrappers_ids(tiny_model_dir) -> None:
    _, tokenizer = load_model(tiny_model_dir)
    texts = [*TEXTS, "word " * 200]
    assert Tokenizer(tokenizer, 32)(texts) == tokenize(tokenizer, texts, 32)
    assert Tokenizer(tokenizer, 32)([]) == []


@pytest.mark.parametrize(("rows", "tokens"), [(1, None), (3, None), (4, 40), (64, 24), (1000, 1), (2, 10_000)])
def test_probabilities_stay_in_input_order_for_any_pass_limits(tiny_model_dir, rows, tokens) -> None:
    model, tokenizer = load_model(tiny_model_dir)
    ids = tokenize(tokenizer, TEXTS * 3, 48)
    alone = [predict_probabilities(model, [i], pad_id=tokenizer.pad_token_id) for i in ids]
    together = predict_probabilities(model, ids, pad_id=tokenizer.pad_token_id, batch_size=rows, max_tokens=tokens)
    for task in model.config.tasks:
        np.testing.assert_allclose(together[task], np.concatenate([a[task] for a in alone]), atol=1e-5)


def test_predictor_with_a_token_budget_matches_one_text_at_a_time(tiny_model_dir) -> None:
    budgeted = Predictor.from_directory(tiny_model_dir, device="cpu", batch_size=8, max_tokens=64)
    single = Predictor.from_directory(tiny_model_dir, device="cpu", batch_size=1)
    together = budgeted.predict(TEXTS)
    assert [p.topic for p in together] == [single.predict([t])[0].topic for t in TEXTS]
    expected = [single.predict([t])[0].p_negative for t in TEXTS]
    assert [p.p_negative for p in together] == pytest.approx(expected, abs=1e-5)


def test_bf16_weights_keep_fp32_probabilities(tiny_model_dir) -> None:
    fp32 = Predictor.from_directory(tiny_model_dir, device="cpu", precision="fp32")
    bf16 = Predictor.from_directory(tiny_model_dir, device="cpu", precision="bf16-weights")
    assert next(bf16.model.parameters()).dtype == torch.bfloat16
    a, b = fp32.predict_proba(TEXTS), bf16.predict_proba(TEXTS)
    assert b["sentiment"].dtype == np.float32
    np.testing.assert_allclose(b["sentiment"].sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(a["sentiment"], b["sentiment"], atol=0.05)


def test_device_aware_defaults() -> None:
    auto = SimpleNamespace(device="auto", max_length=64, inference_batch_size="auto", max_tokens="auto")
    assert resolve_batching(auto, torch.device("cpu")) == CPU_BATCHING
    assert resolve_batching(auto, torch.device("cuda")) == CUDA_BATCHING
    assert CPU_BATCHING.flush_size == 128 and CPU_BATCHING.max_rows == 32
    pinned = SimpleNamespace(**auto.__dict__ | {"inference_batch_size": 50, "max_tokens": 999})
    assert resolve_batching(pinned, torch.device("cuda"), flush=300) == resolve_batching(
        pinned, torch.device("cpu"), flush=300)
    assert resolve_batching(pinned, torch.device("cpu")).max_tokens == 999
    assert resolve_precision("auto", torch.device("cuda")).weights == torch.bfloat16
    assert resolve_precision("auto", torch.device("cpu")).weights == torch.float32
    assert resolve_precision("bf16", torch.device("cpu")).autocast == torch.bfloat16
