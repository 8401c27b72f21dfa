import pytest

from monitor.model.labels import (
    SENTIMENT_LABELS,
    TOPIC_LABELS,
    normalize_label,
    normalize_sentiment,
    normalize_topic,
)


def test_label_lists_match_the_data_set_ids():
    assert len(TOPIC_LABELS) == 20 and len(set(TOPIC_LABELS)) == 20
    assert TOPIC_LABELS[0] == "Analyst Update" and TOPIC_LABELS[11] == "IPO" and TOPIC_LABELS[19] == "Stock Movement"
    assert SENTIMENT_LABELS == ["negative", "neutral", "positive"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Bearish", "negative"),
        ("BULLISH", "positive"),
        (" neutral ", "neutral"),
        ("pos", "positive"),
        ("Neg", "negative"),
    ],
)
def test_sentiment_spellings(raw, expected):
    assert normalize_sentiment(raw) == expected


@pytest.mark.parametrize("raw", ["", "good", "2", "very negative"])
def test_unknown_sentiment_raises(raw):
    with pytest.raises(ValueError, match="unknown sentiment"):
        normalize_sentiment(raw)


def test_topic_spellings():
    assert normalize_topic("fed|central banks") == "Fed | Central Banks"
    assert normalize_topic("  m&a |  investments") == "M&A | Investments"
    assert normalize_topic("11") == "IPO"
    with pytest.raises(ValueError, match="unknown topic"):
        normalize_topic("Crypto")


def test_normalize_label_uses_the_models_list():
    assert normalize_label("sentiment", "Bullish", ["negative", "positive"]) == "positive"
    with pytest.raises(ValueError):
        normalize_label("sentiment", "neutral", ["negative", "positive"])
