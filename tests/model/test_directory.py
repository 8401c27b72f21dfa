"""ModelDirectory: version fallback, completeness check with one-line errors, card or summary."""

import json
import shutil

import pytest

from monitor.model.directory import CARD_NAME, ModelDirectory
from monitor.model.errors import ModelLoadError


@pytest.fixture
def copy(tiny_model_dir, tmp_path):
    target = tmp_path / "model-copy"
    shutil.copytree(tiny_model_dir, target)
    return target


def test_version_is_the_configs_else_the_directory_name(copy):
    assert ModelDirectory(copy).version == "tiny-test"
    raw = json.loads((copy / "config.json").read_text())
    raw["version"] = ""
    (copy / "config.json").write_text(json.dumps(raw))
    assert ModelDirectory(copy).version == "model-copy"


@pytest.mark.parametrize(("remove", "message"), [
    ("model.safetensors", "incomplete: missing model.safetensors"),
    ("tokenizer_config.json", "incomplete: missing tokenizer_config.json"),
    ("config.json", "is not a model directory (no config.json)"),
])
def test_check_names_what_is_missing(copy, remove, message):
    (copy / remove).unlink()
    with pytest.raises(ModelLoadError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        ModelDirectory(copy).check()
    assert "\n" not in str(err.value)


def test_check_needs_a_tokenizer_vocabulary(copy):
    for name in ("tokenizer.json", "vocab.txt"):
        (copy / name).unlink(missing_ok=True)
    with pytest.raises(ModelLoadError, match="missing tokenizer.json or vocab.txt"):
        ModelDirectory(copy).check()


def test_a_broken_config_is_one_line(copy):
    (copy / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        ModelDirectory(copy).check()


def test_card_or_a_summary_for_older_directories(copy):
    directory = ModelDirectory(copy)
    assert directory.card() is None
    summary = directory.card_or_summary()
    assert summary.startswith("# Model tiny-test") and "Not calibrated" in summary
    (copy / CARD_NAME).write_text("# Model tiny-test\nhand-written\n")
    assert ModelDirectory(copy).card_or_summary() == "# Model tiny-test\nhand-written\n"


@pytest.mark.parametrize("keep", ["topic", "sentiment"])
def test_a_single_task_model_is_complete_but_cannot_serve(copy, keep):
    raw = json.loads((copy / "config.json").read_text())
    raw["tasks"] = {keep: raw["tasks"][keep]}
    (copy / "config.json").write_text(json.dumps(raw))
    assert ModelDirectory(copy).check().path == copy  # a reference or a teacher: shown, evaluated, taught from
    lacking = "sentiment" if keep == "topic" else "topic"
    with pytest.raises(ModelLoadError, match=rf"has no {lacking} head \(trained with --task\); register a model "
                                             "with both heads") as refused:
        ModelDirectory(copy).check_serves()
    assert "\n" not in str(refused.value)


def test_a_model_with_both_heads_serves(copy):
    assert ModelDirectory(copy).check_serves().path == copy
