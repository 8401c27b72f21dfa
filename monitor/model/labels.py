"""Label sets of the two tasks and the spellings accepted for them in files and label events."""

from __future__ import annotations

from collections.abc import Sequence

# Twitter Financial News topic ids 0-19, in id order (the data set card's mapping).
TOPIC_LABELS: list[str] = [
    "Analyst Update",
    "Fed | Central Banks",
    "Company | Product News",
    "Treasuries | Corporate Debt",
    "Dividend",
    "Earnings",
    "Energy | Oil",
    "Financials",
    "Currencies",
    "General News | Opinion",
    "Gold | Metals | Materials",
    "IPO",
    "Legal | Regulation",
    "M&A | Investments",
    "Macro",
    "Markets",
    "Politics",
    "Personnel Change",
    "Stock Commentary",
    "Stock Movement",
]

SENTIMENT_LABELS: list[str] = ["negative", "neutral", "positive"]

TASK_LABELS: dict[str, list[str]] = {"topic": TOPIC_LABELS, "sentiment": SENTIMENT_LABELS}

_SENTIMENT_SYNONYMS = {
    "negative": "negative",
    "neg": "negative",
    "bearish": "negative",
    "bear": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "positive": "positive",
    "pos": "positive",
    "bullish": "positive",
    "bull": "positive",
}
# Numeric ids are not accepted on purpose: the source data set numbers them 0=Bearish, 1=Bullish, 2=Neutral,
# which anyone would misread as an ordered scale.


def _fold(value: str) -> str:
    # "fed|central banks", "Fed | Central  Banks" and "FED | CENTRAL BANKS" are the same label.
    return " ".join(value.replace("|", " | ").split()).casefold()


def normalize_sentiment(value: str) -> str:
    """``Bearish``/``neg``/``NEGATIVE`` -> ``negative`` (likewise neutral, positive); ValueError otherwise."""
    key = _fold(str(value))
    if key in _SENTIMENT_SYNONYMS:
        return _SENTIMENT_SYNONYMS[key]
    raise ValueError(f"unknown sentiment {value!r}; use negative/neutral/positive (or Bearish/Neutral/Bullish)")


def normalize_topic(value: str, labels: Sequence[str] = TOPIC_LABELS) -> str:
    """A topic name in any case and spacing, or its numeric id -> the canonical name; else ValueError."""
    raw = str(value).strip()
    if raw.isdigit() and int(raw) < len(labels):
        return labels[int(raw)]
    by_fold = {_fold(label): label for label in labels}
    if _fold(raw) in by_fold:
        return by_fold[_fold(raw)]
    raise ValueError(f"unknown topic {value!r}; expected one of: {', '.join(labels)}")


def normalize_label(task: str, value: str, labels: Sequence[str]) -> str:
    """Canonical label of ``task`` within a model's own label list (config.json, not code, decides)."""
    if task == "topic":
        return normalize_topic(value, labels)
    canonical = normalize_sentiment(value) if task == "sentiment" else value
    by_fold = {_fold(label): label for label in labels}
    if _fold(canonical) in by_fold:
        return by_fold[_fold(canonical)]
    raise ValueError(f"unknown {task} label {value!r}; expected one of: {', '.join(labels)}")
