import json
import sys

import pytest

from monitor.cli import main


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["monitor", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def small_csv(tmp_path):
    path = tmp_path / "eval.csv"
    path.write_text(
        "text,label,source\nFed raises rates,neutral,x\n"
        "Shares slump on weak outlook,Bearish,x\nRecord profit,Bullish,y\n"
    )
    return path


def test_evaluate_json_contract(monkeypatch, capsys, tiny_model_dir, small_csv):
    code, out, _ = run_cli(
        monkeypatch,
        capsys,
        "evaluate",
        str(tiny_model_dir),
        "--data",
        str(small_csv),
        "--task",
        "sentiment",
        "--json",
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["n"] == 3
    assert 0.0 <= payload["accuracy"] <= 1.0 and 0.0 <= payload["macro_f1"] <= 1.0
    assert payload["model_version"] == "tiny-test"
    assert sum(sum(row) for row in payload["confusion"]) == 3


def test_evaluate_bad_label_is_one_line(monkeypatch, capsys, tiny_model_dir, small_csv):
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "evaluate",
        str(tiny_model_dir),
        "--data",
        str(small_csv),
        "--task",
        "topic",
        "--json",
    )
    assert code == 2
    assert "line 2: unknown topic label 'neutral'" in err and "Traceback" not in err


def test_train_cli_end_to_end_with_tiny_encoder(monkeypatch, capsys, tiny_encoder_dir, tmp_path):
    out_dir = tmp_path / "model"
    code, out, err = run_cli(
        monkeypatch,
        capsys,
        "train",
        "--preset",
        "quick",
        "--out",
        str(out_dir),
        "--backbone",
        str(tiny_encoder_dir),
        "--limit",
        "80",
        "--max-steps",
        "3",
        "--seed",
        "5",
        "--version",
        "cli-test",
    )
    assert code == 0, err
    config = json.loads((out_dir / "config.json").read_text())
    assert config["version"] == "cli-test" and config["training"]["arguments"]["seed"] == 5
    assert {"accuracy", "macro_f1", "n"} <= set(config["scores"]["topic"])
    assert "model cli-test written" in out
    code, out, _ = run_cli(monkeypatch, capsys, "predict", "--model", str(out_dir), "--json", "Oil jumps", "Bank fined")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["text"] for r in rows] == ["Oil jumps", "Bank fined"]
    assert rows[0]["model_version"] == "cli-test"


def test_train_cli_bad_extra_file_is_one_line(monkeypatch, capsys, tiny_encoder_dir, tmp_path):
    extra = tmp_path / "extra.csv"
    extra.write_text("text,topic,sentiment\nfine,IPO,\n,Macro,\n")
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "train",
        "--out",
        str(tmp_path / "m"),
        "--backbone",
        str(tiny_encoder_dir),
        "--limit",
        "40",
        "--max-steps",
        "1",
        "--extra",
        str(extra),
    )
    assert code == 2 and "extra.csv: line 3: empty text" in err  # the line the row is on, as the import says
    assert not (tmp_path / "m" / "config.json").exists()


def test_missing_backbone_is_one_line(monkeypatch, capsys, tmp_path):
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "train",
        "--out",
        str(tmp_path / "m"),
        "--backbone",
        str(tmp_path / "nothing-here"),
        "--limit",
        "40",
        "--max-steps",
        "1",
    )
    assert code == 2 and "cannot load backbone" in err


def test_train_warm_start_from_a_model_and_bad_init_from_is_one_line(monkeypatch, capsys, tiny_model_dir, tmp_path):
    code, out, err = run_cli(monkeypatch, capsys, "train", "--preset", "warm", "--init-from", str(tiny_model_dir),
                             "--out", str(tmp_path / "w"), "--limit", "200", "--max-steps", "2", "--replay", "30")
    assert code == 0, err
    assert "calibration sentiment: T=" in out
    config = json.loads((tmp_path / "w" / "config.json").read_text())
    assert config["training"]["init_from"]["version"] == "tiny-test"
    corpora = config["training"]["data"]["corpora"]
    # The dev slice is carved from the (limited) corpus first, then 30 are replayed from the rest.
    assert (corpora["twitter-fin-topic"]["train"], corpora["twitter-fin-topic"]["dev"]) == (30, 20)
    # The source model records no retail-investor corpora, so the warm start replays none either.
    assert set(corpora) == {"twitter-fin-topic", "twitter-fin-sentiment"}
    # A second warm start keeps the first one's dev slice: the seed it was carved with travels along.
    code, _, err = run_cli(monkeypatch, capsys, "train", "--preset", "warm", "--init-from", str(tmp_path / "w"),
                           "--out", str(tmp_path / "w2"), "--limit", "200", "--max-steps", "1", "--replay", "30",
                           "--seed", "3")
    assert code == 0, err
    second = json.loads((tmp_path / "w2" / "config.json").read_text())["training"]
    assert second["arguments"]["seed"] == 3
    assert second["arguments"]["dev_seed"] == config["training"]["arguments"]["seed"] == second["data"]["dev_seed"]
    code, _, err = run_cli(monkeypatch, capsys, "train", "--preset", "warm", "--init-from", str(tmp_path / "nope"),
                           "--out", str(tmp_path / "x"))
    assert code == 2 and "is not a model directory" in err and err.count("\n") == 1



def test_train_with_a_teacher_records_its_pseudo_labels_and_a_bad_teacher_is_one_line(
        monkeypatch, capsys, tiny_model_dir, tiny_encoder_dir, tmp_path):
    code, _, err = run_cli(monkeypatch, capsys, "train", "--backbone", str(tiny_encoder_dir), "--teacher",
                           str(tiny_model_dir), "--out", str(tmp_path / "s"), "--limit", "40", "--max-steps", "1")
    assert code == 0, err
    pseudo = json.loads((tmp_path / "s" / "config.json").read_text())["training"]["pseudo_labels"]
    assert pseudo["teacher"] == "tiny-test" and pseudo["min_confidence"] == 0.9
    assert pseudo["topic"]["filled"] + pseudo["topic"]["left_unlabeled"] > 0  # every sentiment text was offered
    code, _, err = run_cli(monkeypatch, capsys, "train", "--teacher", str(tmp_path / "nope"), "--out",
                           str(tmp_path / "x"))
    assert code == 2 and "is not a model directory" in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_train_takes_several_teachers_and_checks_each(monkeypatch, capsys, tiny_model_dir, tiny_encoder_dir,
                                                      tmp_path):
    code, _, err = run_cli(monkeypatch, capsys, "train", "--backbone", str(tiny_encoder_dir), "--teacher",
                           str(tiny_model_dir), "--teacher", str(tiny_model_dir), "--out", str(tmp_path / "s"),
                           "--limit", "40", "--max-steps", "1")
    assert code == 0, err
    pseudo = json.loads((tmp_path / "s" / "config.json").read_text())["training"]["pseudo_labels"]
    assert pseudo["teacher"] == "tiny-test + tiny-test"
    code, _, err = run_cli(monkeypatch, capsys, "train", "--teacher", str(tiny_model_dir), "--teacher",
                           str(tmp_path / "nope"), "--out", str(tmp_path / "x"))
    assert code == 2 and "nope" in err and "is not a model directory" in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_train_single_task_models_and_teach_the_shared_model_with_both(monkeypatch, capsys, tiny_encoder_dir,
                                                                        tmp_path):
    """The single-task teachers' recipe, from the command line: a topic-only and a sentiment-only model, then the
    shared model with the two as its teachers."""
    common = ["--backbone", str(tiny_encoder_dir), "--limit", "40", "--max-steps", "1"]
    for task in ("topic", "sentiment"):
        code, out, err = run_cli(monkeypatch, capsys, "train", *common, "--task", task, "--out", str(tmp_path / task),
                                 "--version", f"{task}-only")
        assert code == 0, err
        config = json.loads((tmp_path / task / "config.json").read_text())
        assert list(config["tasks"]) == [task] and list(config["scores"]) == [task]
        assert f"valid {task}:" in out and ("valid topic" in out) == (task == "topic")
    code, _, err = run_cli(monkeypatch, capsys, "train", *common, "--teacher", str(tmp_path / "topic"), "--teacher",
                           str(tmp_path / "sentiment"), "--out", str(tmp_path / "shared"))
    assert code == 0, err
    pseudo = json.loads((tmp_path / "shared" / "config.json").read_text())["training"]["pseudo_labels"]
    assert pseudo["teacher"] == "topic-only + sentiment-only"
    code, _, err = run_cli(monkeypatch, capsys, "train", *common, "--teacher", str(tmp_path / "topic"), "--out",
                           str(tmp_path / "x"))
    assert code != 0 and "no teacher gives sentiment" in err and err.strip().count("\n") == 0
    code, _, err = run_cli(monkeypatch, capsys, "train", "--task", "topic", "--preset", "warm", "--init-from",
                           str(tmp_path / "shared"), "--out", str(tmp_path / "y"))
    assert code != 0 and "--task trains a single-task model from the backbone" in err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_train_domains_option(monkeypatch, capsys, tiny_encoder_dir, tmp_path):
    code, _, err = run_cli(monkeypatch, capsys, "train", "--backbone", str(tiny_encoder_dir), "--out",
                           str(tmp_path / "m"), "--limit", "30", "--max-steps", "1",
                           "--domains", "surge-stock-sentiment")
    assert code == 0, err
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert set(config["training"]["domain_scores"]) == {"surge-stock-sentiment"}
    assert config["training"]["arguments"]["domains"] == ["surge-stock-sentiment"]
    code, _, err = run_cli(monkeypatch, capsys, "train", "--backbone", str(tiny_encoder_dir), "--out",
                           str(tmp_path / "x"), "--limit", "30", "--domains", "reddit")
    assert code == 2 and "unknown domain corpus 'reddit'" in err and err.count("\n") == 1
