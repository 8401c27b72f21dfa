"""Labeled examples: read and check training files, split, subsample, and spot near-duplicates."""

from __future__ import annotations

import csv
import io
import json
import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.model.errors import TrainingDataError
from monitor.model.labels import normalize_label
from monitor.text import dedup_key


@dataclass(frozen=True)
class Example:
    """One text with the labels it has; a task without a label is None (its loss is masked)."""

    text: str
    topic: str | None = None
    sentiment: str | None = None

    def label(self, task: str) -> str | None:
        return getattr(self, task)


def _check_text(path: Path, row: int, text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise TrainingDataError(f"{path}: line {row}: empty text; remove the row or fill in its text")
    return text


def _check_label(path: Path, row: int, task: str, raw: str, labels: Sequence[str]) -> str:
    try:
        return normalize_label(task, raw, labels)
    except ValueError:
        shown = ", ".join(labels) if len(labels) <= 5 else f"{', '.join(labels[:4])}, ... ({len(labels)} in all)"
        raise TrainingDataError(f"{path}: line {row}: unknown {task} label {raw!r}; expected one of {shown}") from None


def _read_text(path: Path) -> str:
    """The whole file as text, or a one-line error: a binary or mis-encoded file fails here, not mid-way."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TrainingDataError(f"{path}: cannot open ({exc.strerror}); check the path") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TrainingDataError(
            f"{path}: not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8 CSV or JSONL"
        ) from None


def _csv_rows(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """``(line the row starts on, fields)`` from csv.reader, whose format errors (a field over the size limit,
    a stray quote) name the file and the line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1  # a quoted field may span lines
    try:
        for values in reader:
            yield start, values
            start = reader.line_num + 1
    except csv.Error as exc:
        raise TrainingDataError(f"{path}: line {start}: not valid CSV ({exc})") from None


def _open_csv(path: Path, required: Sequence[str]) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    reader = _csv_rows(path, _read_text(path))
    header = [h.strip().lower() for h in next(reader, (1, []))[1]]
    missing = [c for c in required if c not in header]
    if missing:
        raise TrainingDataError(
            f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(header) or 'nothing'}); "
            f"the header must name {', '.join(required)}"
        )
    return header, reader


def read_task_csv(path: str | Path, task: str, labels: Sequence[str]) -> list[Example]:
    """A ``text,label`` CSV (extra columns ignored) for one task. Errors name the file line a row starts on,
    as label files' do."""
    path = Path(path)
    header, reader = _open_csv(path, ["text", "label"])
    ti, li = header.index("text"), header.index("label")
    examples = []
    for row, values in reader:
        if len(values) <= max(ti, li):
            raise TrainingDataError(f"{path}: line {row}: has {len(values)} field(s), expected text and label")
        text = _check_text(path, row, values[ti])
        examples.append(Example(text=text, **{task: _check_label(path, row, task, values[li], labels)}))
    if not examples:
        raise TrainingDataError(f"{path}: no rows after the header; nothing to learn from")
    return examples


LABEL_COLUMNS = ("topic", "sentiment")
LABEL_FILE_SHAPE = "a 'text' column and 'topic' and/or 'sentiment'"


@dataclass(frozen=True)
class RowProblem:
    """A row of a label file that cannot be read: its line in the file (where the row starts) and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


LabelRow = tuple[int, dict[str, Any]] | RowProblem
"""``(line, record)`` for a readable row of a label file, else the :class:`RowProblem`."""


def read_label_rows(path: str | Path) -> Iterator[LabelRow]:
    """Every row of a ``text,topic,sentiment`` file (``.csv``, or ``.jsonl``: one object a line) with the line
    it starts on; blank rows are skipped. Raises TrainingDataError, naming the file, when none can be read."""
    path = Path(path)
    if not path.is_file():
        raise TrainingDataError(
            f"{path} does not exist or is not a file; pass a .csv or .jsonl with {LABEL_FILE_SHAPE}"
        )
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_label_rows(path, _read_text(path))
    if suffix in {".jsonl", ".ndjson"}:
        return _jsonl_label_rows(path)
    raise TrainingDataError(f"{path}: unknown label file type {suffix!r}; use .csv or .jsonl")


def _csv_label_rows(path: Path, text: str) -> Iterator[LabelRow]:
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1  # a quoted field may span lines: report the line the row starts on
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        _check_label_header(path, header)
        start = reader.line_num + 1
        for values in reader:
            if len(values) != len(header) and any(v.strip() for v in values):
                yield RowProblem(start, f"{len(values)} fields where the header has {len(header)}")
            elif any(v.strip() for v in values):
                yield start, dict(zip(header, values, strict=True))
            start = reader.line_num + 1
    except csv.Error as exc:  # e.g. a field over csv's size limit: the rest of the file cannot be read
        raise TrainingDataError(f"{path}: line {start}: not valid CSV ({exc}); fix that row, nothing was read") \
            from None


def _check_label_header(path: Path, header: list[str]) -> None:
    missing = ["text"] if "text" not in header else []
    if not any(c in header for c in LABEL_COLUMNS):
        missing.append("topic and/or sentiment")
    if missing:
        raise TrainingDataError(
            f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(header) or 'nothing'}); "
            f"the header must name {LABEL_FILE_SHAPE}"
        )


def _jsonl_label_rows(path: Path) -> Iterator[LabelRow]:
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise TrainingDataError(f"{path}: cannot open ({exc.strerror}); check the path") from None
    for number, raw in enumerate(lines, start=1):
        if raw.strip():
            yield _json_label_row(number, raw)


def _json_label_row(number: int, raw: bytes) -> LabelRow:
    try:
        record = json.loads(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
    except UnicodeDecodeError as exc:
        return RowProblem(number, f"not UTF-8 (bad byte at offset {exc.start}); save the file as UTF-8")
    except json.JSONDecodeError as exc:
        return RowProblem(number, f"not valid JSON ({exc.msg})")
    except RecursionError:
        return RowProblem(number, "JSON nested too deeply")
    return (number, record) if isinstance(record, dict) else RowProblem(number, "not a JSON object")


def read_extra(path: str | Path, tasks: dict[str, Sequence[str]]) -> list[Example]:
    """Extra labeled examples (CSV or JSONL) with ``text,topic,sentiment``; either label may be empty.
    The first bad row stops the read with a TrainingDataError naming the file and the row's line."""
    path = Path(path)
    examples = []
    for item in read_label_rows(path):
        if isinstance(item, RowProblem):
            raise TrainingDataError(f"{path}: line {item.line}: {item.reason}")
        row, record = item
        text = _check_text(path, row, record.get("text"))
        found = {}
        for task, labels in tasks.items():
            raw = record.get(task)
            if raw is not None and str(raw).strip():
                found[task] = _check_label(path, row, task, str(raw), labels)
        if not found:
            raise TrainingDataError(f"{path}: line {row}: no topic or sentiment label; give at least one")
        examples.append(Example(text=text, **found))
    return examples


def _by_label(examples: Sequence[Example], task: str) -> dict[str | None, list[Example]]:
    groups: dict[str | None, list[Example]] = defaultdict(list)
    for ex in examples:
        groups[ex.label(task)].append(ex)
    return groups


def _quotas(sizes: dict, fraction: float) -> dict:
    """Per-label counts summing to round(n * fraction) (largest remainders); singletons are never taken."""
    eligible = {k: n for k, n in sizes.items() if n > 1}
    target = min(int(round(sum(sizes.values()) * fraction)), sum(n - 1 for n in eligible.values()))
    exact = {k: n * fraction for k, n in eligible.items()}
    quotas = {k: min(int(v), eligible[k] - 1) for k, v in exact.items()}
    by_remainder = sorted(eligible, key=lambda k: (exact[k] - int(exact[k]), str(k)), reverse=True)
    while sum(quotas.values()) < target:
        progressed = False
        for k in by_remainder:
            if sum(quotas.values()) >= target:
                break
            if quotas[k] < eligible[k] - 1:
                quotas[k] += 1
                progressed = True
        if not progressed:
            break
    return quotas


def stratified_split(
    examples: Sequence[Example], task: str, fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """(rest, held-out slice of round(n * fraction)) with each label's share kept, seeded."""
    rng = random.Random(seed)
    groups = sorted(_by_label(examples, task).items(), key=lambda kv: str(kv[0]))
    quotas = _quotas({label: len(group) for label, group in groups}, fraction)
    rest, held = [], []
    for label, group in groups:
        group = list(group)
        rng.shuffle(group)
        k = quotas.get(label, 0)
        held.extend(group[:k])
        rest.extend(group[k:])
    rng.shuffle(rest)
    rng.shuffle(held)
    return rest, held


def stratified_sample(examples: Sequence[Example], task: str, n: int, seed: int) -> list[Example]:
    """``n`` examples with the label shares kept (labels with a single example are left out)."""
    if n >= len(examples):
        return list(examples)
    _, sample = stratified_split(examples, task, n / len(examples), seed)
    return sample


def near_duplicate_mask(texts: Sequence[str], reference: Sequence[str]) -> list[bool]:
    """True where a text repeats a reference text once links and case are ignored."""
    seen = {dedup_key(t) for t in reference}
    return [dedup_key(t) in seen for t in texts]
