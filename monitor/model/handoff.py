"""The trainer's hand-off across a process boundary: a JSON request in (a recipe and the data paths), a JSON
result out. The retrain job writes the request, ``monitor train --request FILE`` runs it in a child process.

Torch-free: the parent only reads and writes these files; :func:`run_request` loads the trainer lazily.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from monitor.model.arguments import TrainingArguments
from monitor.model.errors import TrainingDataError

_PATHS = ("out", "result_file", "extra", "init_from", "data_root", "teacher")


@dataclass(frozen=True)
class TrainingRequest:
    """One training run: the recipe, where the data comes from and where the model and the result go."""

    arguments: TrainingArguments
    out: Path
    version: str
    result_file: Path
    extra: Path | None = None  # labels CSV/JSONL (text,topic,sentiment)
    init_from: Path | None = None  # warm start: the model directory to fine-tune
    data_root: Path | None = None  # base corpora laid out like monitor/datasets
    backbone: str | None = None
    teacher: Path | None = None  # a model whose confident predictions fill missing labels (cross-task pseudo-labels)

    def write(self, path: Path) -> Path:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["arguments"] = asdict(self.arguments)
        data.update({name: None if data[name] is None else str(data[name]) for name in _PATHS})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, path: Path) -> TrainingRequest:
        data = _read_object(path, "training request")
        try:
            arguments = TrainingArguments(**data.pop("arguments"))
            paths = {name: None if data.get(name) is None else Path(data[name]) for name in _PATHS}
            return cls(arguments=arguments, **{**data, **paths})
        except (KeyError, TypeError) as exc:
            raise TrainingDataError(f"training request {path} does not fit TrainingRequest ({exc})") from None


@dataclass(frozen=True)
class TrainingResult:
    """What the child reports back: the model it wrote and its scores on the valid splits."""

    version: str
    directory: Path
    scores: dict[str, dict[str, float]]  # task -> accuracy, macro_f1, n
    seconds: float
    base_examples: int | None  # examples taken from the base corpora (train + dev)

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**asdict(self), "directory": str(self.directory)}, indent=2) + "\n",
                        encoding="utf-8")
        return path

    @classmethod
    def read(cls, path: Path) -> TrainingResult:
        data = _read_object(path, "training result")
        try:
            return cls(**{**data, "directory": Path(data["directory"])})
        except (KeyError, TypeError) as exc:
            raise TrainingDataError(f"training result {path} does not fit TrainingResult ({exc})") from None


def _read_object(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TrainingDataError(f"cannot read the {what} {path} ({exc})") from None
    if not isinstance(data, dict):
        raise TrainingDataError(f"the {what} {path} is not a JSON object")
    return data


def run_request(request: TrainingRequest) -> TrainingResult:
    """Train as asked, save the model to ``request.out`` and write the result to ``request.result_file``."""
    from monitor.model.directory import ModelDirectory
    from monitor.model.training import train_model

    for given in (request.init_from, request.teacher):
        if given is not None:
            ModelDirectory(given).check()
    trained = train_model(request.arguments, out=request.out, backbone=request.backbone, extra=request.extra,
                          version=request.version, data_root=request.data_root, init_from=request.init_from,
                          teacher=request.teacher)
    result = TrainingResult(
        version=trained.config.version,
        directory=Path(trained.directory),
        scores={task: {"accuracy": r.accuracy, "macro_f1": r.macro_f1, "n": r.n} for task, r in trained.valid.items()},
        seconds=round(trained.seconds, 1),
        base_examples=ModelDirectory(trained.directory).base_example_count(),
    )
    result.write(request.result_file)
    return result
