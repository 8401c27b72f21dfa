"""The retrain job end to end with a tiny encoder: train in a subprocess, gate, register, promote or not."""

from pathlib import Path

import pytest
from sqlalchemy import func, select
from synthetic_data import shuffled, synthetic_examples

from monitor.learning import NewLabel, get_champion, insert_labels, list_versions, register_version
from monitor.learning.retrain import run_retrain
from monitor.model.directory import ModelDirectory
from monitor.store import transaction
from monitor.store.orm import Label, TrainingRun

pytestmark = pytest.mark.integration


def store(session_factory, examples, origin="import"):
    with transaction(session_factory) as s:
        labels = [NewLabel(text, topic, sentiment, origin=origin) for text, topic, sentiment in examples]
        return insert_labels(labels, session=s)


def run_row(session_factory, run_id):
    with transaction(session_factory) as s:
        return s.get_one(TrainingRun, run_id)


def test_labels_train_a_champion_and_shuffled_corrections_are_rejected(retrain_settings, session_factory):
    examples = synthetic_examples(150, seed=7)
    assert store(session_factory, examples) == 150

    first = run_retrain(retrain_settings.learning, retrain_settings.model, session_factory)
    assert first.status == "promoted", first
    run = run_row(session_factory, first.run_id)
    assert run.status == "promoted" and run.champion_version is None and run.error is None
    assert run.n_new_labels == 150 and 100 <= run.n_labels <= 140  # the held-out slice is not trained on
    assert run.n_base_examples == 160
    champion_scores = run.candidate_scores
    assert champion_scores["topic"]["accuracy"] > 0.65, champion_scores  # chance is 0.25
    assert champion_scores["sentiment"]["accuracy"] > 0.65, champion_scores  # chance is 0.33
    assert champion_scores["labels"]["n"] == 2 * (150 - run.n_labels)  # both tasks of each held-out text
    assert "outcomes" not in champion_scores["labels"]  # the gate's per-text outcomes are not stored
    assert champion_scores["drift"] == {"topic": 0.0, "sentiment": 0.0}  # the first champion starts its lineage
    with transaction(session_factory) as s:
        champion = get_champion(session=s)
        assert champion.version == first.version and champion.scores == champion_scores
        assert champion.training_run_id == first.run_id
        used = select(func.count()).select_from(Label).where(Label.used_by_run_id == first.run_id)
        assert s.scalar(used) == 150

    # The same texts again, every label wrong: newer labels win, so the candidate learns the wrong mapping.
    # With a champion now in place, the default retrain warm-starts from it (the replay keeps the base corpora).
    assert store(session_factory, shuffled(examples), origin="dashboard") == 150
    second = run_retrain(retrain_settings.learning, retrain_settings.model, session_factory)
    assert second.status == "rejected", second
    run = run_row(session_factory, second.run_id)
    assert run.champion_version == first.version
    assert run.decision.startswith("rejected")
    assert "texts right only by the candidate" in run.decision  # the paired held-out comparison was made
    assert run.candidate_scores["drift"]["topic"] > 0.1 or run.candidate_scores["drift"]["sentiment"] > 0.1
    assert "outcomes" not in run.candidate_scores["labels"] and "outcomes" not in run.champion_scores["labels"]
    candidate = ModelDirectory(Path(retrain_settings.model.registry_dir).resolve() / second.version).config
    assert candidate.training["init_from"]["version"] == first.version
    gaps = {t: run.champion_scores[t]["macro_f1"] - run.candidate_scores[t]["macro_f1"] for t in ("topic", "sentiment")}
    assert max(gaps.values()) > 0.1, run.decision  # measurably worse, not a coin flip at the tolerance
    assert run.candidate_scores["labels"]["accuracy"] < 0.5  # the held-out corrections are wrong too
    assert run.champion_scores["topic"] == champion_scores["topic"]  # same fixed sets, same champion
    with transaction(session_factory) as s:
        assert get_champion(session=s).version == first.version
        statuses = {v.version: v.status for v in list_versions(session=s)}
        assert statuses == {first.version: "champion", second.version: "rejected"}
        assert s.scalar(select(func.count()).select_from(Label).where(Label.used_by_run_id.is_(None))) == 0


@pytest.mark.parametrize("scratch_teacher", [True, False])
def test_a_scratch_retrain_learns_from_the_champion_as_teacher_when_set(retrain_settings, session_factory, tmp_path,
                                                                         scratch_teacher):
    from monitor.model.testing import make_tiny_model

    champion_dir = make_tiny_model(tmp_path / "champ", version="champ-1")
    with transaction(session_factory) as s:
        register_version("champ-1", str(champion_dir), session=s, status="champion")
    store(session_factory, synthetic_examples(60, seed=4))
    learning = retrain_settings.learning.model_copy(update={"mode": "scratch", "scratch_teacher": scratch_teacher})

    result = run_retrain(learning, retrain_settings.model, session_factory)

    assert result.status in ("promoted", "rejected"), result
    candidate = ModelDirectory(Path(retrain_settings.model.registry_dir).resolve() / result.version).config
    assert candidate.training["init_from"] is None  # from the backbone, not fine-tuned from the champion
    pseudo = candidate.training["pseudo_labels"]
    if not scratch_teacher:
        assert pseudo is None
        return
    assert (pseudo["teacher"], pseudo["teacher_path"]) == ("champ-1", str(champion_dir.resolve()))
    # Each corpus labels one task: the teacher filled or left the other task of each of its train texts (the
    # analysts' labels carry both).
    corpora = candidate.training["data"]["corpora"]
    for task, other in (("topic", "sentiment"), ("sentiment", "topic")):
        lacking = sum(c["train"] for c in corpora.values() if c["task"] == other)
        assert pseudo[task]["filled"] + pseudo[task]["left_unlabeled"] == lacking, (task, pseudo, corpora)


def test_a_warm_retrain_with_distillation_learns_from_the_champion_but_not_on_the_labels(
        retrain_settings, session_factory, tmp_path):
    """Learning without forgetting: the champion is both the start and the teacher; its soft targets cover the
    replayed corpus texts, never the analysts' labels."""
    from monitor.model.testing import make_tiny_model

    champion_dir = make_tiny_model(tmp_path / "champ", version="champ-1")
    with transaction(session_factory) as s:
        register_version("champ-1", str(champion_dir), session=s, status="champion")
    store(session_factory, synthetic_examples(60, seed=5))
    learning = retrain_settings.learning.model_copy(update={"mode": "warm", "distillation": 0.3,
                                                            "sampling_temperature": 5.0})

    result = run_retrain(learning, retrain_settings.model, session_factory)

    assert result.status in ("promoted", "rejected"), result
    run = run_row(session_factory, result.run_id)
    candidate = ModelDirectory(Path(retrain_settings.model.registry_dir).resolve() / result.version).config
    assert candidate.training["init_from"]["version"] == "champ-1"
    distilled = candidate.training["distillation"]
    assert (distilled["teacher"], distilled["weight"]) == ("champ-1", 0.3)
    assert distilled["extra_not_distilled"] == run.n_labels > 0
    assert distilled["texts"] == sum(c["train"] for c in candidate.training["data"]["corpora"].values())
    assert candidate.training["arguments"]["temperature"] == 5.0
    assert candidate.training["pseudo_labels"] is None  # soft targets, no hard labels


def test_training_crash_keeps_the_champion_and_records_failure(retrain_settings, session_factory, tmp_path):
    from monitor.model.testing import make_tiny_model

    champion_dir = make_tiny_model(tmp_path / "champ", version="champ-1")
    with transaction(session_factory) as s:
        register_version("champ-1", str(champion_dir), session=s, status="champion")
    store(session_factory, synthetic_examples(60, seed=3))
    broken = retrain_settings.model_copy(update={"learning": retrain_settings.learning.model_copy(
        update={"backbone": str(tmp_path / "no-such-backbone"), "mode": "scratch"})})

    result = run_retrain(broken.learning, broken.model, session_factory)

    assert result.status == "failed"
    run = run_row(session_factory, result.run_id)
    assert run.status == "failed" and run.finished_at is not None
    assert "TrainingFailed" in run.error and "exited with code" in run.error
    assert "no-such-backbone" in run.error  # the end of the trainer's log says what went wrong
    assert run.decision == "failed: the champion keeps serving"
    with transaction(session_factory) as s:
        assert get_champion(session=s).version == "champ-1"
        assert [v.version for v in list_versions(session=s)] == ["champ-1"]
        assert s.scalar(select(func.count()).select_from(Label).where(Label.used_by_run_id.is_(None))) == 60
    registry = retrain_settings.model.registry_dir
    assert not (registry / run.candidate_version).exists()  # no half-written model left behind
    assert (registry / "_runs" / str(run.id) / "train.log").is_file()


def test_too_few_labels_skips_without_a_run_unless_forced(retrain_settings, session_factory):
    store(session_factory, synthetic_examples(10, seed=5))
    result = run_retrain(retrain_settings.learning, retrain_settings.model, session_factory)
    assert result.status == "skipped" and result.decision == "10 new labels, 50 needed"
    with transaction(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(TrainingRun)) == 0


def test_unregistered_serving_directory_counts_as_the_champion(retrain_settings, session_factory):
    from monitor.learning.retrain import current_champion
    from monitor.model.testing import make_tiny_model

    with transaction(session_factory) as s:
        assert current_champion(retrain_settings.model, session=s) is None
        make_tiny_model(retrain_settings.model.directory, version="starter")
        champion = current_champion(retrain_settings.model, session=s)
        assert (champion.version, champion.path) == ("starter", retrain_settings.model.directory)
        register_version("registered", "/models/registered", session=s, status="champion")
        assert current_champion(retrain_settings.model, session=s).version == "registered"


def test_jobs_run_retrain_reports_a_skip_in_one_line(run_cli, session_factory):
    res = run_cli("jobs", "run", "retrain")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "retrain: skipped: 0 new labels, 200 needed"


def test_retrain_lock_is_exclusive_and_released(session_factory):
    from monitor.learning.retrain import retrain_lock

    with retrain_lock(session_factory) as first:
        with retrain_lock(session_factory) as second:
            assert first and not second
        for _ in range(3):  # whichever pooled connection comes next, the lock is still held
            with retrain_lock(session_factory) as again:
                assert not again
    with retrain_lock(session_factory) as after:
        assert after
