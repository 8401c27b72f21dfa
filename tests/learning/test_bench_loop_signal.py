"""bench/loop.py's two-class signal: the continuous figure models are compared by on the two-class stream."""

import pytest
from hypothesis import given
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def signal(bench_script):
    return bench_script("loop").two_class_signal


def test_the_true_labels_keep_all_the_signal_and_a_coin_none(signal):
    assert signal(1.0, 0.0) == pytest.approx(1.0)
    assert signal(0.5, 0.5) == pytest.approx(0.0)
    assert signal(0.0, 1.0) < 0  # a model that reads them backwards sees bursts as calm days


rates = st.floats(0.0, 1.0)


@given(bearish=rates, bullish=rates, more=st.floats(0.01, 0.5))
def test_calling_more_bearish_posts_negative_helps_and_more_bullish_ones_hurts(signal, bearish, bullish, more):
    if bearish > bullish and bearish + more <= 1.0:
        assert signal(bearish + more, bullish) > signal(bearish, bullish)
    if bearish > bullish + more:
        assert signal(bearish, bullish + more) < signal(bearish, bullish)
    if bearish > bullish:
        assert 0.0 < signal(bearish, bullish) <= 1.0 + 1e-9
