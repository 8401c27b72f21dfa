"""Training batches that mix the corpora (proportional or temperature sampling) and bucket by length."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence


def source_probabilities(sizes: dict[str, int], temperature: float) -> dict[str, float]:
    """p_s ∝ n_s^(1/T): T=1 is proportional to corpus size; larger T moves towards uniform over corpora."""
    raw = {name: n ** (1.0 / temperature) for name, n in sizes.items() if n > 0}
    total = sum(raw.values())
    return {name: v / total for name, v in raw.items()}


def _cycle(indices: Sequence[int], rng: random.Random) -> Iterator[int]:
    """Each corpus is walked in a fresh random order; an oversampled one wraps around."""
    while True:
        order = list(indices)
        rng.shuffle(order)
        yield from order


def mixed_batches(
    sources: dict[str, Sequence[int]],
    lengths: Sequence[int],
    *,
    batch_size: int,
    temperature: float,
    rng: random.Random,
    bucket_batches: int = 50,
) -> list[list[int]]:
    """One epoch (as many draws as there are examples) as batches of example indices.

    Each draw picks a corpus by ``source_probabilities``, so every batch mixes the tasks. Draws are then
    sorted by token length inside windows of ``bucket_batches`` batches (little padding, still random),
    and the batches are shuffled.
    """
    sizes = {name: len(idx) for name, idx in sources.items()}
    probs = source_probabilities(sizes, temperature)
    names = list(probs)
    weights = [probs[n] for n in names]
    streams = {name: _cycle(sources[name], rng) for name in names}
    draws = [next(streams[name]) for name in rng.choices(names, weights=weights, k=sum(sizes.values()))]
    window = batch_size * bucket_batches
    batches: list[list[int]] = []
    for start in range(0, len(draws), window):
        chunk = sorted(draws[start : start + window], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches
