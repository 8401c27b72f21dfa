"""Capped exponential backoff between retries of a refused batch."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Backoff:
    initial: float
    maximum: float
    factor: float = 2.0
    _current: float | None = field(default=None, init=False)

    def next(self) -> float:
        """The next wait: initial, then doubled each call, never above ``maximum``."""
        if self._current is None:
            self._current = self.initial
        else:
            self._current = min(self.maximum, self._current * self.factor)
        return self._current

    def reset(self) -> None:
        self._current = None
