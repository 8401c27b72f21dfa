"""The trainer runs in a child process: its exit code, a stop request and a timeout all become errors."""

import threading

import pytest

from monitor.learning.training import TrainingFailed, TrainRequest, run_training


def test_command_carries_only_the_flags_that_are_set(tmp_path):
    request = TrainRequest(out_dir=tmp_path / "out", version="r1", extra_file=tmp_path / "l.csv", max_steps=5,
                           learning_rate=0.01)
    cmd = request.command()
    assert cmd[1:4] == ["-m", "monitor", "train"]
    flags = dict(zip(cmd[4::2], cmd[5::2], strict=True))
    assert flags == {"--preset": "quick", "--out": str(tmp_path / "out"), "--version": "r1", "--seed": "0",
                     "--extra": str(tmp_path / "l.csv"), "--max-steps": "5", "--learning-rate": "0.01"}


def test_settings_make_a_warm_start_from_the_champion_or_a_scratch_run(tmp_path):
    from monitor.settings import SchedulerSettings

    sched = SchedulerSettings(retrain_replay_per_corpus=500)
    warm = TrainRequest.from_settings(sched, out_dir=tmp_path / "o", version="r1", extra_file=None,
                                      init_from=tmp_path / "champ")
    flags = dict(zip(warm.command()[4::2], warm.command()[5::2], strict=True))
    assert flags["--preset"] == "warm" and flags["--init-from"] == str(tmp_path / "champ")
    assert flags["--replay"] == "500"
    scratch = TrainRequest.from_settings(sched, out_dir=tmp_path / "o", version="r1", extra_file=None)
    flags = dict(zip(scratch.command()[4::2], scratch.command()[5::2], strict=True))
    assert flags["--preset"] == "full" and "--init-from" not in flags and "--replay" not in flags


class SleepRequest(TrainRequest):
    def command(self) -> list[str]:
        import sys

        return [sys.executable, "-c", "import time; print('training...', flush=True); time.sleep(60)"]


def test_stop_request_terminates_the_trainer(tmp_path):
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    with pytest.raises(TrainingFailed, match="interrupted: the scheduler is shutting down") as err:
        run_training(SleepRequest(tmp_path, "r2", None), log_file=tmp_path / "log", timeout_s=60, stop=stop)
    assert "training..." in str(err.value)  # the end of the log comes with the error


def test_timeout_kills_the_trainer(tmp_path):
    with pytest.raises(TrainingFailed, match="timed out after 1 s"):
        run_training(SleepRequest(tmp_path, "r3", None), log_file=tmp_path / "log", timeout_s=1)
