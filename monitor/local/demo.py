"""``monitor demo``: the whole product on one machine, on embedded parts, with a stream that raises an alert."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path

from monitor.errors import MonitorError
from monitor.local.broker import EmbeddedBroker, free_port
from monitor.local.dashboard import dashboard_command
from monitor.local.postgres import EmbeddedPostgres, create_database
from monitor.local.processes import ProcessGroup, monitor_command
from monitor.local.progress import StoredProgress
from monitor.local.receiver import WebhookReceiver, describe_event
from monitor.local.replay import DEMO_BURSTS, build_demo_stream, count_rows
from monitor.local.rerun import prepare_database
from monitor.local.shell import SHOWN, export_lines, shared_settings, write_env_file
from monitor.model.directory import ModelDirectory

log = logging.getLogger(__name__)

DEMO_RECEIVER = "demo receiver"
_OUTPUT = threading.Lock()


def say(line: str) -> None:
    """One whole line to stdout: the receiver's thread and the main loop print concurrently."""
    with _OUTPUT:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


# The detector's defaults suit the bundled stream (19-110 tweets a day); only the pace is the demo's.
DEMO_ALERT_ENV = {
    "MONITOR_ALERTS__CHECK_INTERVAL_SECONDS": "5",
    "MONITOR_ALERTS__STEP_MINUTES": "30",
    "MONITOR_WEBHOOKS__RELAY_INTERVAL_SECONDS": "2",
    "MONITOR_WEBHOOKS__BACKOFF_BASE_SECONDS": "1",
    "MONITOR_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES": "true",
}


@dataclass
class DemoOptions:
    data_dir: Path = Path(".local")
    model_dir: Path | None = None
    database_url: str | None = None
    stream: Path | None = None
    limit: int | None = None
    speedup: float = 30000.0
    max_pause: float = 3.0
    """Longest wall-clock wait between two replayed messages (the bundled stream has 18 days without a tweet)."""
    burst: bool = True
    dashboard: bool = True
    dashboard_port: int = 8501
    metrics_port: int = 9108
    exit_after_alert: bool = False
    timeout: float | None = None
    fresh: bool | None = None
    """True: empty the database first; False: keep an earlier run's data; None: empty it if a demo made it."""
    progress_seconds: float = 10.0
    extra_env: dict[str, str] = field(default_factory=dict)


def _model_version(model_dir: Path) -> str:
    return ModelDirectory(model_dir).version


def _ensure_model(opts: DemoOptions, procs: ProcessGroup) -> Path:
    """The model to serve: the one given, else the starter under the data folder (trained once)."""
    if opts.model_dir:
        if not ModelDirectory(opts.model_dir).exists():
            raise MonitorError(f"--model-dir {opts.model_dir} holds no config.json; pass a trained model directory")
        return opts.model_dir.resolve()
    starter = (opts.data_dir / "models" / "starter").resolve()
    if ModelDirectory(starter).exists():
        say(f"using the starter model in {starter}")
        return starter
    say("no starter model yet: training the quick preset once; the bar below shows the measured speed "
          "and the time left (about 3 minutes on an idle 2-core CPU, several times that on a busy one)")
    started = time.monotonic()
    proc = procs.start("train", monitor_command("train", "--preset", "quick", "--out", str(starter)),
                       show_output=True)
    if proc.wait() != 0:
        raise MonitorError("training the starter model failed (see the output above); fix it and run again")
    say(f"starter model trained in {time.monotonic() - started:.0f}s")
    return starter


def _register_champion(session_factory, model_dir: Path) -> str:
    from monitor.learning import get_champion, register_version
    from monitor.learning.registry import get_version, promote_version
    from monitor.model.directory import ModelDirectory
    from monitor.store import transaction

    version = _model_version(model_dir)
    with transaction(session_factory) as session:
        champion = get_champion(session=session)
        if champion is not None and Path(champion.path).is_dir():
            return champion.version
        try:
            get_version(version, session=session)
            promote_version(version, session=session)
        except MonitorError:
            register_version(version, str(model_dir), session=session, status="champion",
                             scores=ModelDirectory(model_dir).scores or None)
    return version


def _register_receiver(session_factory, url: str) -> tuple[int, str]:
    from monitor.alerts.endpoints import add_endpoint, disable_endpoint, list_endpoints
    from monitor.store import transaction

    with transaction(session_factory) as session:
        for old in list_endpoints(session=session):
            if old.description == DEMO_RECEIVER and old.enabled:
                disable_endpoint(old.id, reason="replaced by a newer demo run", session=session)
        endpoint = add_endpoint(url, description=DEMO_RECEIVER, allow_private=True, session=session)
        return endpoint.id, endpoint.secret


def _create_topics(bootstrap: str, env: dict[str, str]) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        for name, partitions in ((env["MONITOR_KAFKA__INPUT_TOPIC"], 3), ("news.dlq", 1), ("news.labels", 1)):
            with suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def run_demo(opts: DemoOptions) -> int:
    """Start everything, replay the stream, print alerts as they arrive; returns an exit code."""
    from monitor.datasets import path as dataset_path
    from monitor.settings import DatabaseSettings
    from monitor.store import check_connection, make_engine, make_session_factory, migrate

    opts.data_dir = opts.data_dir.resolve()
    logs = opts.data_dir / "logs"
    t0 = time.monotonic()
    with ExitStack() as stack:
        broker = stack.enter_context(EmbeddedBroker(log_file=_log_file(logs, "broker")))
        if opts.database_url:
            db_url = opts.database_url
        else:
            pg = stack.enter_context(EmbeddedPostgres(opts.data_dir / "postgres"))
            db_url = create_database(pg.admin_url, "monitor")
        say(f"[{time.monotonic() - t0:5.1f}s] broker {broker.bootstrap_servers}, Postgres ready")
        say(prepare_database(db_url, opts.fresh))
        engine = make_engine(DatabaseSettings(url=db_url))
        stack.callback(engine.dispose)
        check_connection(engine)
        migrate.upgrade(db_url)
        session_factory = make_session_factory(engine)

        env = {
            "MONITOR_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "MONITOR_KAFKA__INPUT_TOPIC": "news",
            "MONITOR_DATABASE__URL": db_url,
            "MONITOR_MODEL__REGISTRY_DIR": str(opts.data_dir / "models"),
            "MONITOR_METRICS__PORT": str(opts.metrics_port),
            "MONITOR_ALERTS__DASHBOARD_URL": f"http://localhost:{opts.dashboard_port}",
            "MONITOR_LOG_LEVEL": _child_log_level(),
            "HF_HUB_OFFLINE": "1",
            **DEMO_ALERT_ENV,
            **opts.extra_env,
        }
        procs = ProcessGroup(logs, env)
        stack.callback(procs.stop)

        model_dir = _ensure_model(opts, procs)
        env["MONITOR_MODEL__DIRECTORY"] = str(model_dir)
        version = _register_champion(session_factory, model_dir)
        _create_topics(broker.bootstrap_servers, env)

        port = free_port()
        endpoint_id, secret = _register_receiver(session_factory, f"http://127.0.0.1:{port}/hooks/alerts")
        receiver = stack.enter_context(
            WebhookReceiver(secret, port=port, on_event=lambda e: say(describe_event(e)))
        )
        say(f"[{time.monotonic() - t0:5.1f}s] model {version} is champion; webhook receiver at {receiver.url} "
              f"(endpoint {endpoint_id})")

        procs.start("worker", monitor_command("worker"))
        procs.start("scheduler", monitor_command("scheduler"))
        procs.start("labels", monitor_command("labels", "consume"))
        if opts.dashboard:
            procs.start("dashboard", dashboard_command(opts.dashboard_port))

        stream = build_demo_stream(opts.stream or dataset_path("stock-market-tweets") / "timeline.csv",
                                   opts.data_dir / "demo-stream.csv", bursts=DEMO_BURSTS if opts.burst else (),
                                   limit=opts.limit)
        progress = StoredProgress(engine, count_rows(stream), every=opts.progress_seconds)
        procs.start("produce", monitor_command("produce", str(stream), "--replay", "--speedup", str(opts.speedup),
                                                 "--max-pause", str(opts.max_pause)))
        env_file = _hand_out_settings(opts, env, stack)
        _print_where_to_look(opts, logs, env_file, endpoint_id)
        return _wait(opts, procs, receiver, progress, t0)
    return 0


def _child_log_level() -> str:
    """The children log to files, so they say what they do (INFO) even when the demo itself is quiet."""
    asked = os.environ.get("MONITOR_LOG_LEVEL", "INFO").upper()
    return "DEBUG" if asked == "DEBUG" else "INFO"


def _hand_out_settings(opts: DemoOptions, env: dict[str, str], stack: ExitStack) -> Path:
    """Write ``demo.env`` for other shells (removed when the demo stops) and print the key exports."""
    settings = shared_settings(env, {**DEMO_ALERT_ENV, **opts.extra_env})
    path = write_env_file(opts.data_dir / "demo.env", settings)
    stack.callback(lambda: path.unlink(missing_ok=True))
    say("in another terminal, use the CLI against this demo with:")
    say(f"  source .venv/bin/activate && source {_shown_path(path)}")
    say("  or paste:")
    for line in export_lines(settings, SHOWN):
        say(f"  {line}")
    return path


def _shown_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _log_file(logs: Path, name: str) -> Path:
    logs.mkdir(parents=True, exist_ok=True)
    return logs / f"{name}.log"


def _print_where_to_look(opts: DemoOptions, logs: Path, env_file: Path, endpoint_id: int) -> None:
    if opts.dashboard:
        say(f"dashboard:  http://localhost:{opts.dashboard_port}")
    say(f"metrics:    http://localhost:{opts.metrics_port}/metrics")
    say(f"logs:       {logs}/ (worker, scheduler, labels, produce, dashboard)")
    say(f"webhooks:   `monitor webhooks test {endpoint_id}` sends a signed test event to this demo's receiver")
    say("replaying the bundled tweets with a burst of negative earnings news; Ctrl-C stops everything")


def _wait(opts: DemoOptions, procs: ProcessGroup, receiver: WebhookReceiver, progress: StoredProgress,
          t0: float) -> int:
    deadline = t0 + opts.timeout if opts.timeout else None
    produce_done = False
    while True:
        if opts.exit_after_alert:  # wakes as soon as a verified alert arrives
            alert = receiver.wait_for(lambda e: e.get("type") == "alert.opened", timeout=0.5)
        else:
            alert, _ = None, time.sleep(0.5)
        if alert:
            say(f"[{time.monotonic() - t0:5.1f}s] alert received and verified; stopping")
            return 0
        if line := progress.report():
            say(f"[{time.monotonic() - t0:5.1f}s] {line}")
        for name, code in procs.died():
            if name == "produce" and code == 0 and not produce_done:
                produce_done = True
                say(f"[{time.monotonic() - t0:5.1f}s] stream replayed; still watching (Ctrl-C to stop)")
            elif name not in ("produce", "train"):
                raise MonitorError(f"{name} exited with code {code}; see its log in {procs.log_dir}")
            elif name == "produce" and code != 0:
                raise MonitorError(f"the replay failed (exit {code}); see {procs.log_dir}/produce.log")
        if deadline and time.monotonic() > deadline:
            say(f"no alert within {opts.timeout:.0f}s; stopping (logs in {procs.log_dir})")
            return 1
