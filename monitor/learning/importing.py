"""Read a CSV or JSONL file of labels: good rows become labels, bad rows are reported by line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from monitor.errors import MonitorError
from monitor.learning.labels import NewLabel, insert_labels, unlink_unknown_articles
from monitor.learning.records import BadLabel, parse_label_record

REQUIRED_COLUMN = "text"
LABEL_COLUMNS = ("topic", "sentiment")


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class LabelFile:
    labels: list[NewLabel] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


def read_label_file(path: Path, *, max_text_chars: int, author: str | None = None) -> LabelFile:
    """Parse a ``.csv`` or ``.jsonl`` file; raises MonitorError only when the whole file is unusable."""
    if not path.is_file():
        raise MonitorError(f"label file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        records = _csv_records(path)
    elif suffix in (".jsonl", ".ndjson"):
        records = _jsonl_records(path)
    else:
        raise MonitorError(f"{path}: unknown label file type {suffix!r}; use .csv or .jsonl")
    result = LabelFile()
    for line, record in records:
        try:
            if isinstance(record, BadLabel):
                raise record
            label = parse_label_record(
                record, origin="import", max_text_chars=max_text_chars, default_author=author
            )
            result.labels.append(label)
        except BadLabel as exc:
            result.problems.append(RowProblem(line, str(exc)))
    return result


def _csv_records(path: Path) -> Iterator[tuple[int, Mapping[str, Any] | BadLabel]]:
    reader = csv.reader(io.StringIO(_read_utf8(path), newline=""))
    columns = [c.strip().lower() for c in next(reader, [])]
    if REQUIRED_COLUMN not in columns or not any(c in columns for c in LABEL_COLUMNS):
        raise MonitorError(
            f"{path}: the header must name a 'text' column and 'topic' and/or 'sentiment' (found {columns})"
        )
    start = reader.line_num + 1  # a quoted field may span lines: report where the row starts
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                pass
            elif len(row) != len(columns):
                yield start, BadLabel(f"{len(row)} fields where the header has {len(columns)}")
            else:
                yield start, dict(zip(columns, row, strict=True))
            start = reader.line_num + 1
    except csv.Error as exc:  # e.g. a field over csv's size limit: the rest of the file can't be read
        raise MonitorError(f"{path}: line {start}: not valid CSV ({exc}); rows before it were not imported") \
            from None


def _jsonl_records(path: Path) -> Iterator[tuple[int, Mapping[str, Any] | BadLabel]]:
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
            except UnicodeDecodeError:
                yield number, BadLabel("not UTF-8")
                continue
            except json.JSONDecodeError as exc:
                yield number, BadLabel(f"not JSON ({exc.msg})")
                continue
            except RecursionError:
                yield number, BadLabel("JSON nested too deeply")
                continue
            yield number, record if isinstance(record, dict) else BadLabel("not a JSON object")


def _read_utf8(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MonitorError(f"{path} is not UTF-8 (bad byte at offset {exc.start}); save it as UTF-8") \
            from None


@dataclass(frozen=True)
class ImportReport:
    read: int
    new: int
    problems: list[RowProblem]

    @property
    def already_stored(self) -> int:
        return self.read - self.new


def import_label_file(
    path: Path, *, session: Session, max_text_chars: int, author: str | None = None
) -> ImportReport:
    """Store the good rows of ``path`` (each once, however often imported); caller commits."""
    parsed = read_label_file(path, max_text_chars=max_text_chars, author=author)
    labels = unlink_unknown_articles(parsed.labels, session=session)
    new = insert_labels(labels, session=session)
    return ImportReport(read=len(labels), new=new, problems=parsed.problems)
