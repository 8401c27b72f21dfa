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
