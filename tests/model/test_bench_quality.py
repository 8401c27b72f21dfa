"""bench/quality.py with several seeds: every model per seed, then mean, spread and the shared-vs-single gap."""

import json

import pytest

from monitor.model.corpora import bundled_root


@pytest.fixture(scope="module")
def quality(bench_script):
    return bench_script("quality")


def test_two_seeds_give_a_summary_per_model_and_task_and_the_gap(quality, tiny_encoder_dir, tmp_path, capsys):
    quality.main(["--backbone", str(tiny_encoder_dir), "--preset", "quick", "--seeds", "2", "--limit", "30",
                  "--max-steps", "1", "--out", str(tmp_path), "--data-root", str(bundled_root()),
                  "--speed-texts", "16", "--domains", "none", "--learning-rate", "0.001"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    trained = [(x["model"], x["seed"]) for x in lines if x["kind"] == "train"]
    assert sorted(trained) == sorted((m, s) for m in ("multi", "topic", "sentiment") for s in (42, 43))
    assert all((tmp_path / f"seed-{s}" / m / "config.json").is_file() for m, s in trained)
    summaries = {(x["model"], x["task"]): x for x in lines if x["kind"] == "summary"}
    assert set(summaries) == {("multi", "topic"), ("multi", "sentiment"), ("topic", "topic"),
                              ("sentiment", "sentiment")}
    valid = [x for x in lines if x["kind"] == "score" and x["split"] == "valid" and x["model"] == "multi"
             and x["task"] == "topic"]
    multi_topic = summaries["multi", "topic"]
    assert multi_topic["accuracy"] == [round(x["accuracy"], 4) for x in valid]  # the per-seed scores, in order
    assert multi_topic["accuracy_mean"] == pytest.approx(sum(multi_topic["accuracy"]) / 2, abs=1e-4)
    assert multi_topic["accuracy_spread"] == pytest.approx(max(multi_topic["accuracy"]) - min(multi_topic["accuracy"]),
                                                           abs=1e-4)
    gaps = {x["task"]: x for x in lines if x["kind"] == "gap"}
    assert gaps["topic"]["macro_f1"] == pytest.approx(
        summaries["multi", "topic"]["macro_f1_mean"] - summaries["topic", "topic"]["macro_f1_mean"], abs=1e-3)
    assert sum(x["kind"] == "speed" for x in lines) == 1  # speed once, on the first seed's models
    recipes = [x for x in lines if x["kind"] == "recipe"]
    assert [(x["seed"], x["domains"], x["learning_rate"]) for x in recipes] == [(42, [], 0.001), (43, [], 0.001)]
    trained_on = json.loads((tmp_path / "seed-43" / "multi" / "config.json").read_text())["training"]["data"]
    assert set(trained_on["corpora"]) == {"twitter-fin-topic", "twitter-fin-sentiment"}  # no retail corpus


def test_single_task_teachers_train_the_references_first_and_teach_the_shared_model(
        quality, tiny_encoder_dir, tmp_path, capsys):
    quality.main(["--backbone", str(tiny_encoder_dir), "--preset", "quick", "--limit", "30", "--max-steps", "1",
                  "--out", str(tmp_path), "--data-root", str(bundled_root()), "--speed-texts", "16",
                  "--domains", "none", "--single-task-teachers"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["model"] for x in lines if x["kind"] == "train"] == ["topic", "sentiment", "multi"]
    assert [x["teacher"] for x in lines if x["kind"] == "recipe"] == ["single-task"]
    pseudo = json.loads((tmp_path / "multi" / "config.json").read_text())["training"]["pseudo_labels"]
    assert pseudo["teacher"] == "bench-topic-42 + bench-sentiment-42"
    assert pseudo["teacher_path"] == f"{(tmp_path / 'topic').resolve()} + {(tmp_path / 'sentiment').resolve()}"
    for name in ("topic", "sentiment"):  # the references themselves learn from no teacher
        assert json.loads((tmp_path / name / "config.json").read_text())["training"]["pseudo_labels"] is None


@pytest.mark.parametrize(("argv", "says"), [
    (["--seeds", "0"], "--seeds must be at least 1"),
    (["--models", "multi,bogus"], "--models"),
    (["--seeds", "2", "--multi", "x"], "cannot be combined"),
    (["--domains", "surge-stock-sentiment,reddit"], "--domains: unknown reddit; use some of"),
    (["--ema-decay", "1"], "ema_decay 1.0 is not between 0 and 1"),
    (["--layer-decay", "0"], "layer_decay 0.0 is not in (0, 1]"),
    (["--distill", "0.5"], "--distill needs --teacher MODEL_DIR or --single-task-teachers"),
    (["--single-task-teachers", "--teacher", "x"], "--single-task-teachers trains the shared model with this run's"),
    (["--single-task-teachers", "--models", "multi"], "leave --teacher and --models out"),
    (["--distill", "1", "--teacher", "x"], "distillation 1.0 is not in [0, 1)"),
    (["--with-pseudo-labels", "--teacher", "x"], "pseudo-labels with distillation need a distillation weight"),
    (["--distill-missing-only", "--teacher", "x"], "soft targets on the missing task need a distillation weight"),
])
def test_bad_arguments_are_one_line(quality, capsys, argv, says):
    with pytest.raises(SystemExit) as stopped:
        quality.main(argv)
    assert stopped.value.code == 2 and says in capsys.readouterr().err
