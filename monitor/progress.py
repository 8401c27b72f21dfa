"""Progress bars that read well where they land: redrawn in place on a terminal, a line at a time in a log.

tqdm redraws its bar with carriage returns. Written to a file (the demo's logs, the retrain job's
``train.log``, a ``nohup`` or CI log) that makes one endless line, shown as ``^M`` soup by ``less`` and
journald. :func:`bar_options` gives tqdm's ``file`` and ``mininterval`` for where standard error goes.
"""

from __future__ import annotations

import sys
from typing import IO, Any

TERMINAL_INTERVAL_SECONDS = 1.0
LOG_INTERVAL_SECONDS = 30.0


class LineWriter:
    """What tqdm writes, each redraw on a line of its own (and nothing for an empty redraw)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    @property
    def encoding(self) -> str | None:  # tqdm draws a Unicode bar only where the stream can take it
        return getattr(self._stream, "encoding", None)

    def write(self, text: str) -> int:
        line = text.replace("\r", "").rstrip()
        if line:
            self._stream.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self._stream.flush()


def is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def bar_options(stream: IO[str] | None = None) -> dict[str, Any]:
    """tqdm's ``file`` and ``mininterval`` for ``stream`` (standard error by default): on a terminal the bar
    redraws every second; anywhere else it writes a line every 30 s, with the same figures and time left."""
    stream = stream if stream is not None else sys.stderr
    if is_terminal(stream):
        return {"file": stream, "mininterval": TERMINAL_INTERVAL_SECONDS}
    return {"file": LineWriter(stream), "mininterval": LOG_INTERVAL_SECONDS}
