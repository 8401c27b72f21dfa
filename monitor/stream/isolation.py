"""Split a failing batch in halves until the items that fail on their own are isolated."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Isolated(Generic[T, R]):
    """Items that went through with their results, and the poison items with their errors."""

    ok: list[tuple[T, R]] = field(default_factory=list)
    failed: list[tuple[T, Exception]] = field(default_factory=list)


def run_isolating(
    items: Sequence[T],
    run: Callable[[Sequence[T]], Sequence[R]],
    *,
    isolate: tuple[type[Exception], ...] = (Exception,),
) -> Isolated[T, R]:
    """Call ``run`` on all items; when it raises one of ``isolate``, retry each half, down to single items.

    ``run`` returns one result per item, in order. Other errors (backpressure: not the data's
    fault) propagate unchanged instead of being pinned on an item. A batch with one poison
    message costs about 2·log2(n) extra calls.
    """
    result: Isolated[T, R] = Isolated()
    _run_part(list(items), run, isolate, result)
    return result


def _run_part(
    items: list[T],
    run: Callable[[Sequence[T]], Sequence[R]],
    isolate: tuple[type[Exception], ...],
    result: Isolated[T, R],
) -> None:
    if not items:
        return
    try:
        outputs = list(run(items))
        if len(outputs) != len(items):
            raise ValueError(f"expected {len(items)} results, got {len(outputs)}")
    except isolate as exc:
        if len(items) == 1:
            result.failed.append((items[0], exc))
            return
        log.warning(
            "a batch of %d failed (%s: %s); splitting it to isolate the cause",
            len(items),
            type(exc).__name__,
            exc,
        )
        middle = len(items) // 2
        _run_part(items[:middle], run, isolate, result)
        _run_part(items[middle:], run, isolate, result)
        return
    result.ok.extend(zip(items, outputs, strict=True))
