"""Labels are stored once whatever the door; model versions keep exactly one champion."""

import pytest

from monitor.errors import MonitorError
from monitor.learning import (
    NewLabel,
    UnknownVersion,
    count_unused_labels,
    dedupe_key,
    get_champion,
    insert_labels,
    list_versions,
    promote_version,
    register_version,
    rollback_champion,
)
from monitor.store import transaction

pytestmark = pytest.mark.integration


def test_labels_are_idempotent_across_doors_and_spacing(session_factory):
    first = [NewLabel("Fed hikes rates", topic="Fed | Central Banks"),
             NewLabel("Stocks slump", sentiment="negative"),
             NewLabel("no label at all")]
    with transaction(session_factory) as s:
        assert insert_labels(first, session=s) == 2
    again = [NewLabel("  fed   HIKES rates ", topic="Fed | Central Banks", origin="dashboard"),
             NewLabel("Stocks slump", sentiment="positive")]  # a different label for the same text is new
    with transaction(session_factory) as s:
        assert insert_labels(again, session=s) == 1
        assert count_unused_labels(session=s) == 3


def test_promote_retires_previous_champion_and_rollback_restores_it(session_factory):
    with transaction(session_factory) as s:
        register_version("v1", "/m/v1", session=s, status="champion")
        register_version("v2", "/m/v2", session=s, scores={"topic": {"accuracy": 0.9}})
        assert get_champion(session=s).version == "v1"
        promote_version("v2", session=s)
    with transaction(session_factory) as s:
        assert get_champion(session=s).version == "v2"
        assert {v.version: v.status for v in list_versions(session=s)} == {"v1": "retired", "v2": "champion"}
        assert rollback_champion(session=s).version == "v1"
    with transaction(session_factory) as s:
        assert get_champion(session=s).version == "v1"
        assert rollback_champion(session=s).version == "v2"  # the previous champion is v2 again
        with pytest.raises(UnknownVersion, match="monitor models list"):
            promote_version("nope", session=s)


def test_rollback_without_an_earlier_champion_says_so(session_factory):
    with transaction(session_factory) as s:
        register_version("only", "/m/only", session=s, status="champion")
        register_version("never-promoted", "/m/np", session=s)
        with pytest.raises(MonitorError, match="no earlier champion"):
            rollback_champion(session=s)


def test_label_key_ignores_spacing_and_case_but_not_labels_and_never_changes():
    key = dedupe_key("Fed hikes rates https://t.co/abc", "Fed | Central Banks", None)
    assert key == dedupe_key("  fed HIKES   rates https://t.co/abc", "Fed | Central Banks", None)
    assert key != dedupe_key("Fed hikes rates https://t.co/abc", "Fed | Central Banks", "negative")
    # The stored identity of a label row: keys written by earlier releases must keep matching.
    # (the value the previous release stored for this label).
    assert dedupe_key(" FED hikes  rates", "Fed | Central Banks", None) == (
        "79029806451525d2706778416c303b4085ea20791c427d865c3523abe723f39c")
