"""Read a CSV or JSONL file of labels: good rows become labels, bad rows are reported by line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from monitor.learning.labels import NewLabel, insert_labels, unlink_unknown_articles
from monitor.learning.records import BadLabel, parse_label_record
from monitor.model.data import RowProblem, read_label_rows

__all__ = ["ImportReport", "LabelFile", "RowProblem", "import_label_file", "read_label_file"]


@dataclass
class LabelFile:
    labels: list[NewLabel] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


def read_label_file(path: Path, *, max_text_chars: int, author: str | None = None) -> LabelFile:
    """Parse a ``.csv`` or ``.jsonl`` file (``monitor.model.data.read_label_rows``, the one reader of this
    shape); raises MonitorError only when the whole file is unusable."""
    result = LabelFile()
    for item in read_label_rows(path):
        if isinstance(item, RowProblem):
            result.problems.append(item)
            continue
        line, record = item
        try:
            label = parse_label_record(record, origin="import", max_text_chars=max_text_chars, default_author=author)
        except BadLabel as exc:
            result.problems.append(RowProblem(line, str(exc)))
        else:
            result.labels.append(label)
    return result


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
