"""Recipes made of several trainings: the shared model taught by single-task teachers.

The topic corpus has no sentiment labels and the sentiment corpora no topic labels. A topic-only and a
sentiment-only model, trained with the same recipe and seed, each label the other corpus for the shared model
(``monitor.model.pseudo``). The two are also the references the shared model's parity is measured against,
so they are kept beside it and their valid scores reported. Measured on the 2-core CPU over three seeds
(``docs/model.md``): the shared model at parity with them on both tasks, where plain ``full`` is 1.2 points of
topic behind.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from monitor.model.arguments import TrainingArguments
from monitor.model.backbone import DEFAULT_BACKBONE_NAME
from monitor.model.corpora import DEFAULT_DOMAINS, bundled_root
from monitor.model.directory import ModelDirectory
from monitor.model.errors import TrainingDataError
from monitor.model.labels import TASK_LABELS
from monitor.model.training import TrainResult, train_model

log = logging.getLogger(__name__)

TEACHER_TASKS = ("topic", "sentiment")


@dataclass(frozen=True)
class TaughtResult:
    """The shared model, and per task the single-task teacher's directory, its valid scores and whether this
    run trained it (False: an earlier run's, trained with the same arguments, was reused)."""

    student: TrainResult
    teachers: dict[str, Path]
    references: dict[str, dict]
    trained: dict[str, bool]

    def parity(self) -> dict[str, dict[str, float]]:
        """Per task: the shared model's accuracy and macro-F1 minus its teacher's, on the same valid split."""
        gaps = {}
        for task, reference in self.references.items():
            mine = self.student.config.scores.get(task) or {}
            if mine and reference:
                gaps[task] = {k: mine[k] - reference[k] for k in ("accuracy", "macro_f1")}
        return gaps


def teachers_dir_for(out: str | Path) -> Path:
    """Where the teachers go by default: beside the model, ``OUT-teachers/{topic,sentiment}``."""
    out = Path(out)
    return out.with_name(out.name + "-teachers")


def train_with_single_task_teachers(
    args: TrainingArguments,
    *,
    out: str | Path,
    teachers_dir: str | Path | None = None,
    backbone: str | Path | None = None,
    extra: str | Path | None = None,
    version: str | None = None,
    data_root: str | Path | None = None,
    progress: bool = True,
) -> TaughtResult:
    """Train a topic-only and a sentiment-only model with ``args``, then the shared model with both as teachers.

    A teacher directory that already holds a model is reused when that model has that one head and was trained
    with these very arguments and no extra labels (so an interrupted run resumes after its teachers); any other
    model there is refused rather than overwritten.
    """
    if args.distillation:
        raise TrainingDataError("single-task teachers give hard labels for each text's missing task; leave "
                                "--distill out")
    teachers_dir = Path(teachers_dir) if teachers_dir is not None else teachers_dir_for(out)
    if teachers_dir.resolve() == Path(out).resolve():
        raise TrainingDataError(f"the teachers' directory {teachers_dir} is the model's own; pass another "
                                "--teachers-dir")
    resolved = args if args.domains is not None else replace(args, domains=list(DEFAULT_DOMAINS))
    teachers: dict[str, Path] = {}
    references: dict[str, dict] = {}
    trained: dict[str, bool] = {}
    for task in TEACHER_TASKS:
        path = teachers_dir / task
        reusable = _reusable(path, task, resolved, extra=extra, backbone=backbone, data_root=data_root)
        if not reusable:
            log.info("single-task teacher %s: training into %s", task, path)
            train_model(args, out=path, backbone=backbone, extra=extra, data_root=data_root, progress=progress,
                        version=f"{version}-{task}-only" if version else None,
                        tasks={task: list(TASK_LABELS[task])})
        else:
            log.info("single-task teacher %s: reusing %s (trained with the same arguments)", task, path)
        teachers[task] = path
        references[task] = dict(ModelDirectory(path).scores.get(task) or {})
        trained[task] = not reusable
    student = train_model(args, out=out, backbone=backbone, extra=extra, version=version, data_root=data_root,
                          progress=progress, teacher=[teachers[t] for t in TEACHER_TASKS])
    return TaughtResult(student=student, teachers=teachers, references=references, trained=trained)


def _reusable(path: Path, task: str, args: TrainingArguments, *, extra: str | Path | None,
              backbone: str | Path | None, data_root: str | Path | None) -> bool:
    """True for a complete single-``task`` model trained with ``args`` from the same backbone and data; False
    where nothing is there yet. Anything else in the way is a one-line error: a run never overwrites a model it
    did not write."""
    directory = ModelDirectory(path)
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        return False
    if not directory.exists() or directory.missing():
        raise TrainingDataError(f"{path} holds something other than a complete model; remove it or pass another "
                                "--teachers-dir")
    config = directory.config
    recorded = (config.training or {}).get("arguments")
    wanted = json.loads(json.dumps(asdict(args)))  # as config.json holds them: tuples read back as lists
    if list(config.tasks) != [task]:
        reason = f"it has the heads {', '.join(config.tasks)}, not {task} alone"
    elif extra is not None:
        reason = "this run adds extra labels, which a teacher trained before may not have seen"
    elif config.backbone != (str(backbone) if backbone is not None else DEFAULT_BACKBONE_NAME):
        reason = f"it was trained from another backbone ({config.backbone})"
    elif (config.training or {}).get("data", {}).get("data_root") != str(Path(data_root) if data_root
                                                                          else bundled_root()):
        reason = "it was trained on another --data-root"
    elif recorded != wanted:
        differing = sorted(k for k in set(recorded or {}) | set(wanted) if (recorded or {}).get(k) != wanted.get(k))
        reason = f"it was trained with other settings ({', '.join(differing[:4]) or 'none recorded'})"
    else:
        return True
    raise TrainingDataError(f"{path} already holds a model and {reason}; remove it or pass another --teachers-dir")
