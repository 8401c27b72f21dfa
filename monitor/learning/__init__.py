"""Continuous learning: labels, model versions, retraining and promotion."""

from monitor.learning.labels import NewLabel, count_unused_labels, dedupe_key, insert_labels
from monitor.learning.registry import (
    UnknownVersion,
    get_champion,
    get_version,
    list_versions,
    promote_version,
    register_version,
    rollback_champion,
)

__all__ = [
    "NewLabel",
    "UnknownVersion",
    "count_unused_labels",
    "dedupe_key",
    "get_champion",
    "get_version",
    "insert_labels",
    "list_versions",
    "promote_version",
    "register_version",
    "rollback_champion",
]
