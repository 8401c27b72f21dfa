"""`monitor train --single-task-teachers`: two single-task models, then the shared model they teach, in one command."""

import json

import pytest

from monitor.model.arguments import preset
from monitor.model.errors import TrainingDataError
from monitor.model.recipes import teachers_dir_for, train_with_single_task_teachers
from tests.model.test_cli import run_cli

COMMON = ("--limit", "40", "--max-steps", "1")


def _config(path):
    return json.loads((path / "config.json").read_text())


def _weights_stamp(path):
    return sorted((p.name, p.stat().st_mtime_ns) for p in path.iterdir())


@pytest.fixture(scope="module")
def taught(tiny_encoder_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("taught")
    result = train_with_single_task_teachers(preset("quick", limit=40, max_steps=1, seed=9), out=root / "shared",
                                             backbone=tiny_encoder_dir, version="s1", progress=False)
    return root, result


def test_the_teachers_go_beside_the_model_one_head_each_and_teach_it(taught):
    root, result = taught
    teachers = root / "shared-teachers"
    assert result.teachers == {"topic": teachers / "topic", "sentiment": teachers / "sentiment"}
    assert result.trained == {"topic": True, "sentiment": True}
    for task in ("topic", "sentiment"):
        config = _config(teachers / task)
        assert list(config["tasks"]) == [task] and config["version"] == f"s1-{task}-only"
        assert config["training"]["arguments"] == _config(root / "shared")["training"]["arguments"]  # one recipe
        assert result.references[task] == config["scores"][task]
    pseudo = _config(root / "shared")["training"]["pseudo_labels"]
    assert pseudo["teacher"] == "s1-topic-only + s1-sentiment-only"
    assert pseudo["teacher_path"] == " + ".join(str((teachers / t).resolve()) for t in ("topic", "sentiment"))
    gaps = result.parity()
    for task in ("topic", "sentiment"):
        mine = result.student.config.scores[task]
        assert gaps[task]["accuracy"] == pytest.approx(mine["accuracy"] - result.references[task]["accuracy"])
        assert gaps[task]["macro_f1"] == pytest.approx(mine["macro_f1"] - result.references[task]["macro_f1"])


def test_a_second_run_with_the_same_settings_reuses_the_teachers_untouched(taught, tiny_encoder_dir):
    root, first = taught
    before = {t: _weights_stamp(p) for t, p in first.teachers.items()}
    again = train_with_single_task_teachers(preset("quick", limit=40, max_steps=1, seed=9), out=root / "shared-2",
                                            teachers_dir=root / "shared-teachers", backbone=tiny_encoder_dir,
                                            progress=False)
    assert again.trained == {"topic": False, "sentiment": False}
    assert {t: _weights_stamp(p) for t, p in again.teachers.items()} == before
    assert again.references == first.references
    # the same teachers, the same seed: the same student, bit for bit in its scores
    assert again.student.config.scores == first.student.config.scores


@pytest.mark.parametrize("change", [{"seed": 10}, {"learning_rate": 1e-3}, {"domains": []}])
def test_teachers_trained_with_other_settings_are_refused_not_overwritten(taught, tiny_encoder_dir, change):
    root, first = taught
    before = {t: _weights_stamp(p) for t, p in first.teachers.items()}
    with pytest.raises(TrainingDataError, match="already holds a model and it was trained with other settings") as e:
        train_with_single_task_teachers(preset("quick", limit=40, max_steps=1, **{"seed": 9, **change}),
                                        out=root / "other", teachers_dir=root / "shared-teachers",
                                        backbone=tiny_encoder_dir, progress=False)
    assert next(iter(change)) in str(e.value) and "\n" not in str(e.value)
    assert {t: _weights_stamp(p) for t, p in first.teachers.items()} == before
    assert not (root / "other").exists()


def test_a_shared_model_where_a_teacher_goes_is_refused(taught, tiny_encoder_dir, tmp_path):
    root, first = taught
    teachers = tmp_path / "t"
    teachers.mkdir()
    (teachers / "topic").symlink_to(root / "shared", target_is_directory=True)
    with pytest.raises(TrainingDataError, match=r"it has the heads topic, sentiment, not topic alone"):
        train_with_single_task_teachers(preset("quick", limit=40, max_steps=1, seed=9), out=tmp_path / "m",
                                        teachers_dir=teachers, backbone=tiny_encoder_dir, progress=False)


def test_a_half_written_teacher_and_a_stray_file_are_refused(tiny_encoder_dir, tmp_path):
    (tmp_path / "t" / "topic").mkdir(parents=True)
    (tmp_path / "t" / "topic" / "config.json").write_text("{}")
    with pytest.raises(TrainingDataError, match="holds something other than a complete model"):
        train_with_single_task_teachers(preset("quick", limit=40, max_steps=1), out=tmp_path / "m",
                                        teachers_dir=tmp_path / "t", backbone=tiny_encoder_dir, progress=False)
    (tmp_path / "u").mkdir()
    (tmp_path / "u" / "topic").write_text("not a model")
    with pytest.raises(TrainingDataError, match="holds something other than a complete model"):
        train_with_single_task_teachers(preset("quick", limit=40, max_steps=1), out=tmp_path / "m",
                                        teachers_dir=tmp_path / "u", backbone=tiny_encoder_dir, progress=False)
    assert not (tmp_path / "m").exists()


def test_the_default_teachers_dir_is_beside_the_model(tmp_path):
    assert teachers_dir_for(tmp_path / "models" / "v7") == tmp_path / "models" / "v7-teachers"
    assert teachers_dir_for("v7/") == teachers_dir_for("v7")


def test_the_command_reports_the_references_and_the_parity(monkeypatch, capsys, tiny_encoder_dir, tmp_path):
    code, out, err = run_cli(monkeypatch, capsys, "train", "--backbone", str(tiny_encoder_dir), *COMMON,
                             "--single-task-teachers", "--out", str(tmp_path / "m"), "--teachers-dir",
                             str(tmp_path / "refs"))
    assert code == 0, err
    shared = _config(tmp_path / "m")["scores"]
    for task in ("topic", "sentiment"):
        ref = _config(tmp_path / "refs" / task)["scores"][task]
        assert f"teacher {task}-only (trained, {tmp_path / 'refs' / task}): accuracy={ref['accuracy']:.4f}" in out
        gap = round(100 * (shared[task]["accuracy"] - ref["accuracy"]), 1) + 0.0
        assert f"parity {task}: shared minus {task}-only accuracy {gap:+.1f} points" in out
    assert "-0.0" not in out
    assert out.index("valid topic") < out.index("teacher topic-only") < out.index("parity topic")
    code, out, err = run_cli(monkeypatch, capsys, "train", "--backbone", str(tiny_encoder_dir), *COMMON,
                             "--single-task-teachers", "--out", str(tmp_path / "m2"), "--teachers-dir",
                             str(tmp_path / "refs"))
    assert code == 0, err
    assert out.count("(reused, ") == 2


@pytest.mark.parametrize("extra, message", [
    (("--teacher", "{model}"), "leave --teacher out"),
    (("--task", "topic"), "leave --task out"),
    (("--distill", "0.5"), "leave --distill out"),
    (("--preset", "warm", "--init-from", "{model}"), "leave --init-from out"),
])
def test_clashing_options_are_refused_in_one_line(monkeypatch, capsys, tiny_model_dir, tmp_path, extra, message):
    given = [a.format(model=tiny_model_dir, tmp=tmp_path) for a in extra]
    code, _, err = run_cli(monkeypatch, capsys, "train", "--single-task-teachers", *given, "--out",
                           str(tmp_path / "m"))
    assert code != 0 and message in err
    assert not (tmp_path / "m").exists() and not (tmp_path / "m-teachers").exists()


def test_teachers_dir_alone_says_what_it_goes_with(monkeypatch, capsys, tmp_path):
    code, _, err = run_cli(monkeypatch, capsys, "train", "--teachers-dir", str(tmp_path / "t"), "--out",
                           str(tmp_path / "m"))
    assert code != 0 and "--teachers-dir goes with --single-task-teachers" in err and err.strip().count("\n") == 0


def test_the_teachers_dir_cannot_be_the_model_itself(tiny_encoder_dir, tmp_path):
    with pytest.raises(TrainingDataError, match="is the model's own"):
        train_with_single_task_teachers(preset("quick", limit=40, max_steps=1), out=tmp_path / "m",
                                        teachers_dir=tmp_path / "m", backbone=tiny_encoder_dir, progress=False)


def test_a_gap_that_rounds_to_nothing_reads_plus_zero(capsys):
    from types import SimpleNamespace

    from monitor.cli.model import _echo_parity
    from monitor.model.recipes import TaughtResult

    scores = {"topic": {"accuracy": 0.8929, "macro_f1": 0.8861}}
    taught = TaughtResult(student=SimpleNamespace(config=SimpleNamespace(scores=scores)),
                          teachers={"topic": "t"}, references={"topic": {"accuracy": 0.8932, "macro_f1": 0.8807}},
                          trained={"topic": False})
    _echo_parity(taught)
    out = capsys.readouterr().out
    assert "teacher topic-only (reused, t): accuracy=0.8932  macro-F1=0.8807" in out
    assert "parity topic: shared minus topic-only accuracy +0.0 points, macro-F1 +0.5" in out


def test_teachers_from_another_backbone_or_data_root_are_refused(taught, tiny_encoder_dir, tmp_path):
    import shutil

    from monitor.model.corpora import bundled_root

    root, first = taught
    twin = shutil.copytree(tiny_encoder_dir, tmp_path / "another-encoder")
    with pytest.raises(TrainingDataError, match=r"it was trained from another backbone \("):
        train_with_single_task_teachers(preset("quick", limit=40, max_steps=1, seed=9), out=tmp_path / "m",
                                        teachers_dir=root / "shared-teachers", backbone=twin, progress=False)
    with pytest.raises(TrainingDataError, match="it was trained on another --data-root"):
        train_with_single_task_teachers(preset("quick", limit=40, max_steps=1, seed=9), out=tmp_path / "m",
                                        teachers_dir=root / "shared-teachers", backbone=tiny_encoder_dir,
                                        data_root=tmp_path / "elsewhere", progress=False)
    again = train_with_single_task_teachers(preset("quick", limit=40, max_steps=1, seed=9), out=tmp_path / "m",
                                            teachers_dir=root / "shared-teachers", backbone=tiny_encoder_dir,
                                            data_root=bundled_root(), progress=False)  # the default, named
    assert again.trained == {"topic": False, "sentiment": False}


def test_a_run_with_extra_labels_does_not_reuse_teachers_that_may_not_have_seen_them(taught, tiny_encoder_dir,
                                                                                      tmp_path):
    root, _ = taught
    extra = tmp_path / "extra.csv"
    extra.write_text("text,topic,sentiment\n$XYZ to the moon,,positive\n")
    with pytest.raises(TrainingDataError, match="this run adds extra labels"):
        train_with_single_task_teachers(preset("quick", limit=40, max_steps=1, seed=9), out=tmp_path / "m",
                                        teachers_dir=root / "shared-teachers", backbone=tiny_encoder_dir,
                                        extra=extra, progress=False)
    assert not (tmp_path / "m").exists()
