"""Splitting a failing batch isolates the poison messages and keeps every other result in order."""

from __future__ import annotations

import pytest

from monitor.stream.errors import Backpressure, StoreRejected
from monitor.stream.isolation import run_isolating

from .fakes import FakePredictor, fake_prediction


def test_a_healthy_batch_runs_once() -> None:
    model = FakePredictor()
    result = run_isolating(["a", "b", "c"], model.predict)
    assert model.calls == [3]
    assert [(t, p) for t, p in result.ok] == [(t, fake_prediction(t)) for t in "abc"]
    assert result.failed == []


@pytest.mark.parametrize("poison_at", [0, 5, 16, 31])
def test_one_poison_message_is_isolated(poison_at: int) -> None:
    texts = [f"text {i}" for i in range(32)]
    texts[poison_at] = "POISON pill"
    model = FakePredictor(poison="POISON")
    result = run_isolating(texts, model.predict)
    assert [t for t, _ in result.failed] == ["POISON pill"]
    assert isinstance(result.failed[0][1], RuntimeError)
    assert sorted(t for t, _ in result.ok) == sorted(t for t in texts if t != "POISON pill")
    assert all(p == fake_prediction(t) for t, p in result.ok)
    assert len(model.calls) <= 1 + 2 * 5  # about 2·log2(32) extra calls, not one per message


def test_several_poison_messages_are_all_isolated() -> None:
    texts = ["ok 1", "POISON a", "ok 2", "ok 3", "POISON b"]
    result = run_isolating(texts, FakePredictor(poison="POISON").predict)
    assert sorted(t for t, _ in result.failed) == ["POISON a", "POISON b"]
    assert len(result.ok) == 3


def test_errors_outside_isolate_propagate_unsplit() -> None:
    calls: list[int] = []

    def store(items: list[str]) -> list[bool]:
        calls.append(len(items))
        raise Backpressure("Postgres is down")

    with pytest.raises(Backpressure):
        run_isolating(["a", "b", "c", "d"], store, isolate=(StoreRejected,))
    assert calls == [4]


def test_wrong_number_of_results_counts_as_a_failure() -> None:
    result = run_isolating(["a", "b"], lambda items: ["only one"] if len(items) > 1 else ["x"])
    assert result.failed == [] and [r for _, r in result.ok] == ["x", "x"]
