"""The trainer runs in a child process on a typed request: its exit code, a stop request, a timeout and a
missing result all become errors; what it reports comes back typed."""

import sys
import threading
from dataclasses import replace

import pytest

from monitor.errors import MonitorError
from monitor.learning.training import TrainingFailed, run_training, trainer_command, training_request
from monitor.model.arguments import preset
from monitor.model.errors import TrainingDataError
from monitor.model.handoff import TrainingRequest, TrainingResult
from monitor.settings import LearningSettings


def _request(tmp_path, **changes) -> TrainingRequest:
    return training_request(LearningSettings(**changes), out_dir=tmp_path / "out", version="r1",
                            workdir=tmp_path / "run", extra_file=tmp_path / "l.csv")


def test_the_request_round_trips_through_its_json_file(tmp_path):
    request = replace(_request(tmp_path, max_steps=5, learning_rate=0.01, base_limit=50),
                      init_from=tmp_path / "champ", backbone="enc", teacher=tmp_path / "teacher")
    assert TrainingRequest.read(request.write(tmp_path / "request.json")) == request
    assert trainer_command(tmp_path / "request.json")[1:] == [
        "-m", "monitor", "train", "--request", str(tmp_path / "request.json")]


def test_learning_settings_become_the_preset_with_overrides(tmp_path):
    request = _request(tmp_path, max_steps=5, learning_rate=0.01, base_limit=50, seed=7, data_root=tmp_path / "d")
    assert request.arguments == preset("full", max_steps=5, learning_rate=0.01, limit=50, seed=7)
    assert (request.out, request.version, request.extra) == (tmp_path / "out", "r1", tmp_path / "l.csv")
    assert request.data_root == tmp_path / "d" and request.result_file.parent == tmp_path / "run"


def test_settings_make_a_warm_start_from_the_champion_or_a_scratch_run(tmp_path):
    learning = LearningSettings(replay_per_corpus=500)
    warm = training_request(learning, out_dir=tmp_path / "o", version="r1", workdir=tmp_path, extra_file=None,
                            init_from=tmp_path / "champ")
    assert warm.arguments == preset("warm", replay_per_corpus=500, seed=0)
    assert warm.init_from == tmp_path / "champ"
    scratch = training_request(learning, out_dir=tmp_path / "o", version="r1", workdir=tmp_path, extra_file=None)
    assert scratch.arguments == preset("full", seed=0)  # no replay sample from scratch
    assert scratch.init_from is None and scratch.teacher is None
    taught = training_request(learning, out_dir=tmp_path / "o", version="r1", workdir=tmp_path, extra_file=None,
                              teacher=tmp_path / "champ")
    assert (taught.init_from, taught.teacher, taught.arguments) == (None, tmp_path / "champ", scratch.arguments)


def test_distillation_from_the_champion_keeps_hard_labels_from_scratch_and_stands_alone_warm(tmp_path):
    def request(**changes):
        learning = LearningSettings(distillation=0.2, sampling_temperature=5.0, **changes)
        return training_request(learning, out_dir=tmp_path / "o", version="r1", workdir=tmp_path, extra_file=None,
                                teacher=tmp_path / "champ")

    scratch = request().arguments
    assert (scratch.distillation, scratch.distill_with_pseudo_labels, scratch.temperature) == (0.2, True, 5.0)
    alone = request(scratch_teacher=False).arguments  # the teacher was asked for its soft targets only
    assert (alone.distillation, alone.distill_with_pseudo_labels) == (0.2, False)
    learning = LearningSettings(distillation=0.2)
    warm = training_request(learning, out_dir=tmp_path / "o", version="r1", workdir=tmp_path, extra_file=None,
                            init_from=tmp_path / "champ", teacher=tmp_path / "champ").arguments
    assert warm == preset("warm", distillation=0.2, seed=0)  # learning without forgetting: soft targets only


def test_domains_setting_reaches_the_trainer_and_unknown_names_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("MONITOR_LEARNING__DOMAINS", '["surge-stock-sentiment"]')
    from monitor.settings import Settings

    learning = Settings().learning
    assert _request(tmp_path, domains=learning.domains).arguments.domains == ["surge-stock-sentiment"]
    assert _request(tmp_path, domains=[]).arguments.domains == []  # none: the base corpora alone
    assert _request(tmp_path).arguments.domains is None  # the trainer's default: all of them
    with pytest.raises(MonitorError, match=r"MONITOR_LEARNING__DOMAINS names unknown corpora reddit; use some of"):
        _request(tmp_path, domains=["reddit", "surge-stock-sentiment"])


def test_a_request_that_does_not_fit_is_one_line(tmp_path):
    path = _request(tmp_path).write(tmp_path / "request.json")
    path.write_text(path.read_text().replace('"epochs"', '"epoch"'))
    with pytest.raises(TrainingDataError, match="does not fit TrainingRequest"):
        TrainingRequest.read(path)


def _child(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_the_result_the_child_writes_comes_back_typed(tmp_path):
    request = _request(tmp_path)
    result = TrainingResult(version="r1", directory=tmp_path / "out", seconds=1.5, base_examples=120,
                            scores={"topic": {"accuracy": 0.5, "macro_f1": 0.4, "n": 20}})
    expected = result.write(tmp_path / "expected.json")
    copy = f"import shutil; shutil.copy({str(expected)!r}, {str(request.result_file)!r})"
    assert run_training(request, workdir=tmp_path / "run", timeout_s=60, command=_child(copy)) == result
    assert TrainingRequest.read(tmp_path / "run" / "request.json") == request


def test_a_clean_exit_without_a_result_fails(tmp_path):
    request = _request(tmp_path)
    request.result_file.parent.mkdir(parents=True)
    request.result_file.write_text("{}")  # stale, from an earlier attempt: removed before the child starts
    with pytest.raises(TrainingFailed, match="exited without a result"):
        run_training(request, workdir=tmp_path / "run", timeout_s=60, command=_child("pass"))


SLEEP = "import time; print('training...', flush=True); time.sleep(60)"


def test_stop_request_terminates_the_trainer(tmp_path):
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    with pytest.raises(TrainingFailed, match="interrupted: the scheduler is shutting down") as err:
        run_training(_request(tmp_path), workdir=tmp_path / "run", timeout_s=60, stop=stop, command=_child(SLEEP))
    assert "training..." in str(err.value)  # the end of the log comes with the error


def test_timeout_kills_the_trainer(tmp_path):
    with pytest.raises(TrainingFailed, match="timed out after 1 s"):
        run_training(_request(tmp_path), workdir=tmp_path / "run", timeout_s=1, command=_child(SLEEP))
