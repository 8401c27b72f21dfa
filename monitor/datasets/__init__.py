"""Labeled data shipped with the package, so a fresh clone can train and replay a stream."""

from __future__ import annotations

from pathlib import Path

_ROOT = Path(__file__).resolve().parent

__all__ = ["NAMES", "path"]

NAMES = (
    "twitter-fin-topic",
    "twitter-fin-sentiment",
    "stock-market-tweets",
    "stock-tweets-taborda",
    "surge-stock-sentiment",
)


def path(name: str) -> Path:
    """A bundled data set's folder (``twitter-fin-topic``) or file (``twitter-fin-topic/train.csv``)."""
    from monitor.errors import MonitorError

    target = _ROOT / name
    if name.split("/", 1)[0] not in NAMES or not target.exists():
        raise MonitorError(f"no bundled data set {name!r}; available: {', '.join(NAMES)}")
    return target
