"""Cross-task pseudo-labels: a teacher fills each train text's missing task, confidently or not at all."""

import pytest

from monitor.model.arguments import preset
from monitor.model.corpora import load_training_data
from monitor.model.labels import TASK_LABELS
from monitor.model.predictor import Predictor
from monitor.model.pseudo import add_pseudo_labels
from monitor.model.training import train_model


@pytest.fixture(scope="module")
def teacher(tiny_encoder_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("teacher") / "m"
    train_model(preset("quick", limit=40, max_steps=2), out=out, backbone=tiny_encoder_dir, version="t1",
                progress=False)
    return out


def _data():
    return load_training_data({t: list(v) for t, v in TASK_LABELS.items()}, seed=3, limit=40, domains=[])


def test_every_missing_label_is_the_teachers_prediction_and_true_labels_stay(teacher):
    data = _data()
    filled, summary = add_pseudo_labels(data.train, teacher, min_confidence=0.0)
    assert all(e.topic is not None and e.sentiment is not None for e in filled)  # threshold 0: every gap filled
    said = {p_text: p for p_text, p in zip([e.text for e in data.train],
                                            Predictor.from_directory(teacher, device="cpu").predict(
                                                [e.text for e in data.train]), strict=True)}
    for before, after in zip(data.train, filled, strict=True):
        assert after.text == before.text
        for task in ("topic", "sentiment"):
            truth = before.label(task)
            assert after.label(task) == (truth if truth is not None else getattr(said[before.text], task))
    missing_sentiment = sum(e.sentiment is None for e in data.train)
    assert summary["sentiment"]["filled"] == missing_sentiment > 0 and summary["sentiment"]["left_unlabeled"] == 0
    assert summary["topic"]["filled"] == sum(e.topic is None for e in data.train) > 0
    assert summary["teacher"] == "t1"


def test_an_unconfident_teacher_fills_nothing(teacher):
    data = _data()
    filled, summary = add_pseudo_labels(data.train, teacher, min_confidence=1.01)
    assert filled == data.train
    assert summary["topic"]["filled"] == summary["sentiment"]["filled"] == 0
    assert summary["sentiment"]["left_unlabeled"] == sum(e.sentiment is None for e in data.train)


def test_a_run_with_a_teacher_records_it_and_keeps_dev_on_gold_labels(teacher, tiny_encoder_dir, tmp_path):
    args = preset("quick", limit=40, max_steps=2, pseudo_min_confidence=0.0)
    result = train_model(args, out=tmp_path / "s", backbone=tiny_encoder_dir, teacher=teacher, progress=False)
    pseudo = result.config.training["pseudo_labels"]
    assert pseudo["teacher"] == "t1" and pseudo["sentiment"]["filled"] > 0 and pseudo["topic"]["filled"] > 0
    # The dev slice is the corpora's own gold labels: one task per text, as before.
    fit = result.config.training["calibration"]
    assert fit["topic"]["fit_n"] == 4
    card = (tmp_path / "s" / "card.md").read_text()
    assert "pseudo-labels from model `t1`" in card and f"sentiment on {pseudo['sentiment']['filled']}" in card


def test_a_teacher_with_other_labels_is_refused_in_one_line(teacher):
    from monitor.model.errors import TrainingDataError

    other = {"topic": list(TASK_LABELS["topic"]), "sentiment": ["bearish", "neutral", "bullish"]}
    with pytest.raises(TrainingDataError, match=r"has other sentiment labels than this training") as refused:
        add_pseudo_labels(_data().train, teacher, min_confidence=0.5, tasks=other)
    assert "\n" not in str(refused.value)
    _, summary = add_pseudo_labels(_data().train, teacher, min_confidence=0.5, tasks=TASK_LABELS)  # same: fine
    assert summary["teacher"] == "t1"
