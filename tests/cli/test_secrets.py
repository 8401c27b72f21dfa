"""Issue 11, item 6: no credential reaches any output path (stdout, stderr, logs, error lines).

Each test plants distinct secrets, captures everything a user or a log collector would see, and checks
that none of them appears while the output that should be there (the config, the start-up line, the
error line) still does, so a test cannot pass by printing nothing.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from monitor.masking import MASK, SecretFilter, mask_secrets, secret_values
from monitor.settings import Settings

SECRETS = {
    "MONITOR_KAFKA__SASL_PASSWORD": "KafkaSaslSecret3",
    "MONITOR_DASHBOARD__PASSWORD": "DashSecret4",
    "MONITOR_ALERTS__DASHBOARD_URL": "https://viewer:DashUrlSecret5@dash.example.com/",
}
PLANTED = ("KafkaSaslSecret3", "DashSecret4", "DashUrlSecret5")


def run_cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def assert_hidden(text: str, *secrets: str) -> None:
    leaked = [s for s in secrets if s in text]
    assert not leaked, f"leaked {leaked} in:\n{text}"


# --- the masking function itself ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "secret"),
    [
        ("postgresql://bob:hunter2@db:5432/m", "hunter2"),
        ("postgresql://bob:p@ss/w0rd@db/m", "p@ss/w0rd"),  # unencoded @ and / in the password
        ("postgresql://bob:hunter2@db:5x/m", "hunter2"),  # malformed port
        ("postgresql://bob:hunter2/db", "hunter2"),  # no host: parsers read the password as the port
        ("postgresql://bob@db/m?password=hunter2", "hunter2"),
        ("postgresql://bob@db/m?sslmode=require&sslpassword=hunter2", "hunter2"),
        ("postgresql://bob@db/m?PASSWORD=hunter2#frag", "hunter2"),
        ("host=db user=bob password=hunter2 dbname=m", "hunter2"),
        ("host=db password='hunter 2' dbname=m", "hunter 2"),
        ("{'sasl_plain_password': 'hunter2', 'acks': 'all'}", "hunter2"),
        ('{"password": "hun\\"ter2"}', 'hun\\"ter2'),
        ("signing secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ("error at https://user:hunter2@hooks.example.com/x: 500", "hunter2"),
    ],
)
def test_mask_secrets_hides_credentials_by_shape(raw, secret):
    masked = mask_secrets(raw)
    assert secret not in masked and MASK in masked


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://bob@db:5432/m?passfile=/run/pgpass&sslmode=require",
        "http://localhost:8501",
        "postgresql://[::1]:5432/m",
        "127.0.0.1:9092,kafka:9092",
        "max_tokens=5 add_special_tokens=True",
    ],
)
def test_mask_secrets_leaves_ordinary_text_alone(text):
    assert mask_secrets(text) == text


def test_secret_values_cover_every_secret_of_a_settings_tree():
    settings = Settings(
        database={"url": "postgresql://bob:UrlPw1@db/m?sslpassword=SslPw2&passfile=/p"},
        kafka={"sasl_password": "Sasl3333"},
        dashboard={"password": "Dash4444"},
    )
    assert secret_values(settings) == {"UrlPw1", "SslPw2", "Sasl3333", "Dash4444"}


def test_log_filter_masks_arguments_and_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SecretFilter())
    log = logging.getLogger("tests.cli.secrets")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("connecting to %s", "postgresql://bob:hunter2@db/m")
        log.warning("client configs %s", {"sasl_plain_password": "hunter3x"})
        try:
            raise RuntimeError("libpq: password=hunter4x was refused")
        except RuntimeError:
            log.exception("connection failed")
    finally:
        log.removeHandler(handler)
    out = stream.getvalue()
    assert "connecting to postgresql://bob:***@db/m" in out and "RuntimeError" in out
    assert_hidden(out, "hunter2", "hunter3x", "hunter4x")


# --- `monitor config show` ----------------------------------------------------------------------------


def test_config_show_masks_query_string_and_every_other_secret():
    res = run_cli(
        "config",
        "show",
        env={**SECRETS, "MONITOR_DATABASE__URL": "postgresql://bob@db:5432/m?password=QueryPw1&sslpassword=SslPw2"
             "&passfile=/run/pgpass"},
    )
    assert res.returncode == 0, res.stderr
    shown = json.loads(res.stdout)
    assert shown["database"]["url"] == "postgresql://bob@db:5432/m?password=***&sslpassword=***&passfile=/run/pgpass"
    assert shown["alerts"]["dashboard_url"] == "https://viewer:***@dash.example.com/"
    assert_hidden(res.stdout + res.stderr, "QueryPw1", "SslPw2", *PLANTED)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://bob:Hunter2secret/db",
        "postgresql://bob:Hunter2secret@db:5x/m",
        "postgresql://bob:Hunter2secret@db:99999/m",
        "postgresql://bob:Hunter2secret@[::1/m",
    ],
)
def test_config_show_masks_a_malformed_database_url(url):
    res = run_cli("config", "show", env={"MONITOR_DATABASE__URL": url})
    assert res.returncode == 0, res.stderr
    assert "bob:***" in json.loads(res.stdout)["database"]["url"]
    assert_hidden(res.stdout + res.stderr, "Hunter2secret")


# --- error lines --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://bob:Hunter2secret@db:5x/m", "port that is not a number"),
        ("postgresql://bob:Hunter2secret/db", "port that is not a number"),
        ("postgresql://bob:Hunter2secret@127.0.0.1:70000/m", "from 1 to 65535"),
        ("Hunter2secret", "is not a database URL"),
        ("postgresql bob Hunter2secret", "is not a database URL"),
        ("mysql://bob:Hunter2secret@db/m", "must point at Postgres"),
        ("postgresql://bob@127.0.0.1:1/m?password=Hunter2secret", "cannot reach Postgres"),
        ("postgresql://bob:Hunter2secret@127.0.0.1:1/m", "cannot reach Postgres"),
    ],
)
def test_database_url_errors_are_one_masked_line(url, message):
    res = run_cli("db", "upgrade", env={"MONITOR_DATABASE__URL": url})
    assert res.returncode == 2, res.stderr
    assert res.stderr.count("\n") == 1 and message in res.stderr and "MONITOR_DATABASE__URL" in res.stderr
    assert "Traceback" not in res.stderr
    assert_hidden(res.stdout + res.stderr, "Hunter2secret")


def test_a_bad_value_next_to_a_secret_is_reported_without_it():
    env = {"MONITOR_DATABASE": json.dumps({"url": "postgresql://bob:Hunter2secret@db/m", "pool_size": "many"})}
    res = run_cli("config", "show", env=env)
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert "MONITOR_DATABASE__POOL_SIZE" in res.stderr
    assert_hidden(res.stdout + res.stderr, "Hunter2secret")


def test_unexpected_errors_are_one_masked_line_and_traceback_only_at_debug(monkeypatch, capsys):
    """The last-resort handler in main(): an error nobody foresaw, whose text holds the DB password."""
    import monitor.cli.config as config_cli
    from monitor.cli import main

    def explode():
        raise RuntimeError("driver said: postgresql://bob:Hunter2secret@db/m is gone; password=Hunter2secret")

    monkeypatch.setattr(config_cli, "load_settings", explode)
    for level in ("INFO", "DEBUG"):
        monkeypatch.setenv("MONITOR_LOG_LEVEL", level)
        monkeypatch.setattr(sys, "argv", ["monitor", "config", "show"])
        with pytest.raises(SystemExit) as exit_info:
            main()
        out, err = capsys.readouterr()
        assert exit_info.value.code == 1
        assert err.strip().splitlines()[-1].startswith("error: unexpected RuntimeError: driver said")
        assert "MONITOR_LOG_LEVEL=DEBUG" in err
        assert ("Traceback" in err) == (level == "DEBUG")
        assert_hidden(out + err, "Hunter2secret")
    logging.getLogger().setLevel(logging.WARNING)


# --- start-up logs of the long-running processes -------------------------------------------------------


def _secret_database_url(database_url: str) -> str:
    """The test database, with a password (trust auth ignores it) and an SSL-key password in the query."""
    url = make_url(database_url).set(password="PgUserinfoSecret1").update_query_dict({"sslpassword": "PgSslSecret2"})
    return url.render_as_string(hide_password=False)


def test_worker_start_up_log_masks_every_secret(broker, database_url, tmp_path):
    env = {
        **SECRETS,
        "MONITOR_DATABASE__URL": _secret_database_url(database_url),
        "MONITOR_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "MONITOR_KAFKA__DEAD_LETTER_TOPIC": "edges-secrets.dlq",
        "MONITOR_MODEL__REGISTRY_DIR": str(tmp_path / "registry"),
        "MONITOR_MODEL__DIRECTORY": str(tmp_path / "no-model-here"),
        "MONITOR_METRICS__PORT": "0",
        "MONITOR_LOG_LEVEL": "DEBUG",  # the most talkative the worker gets, libraries included
    }
    res = run_cli("worker", env=env)  # stops at the missing model, after logging its configuration
    assert res.returncode != 0
    assert "configuration: {" in res.stderr, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    assert_hidden(res.stdout + res.stderr, "PgUserinfoSecret1", "PgSslSecret2", *PLANTED)


def test_scheduler_start_up_log_masks_every_secret(database_url, tmp_path):
    log_path = tmp_path / "scheduler.log"
    env = {
        **os.environ,
        **SECRETS,
        "MONITOR_DATABASE__URL": _secret_database_url(database_url),
        "MONITOR_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "MONITOR_MODEL__REGISTRY_DIR": str(tmp_path / "registry"),
        "MONITOR_JOBS__RETRAIN_CHECK_MINUTES": "600",
        "MONITOR_LOG_LEVEL": "DEBUG",
    }
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "scheduler"], stdout=log_file, stderr=subprocess.STDOUT, env=env
        )
        try:
            _wait_for(log_path, "effective configuration", proc, timeout=90)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    text = log_path.read_text()
    assert "effective configuration" in text
    assert_hidden(text, "PgUserinfoSecret1", "PgSslSecret2", *PLANTED)


def _wait_for(path: Path, needle: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in path.read_text():
            return
        if proc.poll() is not None:
            pytest.fail(f"scheduler exited ({proc.returncode}) before logging {needle!r}:\n{path.read_text()}")
        time.sleep(0.2)
    pytest.fail(f"no {needle!r} within {timeout}s:\n{path.read_text()}")


def test_webhooks_list_masks_credentials_of_an_endpoint_stored_before_they_were_refused(session_factory, database_url):
    from monitor.alerts.signing import generate_secret
    from monitor.store import transaction
    from monitor.store.orm import WebhookEndpoint

    secret = generate_secret()
    with transaction(session_factory) as session:
        session.add(WebhookEndpoint(url="https://relay:LegacyPw77@hooks.example.com/x", secret=secret, enabled=True))
    res = run_cli("webhooks", "list", env={"MONITOR_DATABASE__URL": database_url})
    assert res.returncode == 0, res.stderr
    assert "https://relay:***@hooks.example.com/x" in res.stdout
    assert_hidden(res.stdout + res.stderr, "LegacyPw77", secret.removeprefix("whsec_"))
