"""What the model says about one text: a torch-free value the stream, the store and the tests share."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TextPrediction:
    """Topic and sentiment of one text, with the sentiment head's (calibrated) probabilities.

    Named apart from the ORM's ``Prediction`` row, which stores one of these for an article.
    """

    topic: str
    topic_confidence: float
    sentiment: str
    sentiment_confidence: float
    p_negative: float
    p_neutral: float
    p_positive: float
