"""Read news messages to produce from a CSV or JSONL file (or standard input)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from monitor.errors import MonitorError
from monitor.stream.errors import InvalidMessage
from monitor.stream.message import parse_timestamp

JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
ID_COLUMNS = ("id", "row_id")
TIME_COLUMNS = ("published_at", "created_at")


@dataclass(frozen=True)
class OutgoingMessage:
    key: bytes | None
    value: bytes
    published_at: datetime | None


def read_messages(
    source: str, limit: int | None = None, on_invalid: Callable[[str], None] | None = None
) -> Iterator[OutgoingMessage]:
    """Messages from ``source`` (a path, or ``-`` for standard input), at most ``limit`` of them.

    A line that cannot become a message stops the read with a MonitorError, or, given ``on_invalid``, is
    passed to it (one line saying where and why) and skipped.
    """
    stream, name = _open(source)
    try:
        fmt = _format(source, stream)
        rows = _jsonl(stream, name, on_invalid) if fmt == "jsonl" else _csv(stream, name)
        for count, message in enumerate(rows):
            if limit is not None and count >= limit:
                return
            yield message
    except UnicodeDecodeError as exc:
        raise MonitorError(f"{name} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    finally:
        if stream is not sys.stdin:
            stream.close()


def _open(source: str) -> tuple[TextIO, str]:
    if source == "-":
        return sys.stdin, "standard input"
    path = Path(source)
    if not path.is_file():
        raise MonitorError(f"{source}: no such file; give a CSV or JSONL file, or - for standard input")
    # utf-8-sig: spreadsheet programs start a UTF-8 CSV with a byte-order mark, which would hide `text`.
    return open(path, encoding="utf-8-sig", newline=""), str(path)  # noqa: SIM115 (closed by the caller)


def _format(source: str, stream: TextIO) -> str:
    suffix = Path(source).suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    # Standard input or an unknown suffix: a JSON object starts with "{", anything else is CSV.
    return "jsonl" if _first_char(stream) == "{" else "csv"


def _first_char(stream: TextIO) -> str:
    if stream.seekable():
        first = stream.read(1)
        stream.seek(0)
        return first
    buffer = getattr(stream, "buffer", None)
    if buffer is not None and hasattr(buffer, "peek"):
        return buffer.peek(1)[:1].decode("ascii", "replace")
    return ""


def _invalid(problem: str, on_invalid: Callable[[str], None] | None) -> None:
    if on_invalid is None:
        raise MonitorError(problem)
    on_invalid(problem)


def _jsonl(
    stream: Iterable[str], name: str, on_invalid: Callable[[str], None] | None = None
) -> Iterator[OutgoingMessage]:
    for lineno, line in enumerate(stream, start=1):
        line = line.strip()
        if not line:
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            _invalid(f"{name}, line {lineno}: not JSON ({exc})", on_invalid)
            continue
        if not isinstance(data, dict):
            _invalid(f"{name}, line {lineno}: expected one JSON object per line", on_invalid)
            continue
        yield OutgoingMessage(
            _key(data.get("id")), line.encode("utf-8"), _timestamp(data.get("published_at"))
        )


def _csv(stream: Iterable[str], name: str) -> Iterator[OutgoingMessage]:
    reader = csv.DictReader(stream)
    try:
        if reader.fieldnames is None or "text" not in reader.fieldnames:
            raise MonitorError(f"{name} has no `text` column (columns: {', '.join(reader.fieldnames or [])})")
        for row in reader:
            yield _from_row(row)
    except csv.Error as exc:
        raise MonitorError(f"{name}, line {reader.line_num}: {exc}") from None


def _from_row(row: dict[str, Any]) -> OutgoingMessage:
    """CSV row → message: ``created_at`` becomes ``published_at``, ``row_id`` becomes ``id``."""
    data: dict[str, Any] = {k: v for k, v in row.items() if k and v not in (None, "")}
    for column in ID_COLUMNS:
        if column in data:
            data["id"] = data.pop(column)
            break
    for column in TIME_COLUMNS:
        if column in data:
            data["published_at"] = data.pop(column)
            break
    if isinstance(data.get("tickers"), str):
        data["tickers"] = [t for t in data["tickers"].replace(",", " ").split() if t]
    value = json.dumps(data, ensure_ascii=False).encode("utf-8")
    return OutgoingMessage(_key(data.get("id")), value, _timestamp(data.get("published_at")))


def _key(value: Any) -> bytes | None:
    return None if value is None else str(value).encode("utf-8")


def _timestamp(value: Any) -> datetime | None:
    try:
        return parse_timestamp(value)
    except InvalidMessage:
        # The worker dead-letters such a message; for the replay clock it has no time.
        return None
