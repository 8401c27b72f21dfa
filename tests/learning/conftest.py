"""Helpers for the continuous-learning tests: run the CLI as a user would, with this test's settings."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from synthetic_data import synthetic_examples, write_csv

from monitor.settings import Settings, settings_env


@pytest.fixture
def run_cli(settings: Settings):
    def run(*args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **settings_env(settings), **(extra_env or {})}
        return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True,
                              env=env, timeout=300)

    return run


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory):
    """Tiny encoder, base corpora laid out like monitor/datasets, fixed evaluation sets (session-wide)."""
    from types import SimpleNamespace

    from monitor.model.testing import make_tiny_encoder

    root = tmp_path_factory.mktemp("synthetic")
    for column, folder in ((1, "twitter-fin-topic"), (2, "twitter-fin-sentiment")):
        for split, n, seed in (("train", 80, 10 + column), ("valid", 20, 20 + column)):
            rows = [(e[0], e[column]) for e in synthetic_examples(n, seed)]
            write_csv(root / "base" / folder / f"{split}.csv", ["text", "label"], rows)
    evaluation = synthetic_examples(120, seed=99)
    return SimpleNamespace(
        encoder=make_tiny_encoder(root / "encoder"),
        data_root=root / "base",
        eval_topic=write_csv(root / "eval_topic.csv", ["text", "label"], [(e[0], e[1]) for e in evaluation]),
        eval_sentiment=write_csv(root / "eval_sentiment.csv", ["text", "label"],
                                 [(e[0], e[2]) for e in evaluation]),
    )


@pytest.fixture
def retrain_settings(settings: Settings, synthetic) -> Settings:
    """The test's settings with a seconds-long, seeded retrain on the synthetic corpus."""
    learning = settings.learning.model_copy(update={
        "min_new_labels": 50, "preset": "full", "backbone": str(synthetic.encoder),
        "learning_rate": 3e-3, "epochs": 40, "max_steps": 60, "seed": 0,
        "data_root": synthetic.data_root, "eval_topic_path": synthetic.eval_topic,
        "eval_sentiment_path": synthetic.eval_sentiment, "promotion_tolerance": 0.02, "holdout_fraction": 0.2,
        "training_timeout_minutes": 10,
    })
    model = settings.model.model_copy(update={"device": "cpu"})
    return settings.model_copy(update={"learning": learning, "model": model})
