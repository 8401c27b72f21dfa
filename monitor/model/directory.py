"""``ModelDirectory``: the one reader of a model folder (config, version, scores, card, completeness).

Everything that looks inside a model directory without loading the network (the registry CLI, the retrain
job, the demo, the dashboard) goes through here, so a layout change is made in one place.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

from monitor.model.config import CONFIG_NAME, WEIGHTS_NAME, ModelConfig
from monitor.model.errors import ModelLoadError

CARD_NAME = "card.md"
EVALUATION_NAME = "evaluation.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
# A fast tokenizer saves tokenizer.json; a slow WordPiece one only vocab.txt. Either one suffices.
TOKENIZER_VOCABULARIES = ("tokenizer.json", "vocab.txt")


class ModelDirectory:
    """A model directory written by ``monitor train``; reads are lazy and errors are one line."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ModelDirectory({str(self.path)!r})"

    def exists(self) -> bool:
        return (self.path / CONFIG_NAME).is_file()

    @cached_property
    def config(self) -> ModelConfig:
        if not self.path.is_dir():
            raise ModelLoadError(
                f"model directory {self.path} does not exist; train one with `monitor train --out DIR`"
            )
        return ModelConfig.load(self.path)

    @property
    def version(self) -> str:
        """``config.version``, else the directory's name (a hand-copied folder may have an empty version)."""
        return self.config.version or self.path.resolve().name

    @property
    def scores(self) -> dict[str, Any]:
        return self.config.scores

    @property
    def temperatures(self) -> dict[str, float]:
        return self.config.temperatures

    def missing(self) -> list[str]:
        """Files a loadable directory needs that are absent (empty when complete)."""
        absent = [name for name in (CONFIG_NAME, WEIGHTS_NAME, TOKENIZER_CONFIG) if not (self.path / name).is_file()]
        if not any((self.path / name).is_file() for name in TOKENIZER_VOCABULARIES):
            absent.append(" or ".join(TOKENIZER_VOCABULARIES))
        return absent

    def check(self) -> ModelDirectory:
        """Itself if complete and its config parses, else :class:`ModelLoadError` saying what is wrong."""
        if not self.path.is_dir() or not (self.path / CONFIG_NAME).is_file():
            raise ModelLoadError(
                f"{self.path} is not a model directory (no {CONFIG_NAME}); train one with `monitor train --out DIR`"
            )
        absent = self.missing()
        if absent:
            raise ModelLoadError(f"model directory {self.path} is incomplete: missing {', '.join(absent)}; "
                                 "retrain or restore it")
        _ = self.config
        return self

    def check_serves(self) -> ModelDirectory:
        """:meth:`check`, and both heads there: a single-task model (``monitor train --task``) is a reference or a
        teacher, and the worker cannot serve it."""
        missing = [task for task in ("topic", "sentiment") if task not in self.check().config.tasks]
        if missing:
            raise ModelLoadError(f"model {self.path} has no {' or '.join(missing)} head (trained with --task); "
                                 "register a model with both heads")
        return self

    def card(self) -> str | None:
        """The model card (``card.md``) written at the end of training, or None for older directories."""
        try:
            return (self.path / CARD_NAME).read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            return None

    def card_or_summary(self) -> str:
        """The card, or one rendered from ``config.json`` alone for directories trained before cards."""
        from monitor.model.card import render_card

        return self.card() or render_card(self.config, self.evaluation())

    def evaluation(self) -> dict[str, Any]:
        """The full valid-set reports (per class, confusion) the trainer wrote, or {}."""
        try:
            return json.loads((self.path / EVALUATION_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def base_example_count(self) -> int | None:
        """Examples the trainer took from the bundled corpora (train + dev), as config.json records."""
        try:
            corpora = self.config.training["data"]["corpora"].values()
            return sum(int(c.get("train", 0)) + int(c.get("dev", 0)) for c in corpora)
        except (ModelLoadError, KeyError, TypeError, AttributeError, ValueError):
            return None
