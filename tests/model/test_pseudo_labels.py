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


def _disagreement(model_dir, teacher_dir, texts):
    """Mean KL(teacher || model) over both heads on ``texts``: the teacher's calibrated probabilities (the soft
    targets) against the model's raw ones (what the loss pulled; its own temperature is fitted afterwards)."""
    import numpy as np

    from monitor.model.inference import predict_probabilities, tokenize
    from monitor.model.serialization import load_model

    model, tokenizer = load_model(model_dir)
    model.config.temperatures = {}
    ours = predict_probabilities(model, tokenize(tokenizer, texts, 32, model.config.text_preprocessing),
                                 pad_id=tokenizer.pad_token_id or 0)
    theirs = Predictor.from_directory(teacher_dir, device="cpu").predict_proba(texts)
    return sum(float(np.mean(np.sum(theirs[t] * (np.log(theirs[t] + 1e-9) - np.log(ours[t] + 1e-9)), axis=1)))
               for t in ("topic", "sentiment"))


def test_a_distilled_student_follows_its_teacher_and_records_it(tiny_encoder_dir, tmp_path):
    def train(name, distillation, seed, teacher=None):
        args = preset("full", limit=40, epochs=3, max_steps=24, learning_rate=3e-3, max_length=32, seed=seed,
                      distillation=distillation, label_smoothing=0.0)
        return train_model(args, out=tmp_path / name, backbone=tiny_encoder_dir, version=name, progress=False,
                           teacher=teacher)

    teacher = tmp_path / "teacher"
    train("teacher", 0.0, seed=5)
    distilled = train("distilled", 0.9, seed=6, teacher=teacher)
    train("plain", 0.0, seed=6)
    record = distilled.config.training
    n_train = sum(c["train"] for c in record["data"]["corpora"].values())
    assert record["distillation"] == {"teacher": "teacher", "teacher_path": str(teacher.resolve()), "weight": 0.9,
                                      "texts": n_train}
    assert record["pseudo_labels"] is None  # soft targets instead of hard labels
    assert "Distilled from model `teacher`" in (tmp_path / "distilled" / "card.md").read_text()
    texts = [e.text for e in _data().train]
    assert _disagreement(tmp_path / "distilled", teacher, texts) < _disagreement(tmp_path / "plain", teacher, texts)


def test_soft_targets_on_the_missing_task_only_are_recorded_and_refuse_hard_labels(teacher, tiny_encoder_dir,
                                                                                   tmp_path):
    from monitor.model.errors import TrainingDataError

    args = preset("quick", limit=40, max_steps=2, distillation=0.5, distill_missing_only=True)
    result = train_model(args, out=tmp_path / "missing", backbone=tiny_encoder_dir, teacher=teacher, progress=False)
    record = result.config.training
    assert record["distillation"]["missing_only"] is True and record["distillation"]["weight"] == 0.5
    assert record["pseudo_labels"] is None
    assert "probabilities of the task each text has no gold label for" in (tmp_path / "missing" / "card.md").read_text()
    with pytest.raises(TrainingDataError, match="need a distillation weight"):
        preset("full", distill_missing_only=True)
    with pytest.raises(TrainingDataError, match="choose one"):
        preset("full", distillation=0.2, distill_missing_only=True, distill_with_pseudo_labels=True)


def test_distillation_needs_a_teacher_with_the_same_labels(teacher, tiny_encoder_dir, tmp_path):
    from monitor.model.errors import TrainingDataError
    from monitor.model.pseudo import soft_targets

    with pytest.raises(TrainingDataError, match="distillation 0.5 needs a teacher: pass --teacher MODEL_DIR"):
        train_model(preset("full", distillation=0.5), out=tmp_path / "m", backbone=tiny_encoder_dir, progress=False)
    assert not (tmp_path / "m").exists()
    other = {"topic": list(TASK_LABELS["topic"])[:-1], "sentiment": list(TASK_LABELS["sentiment"])}
    with pytest.raises(TrainingDataError, match="has other topic labels"):
        soft_targets(_data().train, teacher, weight=0.5, tasks=other)
    probs, _ = soft_targets(_data().train, teacher, weight=0.5, tasks=TASK_LABELS)
    assert {t: p.shape for t, p in probs.items()} == {"topic": (len(_data().train), 20),
                                                       "sentiment": (len(_data().train), 3)}


def test_a_teacher_that_fills_nothing_leaves_the_run_exactly_as_without_one(teacher, tiny_encoder_dir, tmp_path):
    """Loading the teacher draws no random numbers the student would have drawn: same start, same batches."""
    import torch

    from monitor.model.serialization import load_model

    args = preset("full", limit=40, max_steps=4, max_length=32, pseudo_min_confidence=1.01, seed=11)
    train_model(args, out=tmp_path / "with", backbone=tiny_encoder_dir, teacher=teacher, progress=False)
    train_model(args, out=tmp_path / "without", backbone=tiny_encoder_dir, progress=False)
    with_teacher, without = (load_model(tmp_path / name)[0].state_dict() for name in ("with", "without"))
    assert all(torch.equal(with_teacher[k], without[k]) for k in without)


def test_one_teacher_pass_gives_the_hard_labels_and_the_soft_targets_they_came_from(teacher, monkeypatch):
    from monitor.model.pseudo import _Teacher, soft_targets, teach

    data = _data()
    seen = []
    original = _Teacher.probabilities
    monkeypatch.setattr(_Teacher, "probabilities",
                        lambda self, texts: seen.append(len(texts)) or original(self, texts))
    filled, pseudo, soft, distilled = teach(data.train, teacher, min_confidence=0.0, distillation=0.3,
                                            tasks=TASK_LABELS)
    assert sum(seen) == len(data.train)  # every text once, not once per use
    monkeypatch.setattr(_Teacher, "probabilities", original)
    alone, alone_summary = add_pseudo_labels(data.train, teacher, min_confidence=0.0)
    assert filled == alone and pseudo == alone_summary
    only_soft, only_summary = soft_targets(data.train, teacher, weight=0.3, tasks=TASK_LABELS)
    assert distilled == only_summary and distilled["weight"] == 0.3
    labels = {t: list(v) for t, v in TASK_LABELS.items()}
    for task in ("topic", "sentiment"):
        assert soft[task] == pytest.approx(only_soft[task], abs=1e-6)
        for i, (before, after) in enumerate(zip(data.train, filled, strict=True)):
            if before.label(task) is None:  # the hard label is the argmax of the very row distilled from
                assert after.label(task) == labels[task][int(soft[task][i].argmax())]


def test_a_distilled_run_can_keep_the_hard_pseudo_labels_too(teacher, tiny_encoder_dir, tmp_path):
    from monitor.model.errors import TrainingDataError

    args = preset("quick", limit=40, max_steps=2, pseudo_min_confidence=0.0, distillation=0.2,
                  distill_with_pseudo_labels=True)
    result = train_model(args, out=tmp_path / "both", backbone=tiny_encoder_dir, teacher=teacher, progress=False)
    record = result.config.training
    assert record["pseudo_labels"]["sentiment"]["filled"] > 0 and record["pseudo_labels"]["topic"]["filled"] > 0
    assert record["distillation"]["weight"] == 0.2 and record["arguments"]["distill_with_pseudo_labels"] is True
    card = (tmp_path / "both" / "card.md").read_text()
    assert "pseudo-labels from model `t1`" in card and "Distilled from model `t1`" in card
    with pytest.raises(TrainingDataError, match="need a distillation weight"):
        preset("full", distill_with_pseudo_labels=True)


def test_the_analysts_labels_are_never_distilled_only_the_corpus_texts(teacher, tiny_encoder_dir, tmp_path,
                                                                       monkeypatch):
    import numpy as np

    import monitor.model.training as training

    extra = tmp_path / "labels.csv"
    extra.write_text("text,sentiment\n" + "".join(f"$T{i} is going to zero,negative\n" for i in range(7)))
    seen = {}

    class Watched(training.TrainingLoop):
        def __init__(self, model, tokenizer, data, args, progress, soft_targets=None):
            seen.update(soft=soft_targets, extra=data.sources["extra"], n=len(data.train))
            super().__init__(model, tokenizer, data, args, progress, soft_targets=soft_targets)

    monkeypatch.setattr(training, "TrainingLoop", Watched)
    args = preset("quick", limit=40, max_steps=2, distillation=0.3)
    result = train_model(args, out=tmp_path / "m", backbone=tiny_encoder_dir, teacher=teacher, extra=extra,
                         progress=False)
    assert len(seen["extra"]) == 7
    for task, p in seen["soft"].items():
        assert p.shape[0] == seen["n"]
        assert not p[seen["extra"]].any(), task  # the analysts' rows: no teacher target at all
        others = np.delete(p, seen["extra"], axis=0)
        assert np.allclose(others.sum(axis=1), 1.0, atol=1e-4), task  # every corpus text: a distribution
    distilled = result.config.training["distillation"]
    assert distilled["extra_not_distilled"] == 7 and distilled["texts"] == seen["n"] - 7
    assert "(not on the 7 analysts' labels)" in (tmp_path / "m" / "card.md").read_text()


@pytest.fixture(scope="module")
def single_task_teachers(tiny_encoder_dir, tmp_path_factory):
    """A topic-only and a sentiment-only model, as the model issue's single-task teachers."""
    root = tmp_path_factory.mktemp("single")
    for task, seed in (("topic", 5), ("sentiment", 6)):
        train_model(preset("quick", limit=40, max_steps=2, seed=seed), out=root / task, backbone=tiny_encoder_dir,
                    tasks={task: list(TASK_LABELS[task])}, version=f"{task}-only", progress=False)
    return root / "topic", root / "sentiment"


def _single_task_probabilities(path, texts):
    from monitor.model.pseudo import _teachers

    (loaded,), _ = _teachers(path, None)
    return loaded.probabilities(texts)


def test_single_task_teachers_each_fill_their_own_task(single_task_teachers):
    topic_dir, sentiment_dir = single_task_teachers
    data = _data()
    filled, summary = add_pseudo_labels(data.train, [topic_dir, sentiment_dir], min_confidence=0.0,
                                        tasks=TASK_LABELS)
    texts = [e.text for e in data.train]
    own = {"topic": _single_task_probabilities(topic_dir, texts)["topic"],
           "sentiment": _single_task_probabilities(sentiment_dir, texts)["sentiment"]}
    for i, (before, after) in enumerate(zip(data.train, filled, strict=True)):
        for task in ("topic", "sentiment"):
            truth = before.label(task)
            expected = truth if truth is not None else TASK_LABELS[task][int(own[task][i].argmax())]
            assert after.label(task) == expected
    assert summary["teacher"] == "topic-only + sentiment-only"
    assert summary["topic"]["filled"] == sum(e.topic is None for e in data.train) > 0
    assert summary["sentiment"]["filled"] == sum(e.sentiment is None for e in data.train) > 0


def test_for_hard_labels_each_single_task_teacher_reads_only_the_texts_missing_its_task(single_task_teachers,
                                                                                       monkeypatch):
    from monitor.model.pseudo import _Teacher

    read: dict[str, list[str]] = {}
    original = _Teacher.probabilities
    monkeypatch.setattr(_Teacher, "probabilities",
                        lambda self, texts: read.setdefault(self.version, []).extend(texts) or original(self, texts))
    data = _data()
    add_pseudo_labels(data.train, list(single_task_teachers), min_confidence=0.5, tasks=TASK_LABELS)
    assert sorted(read["topic-only"]) == sorted(e.text for e in data.train if e.topic is None)
    assert sorted(read["sentiment-only"]) == sorted(e.text for e in data.train if e.sentiment is None)


def test_a_task_two_teachers_share_gets_the_mean_of_their_probabilities(teacher, single_task_teachers):
    from monitor.model.pseudo import soft_targets

    topic_dir, sentiment_dir = single_task_teachers
    data = _data()
    texts = [e.text for e in data.train]
    soft, summary = soft_targets(data.train, [teacher, topic_dir, sentiment_dir], weight=0.3, tasks=TASK_LABELS)
    both = _single_task_probabilities(teacher, texts)
    assert soft["topic"] == pytest.approx((both["topic"] + _single_task_probabilities(topic_dir, texts)["topic"]) / 2,
                                          abs=1e-6)
    assert soft["sentiment"] == pytest.approx(
        (both["sentiment"] + _single_task_probabilities(sentiment_dir, texts)["sentiment"]) / 2, abs=1e-6)
    assert soft["topic"].sum(axis=1) == pytest.approx(1.0, abs=1e-5)
    assert summary["teacher"] == "t1 + topic-only + sentiment-only"


@pytest.mark.parametrize("which", [0, 1])
def test_a_single_task_teacher_alone_is_refused_in_one_line(single_task_teachers, which):
    from monitor.model.errors import TrainingDataError

    lacking = ("sentiment", "topic")[which]
    with pytest.raises(TrainingDataError, match=rf"no teacher gives {lacking} .*add a model with that head") as no:
        add_pseudo_labels(_data().train, single_task_teachers[which], min_confidence=0.5, tasks=TASK_LABELS)
    assert "\n" not in str(no.value)


def test_a_teacher_of_no_task_of_the_training_is_refused_in_one_line(single_task_teachers):
    from monitor.model.errors import TrainingDataError

    topic_dir, sentiment_dir = single_task_teachers
    data = _data()
    with pytest.raises(TrainingDataError, match=r"has none of this training's heads \(sentiment\); leave it out"):
        add_pseudo_labels(data.train, [sentiment_dir, topic_dir], min_confidence=0.5,
                          tasks={"sentiment": list(TASK_LABELS["sentiment"])})


def test_a_run_with_single_task_teachers_records_both_on_its_card(single_task_teachers, tiny_encoder_dir, tmp_path):
    args = preset("quick", limit=40, max_steps=2, pseudo_min_confidence=0.0)
    result = train_model(args, out=tmp_path / "s", backbone=tiny_encoder_dir, teacher=list(single_task_teachers),
                         progress=False)
    pseudo = result.config.training["pseudo_labels"]
    assert pseudo["teacher"] == "topic-only + sentiment-only"
    assert pseudo["teacher_path"] == " + ".join(str(p.resolve()) for p in single_task_teachers)
    assert pseudo["topic"]["filled"] > 0 and pseudo["sentiment"]["filled"] > 0
    assert "pseudo-labels from model `topic-only + sentiment-only`" in (tmp_path / "s" / "card.md").read_text()
