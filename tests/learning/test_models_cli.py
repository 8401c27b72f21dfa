"""``monitor models``: register a directory, list, promote, roll back; errors are one line."""

import pytest

from monitor.learning import get_champion
from monitor.model.testing import make_tiny_model
from monitor.store import transaction

pytestmark = pytest.mark.integration


def test_register_promote_rollback_and_list(run_cli, session_factory, tmp_path):
    first = make_tiny_model(tmp_path / "a", version="tiny-a")
    second = make_tiny_model(tmp_path / "b", version="tiny-b", seed=1)
    res = run_cli("models", "register", str(first), "--champion")
    assert res.stdout.strip() == "registered tiny-a as champion"
    assert run_cli("models", "register", str(second)).returncode == 0

    res = run_cli("models", "promote", "tiny-b")
    assert res.returncode == 0 and "tiny-b is the champion" in res.stdout
    with transaction(session_factory) as s:
        assert get_champion(session=s).version == "tiny-b"

    res = run_cli("models", "rollback")
    assert res.returncode == 0 and "tiny-a is the champion" in res.stdout
    listing = run_cli("models", "list").stdout.splitlines()
    assert [line.split()[:2] for line in listing] == [["tiny-b", "retired"], ["tiny-a", "champion"]]


def test_bad_requests_are_one_line(run_cli, session_factory, tmp_path):
    for args, message in [
        (("models", "promote", "nope"), "no model version 'nope'"),
        (("models", "register", str(tmp_path)), "is not a model directory"),
        (("models", "rollback"), "no earlier champion"),
        (("jobs", "run", "retrian"), "no job named 'retrian'"),
    ]:
        res = run_cli(*args)
        assert res.returncode == 2, (args, res.stderr)
        assert res.stderr.count("\n") == 1 and message in res.stderr and "Traceback" not in res.stderr


def test_show_prints_the_card_and_register_refuses_incomplete_directories(run_cli, tmp_path):
    model = make_tiny_model(tmp_path / "a", version="tiny-card")
    assert run_cli("models", "register", str(model)).returncode == 0
    res = run_cli("models", "show", "tiny-card")  # no card.md (not trained): a summary from config.json
    assert res.returncode == 0 and res.stdout.startswith("# Model tiny-card"), res.stderr
    (model / "card.md").write_text("# Model tiny-card\n\nthe card\n")
    assert run_cli("models", "show", "tiny-card").stdout == "# Model tiny-card\n\nthe card\n"
    assert run_cli("models", "show", str(model)).stdout == "# Model tiny-card\n\nthe card\n"  # a path works too
    unreachable = {"MONITOR_DATABASE__URL": "postgresql+psycopg://postgres@127.0.0.1:1/none"}
    res = run_cli("models", "show", str(model), extra_env=unreachable)  # a directory needs no database
    assert res.returncode == 0 and res.stdout == "# Model tiny-card\n\nthe card\n", res.stderr

    broken = make_tiny_model(tmp_path / "b", version="tiny-broken")
    (broken / "model.safetensors").unlink()
    for args in (("models", "register", str(broken)), ("models", "show", "no-such-version")):
        res = run_cli(*args)
        assert res.returncode == 2 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr, res.stderr
    assert "incomplete: missing model.safetensors" in run_cli("models", "register", str(broken)).stderr


def test_a_single_task_model_is_shown_but_never_registered_or_promoted(run_cli, session_factory, tmp_path):
    import json

    model = make_tiny_model(tmp_path / "a", version="tiny-topic-only")
    raw = json.loads((model / "config.json").read_text())
    raw["tasks"] = {"topic": raw["tasks"]["topic"]}
    (model / "config.json").write_text(json.dumps(raw))
    assert run_cli("models", "show", str(model)).returncode == 0
    res = run_cli("models", "register", str(model), "--champion")
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "has no sentiment head" in res.stderr
    with transaction(session_factory) as s:
        assert get_champion(session=s) is None or get_champion(session=s).version != "tiny-topic-only"
