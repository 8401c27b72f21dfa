"""Continuous learning: labels, model versions, retraining and promotion."""

from monitor.learning.gate import GateDecision, decide_promotion
from monitor.learning.holdout import is_held_out
from monitor.learning.importing import ImportReport, import_label_file, read_label_file
from monitor.learning.labels import (
    NewLabel,
    count_unused_labels,
    dedupe_key,
    insert_labels,
    unlink_unknown_articles,
)
from monitor.learning.registry import (
    UnknownVersion,
    get_champion,
    get_version,
    list_versions,
    promote_version,
    register_version,
    rollback_champion,
)
from monitor.learning.retrain import RetrainResult, run_retrain

__all__ = [
    "GateDecision",
    "ImportReport",
    "NewLabel",
    "RetrainResult",
    "UnknownVersion",
    "count_unused_labels",
    "decide_promotion",
    "dedupe_key",
    "get_champion",
    "get_version",
    "import_label_file",
    "insert_labels",
    "is_held_out",
    "list_versions",
    "promote_version",
    "read_label_file",
    "register_version",
    "rollback_champion",
    "run_retrain",
    "unlink_unknown_articles",
]
