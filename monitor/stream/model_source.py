"""What the worker asks for a predictor: the ``ModelSource`` protocol and a fixed source.

Serving the registry's champion (lookup, hot swap) lives in ``monitor.learning.serving``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from monitor.model.prediction import TextPrediction


class PredictorLike(Protocol):
    version: str

    def predict(self, texts: Sequence[str]) -> list[TextPrediction]: ...


class ModelSource(Protocol):
    def current(self) -> PredictorLike:
        """The predictor to use for the next batch."""

    def refresh(self) -> bool:
        """Called between batches; True when the predictor changed."""


class StaticModelSource:
    """Always the same predictor (a model directory given on the command line, tests, benchmarks)."""

    def __init__(self, predictor: PredictorLike) -> None:
        self._predictor = predictor

    def current(self) -> PredictorLike:
        return self._predictor

    def refresh(self) -> bool:
        return False
