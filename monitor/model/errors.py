"""Errors of the model package; each message says what to do next."""

from monitor.errors import MonitorError


class ModelLoadError(MonitorError):
    """A model directory or backbone cannot be loaded."""


class TrainingDataError(MonitorError):
    """A labeled file is unusable; the message names the file, the row and the problem."""
