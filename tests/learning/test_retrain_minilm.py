"""One retrain with the real MiniLM backbone (slow): the job works with the production default."""

import csv
import random
import shutil

import pytest

from monitor import datasets
from monitor.learning import NewLabel, get_champion, insert_labels
from monitor.learning.retrain import run_retrain
from monitor.model.labels import normalize_sentiment
from monitor.store import transaction

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_retrain_with_the_real_backbone_registers_a_scored_champion(settings, session_factory, tmp_path):
    # The two base corpora only: at this tiny budget (200 examples a corpus, one short epoch) the retail
    # sets, which have no neutral class, would be half the sentiment data and the check below would measure
    # the data mix, not whether the job trains a real encoder.
    base = tmp_path / "base-corpora"
    for corpus in ("twitter-fin-topic", "twitter-fin-sentiment"):
        shutil.copytree(datasets.path(corpus), base / corpus)
    with datasets.path("twitter-fin-sentiment/train.csv").open(newline="", encoding="utf-8") as fh:
        rows = random.Random(0).sample(list(csv.DictReader(fh)), 80)
    with transaction(session_factory) as s:
        labels = [NewLabel(r["text"], sentiment=normalize_sentiment(r["label"])) for r in rows]
        insert_labels(labels, session=s)
    settings.learning = settings.learning.model_copy(update={
        "min_new_labels": 50, "preset": "quick", "max_steps": 40,
        "base_limit": 200, "eval_limit": 150, "training_timeout_minutes": 20,
        "data_root": base,
    })
    settings.model.device = "cpu"

    result = run_retrain(settings.learning, settings.model, session_factory)

    assert result.status == "promoted", result
    with transaction(session_factory) as s:
        champion = get_champion(session=s)
    assert champion.version == result.version
    assert champion.scores["topic"]["n"] == 150 and champion.scores["sentiment"]["n"] == 150
    assert champion.scores["sentiment"]["accuracy"] > 0.45  # three classes; the pretrained encoder helps
