"""The metrics endpoint binds to MONITOR_METRICS__HOST (loopback by default; compose opens it to the network)."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
import yaml

from monitor.errors import ConfigError
from monitor.local.broker import free_port
from monitor.settings import MetricsSettings
from monitor.stream.metrics import WorkerMetrics

ROOT = Path(__file__).resolve().parents[2]


def test_default_host_is_loopback():
    assert MetricsSettings().host == "127.0.0.1"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_endpoint_binds_to_the_configured_address_only(host):
    metrics = WorkerMetrics()
    port = free_port()
    try:
        metrics.serve(port, host)
    except ConfigError as exc:
        if host == "::1":
            pytest.skip(f"no IPv6 loopback here ({exc})")
        raise
    try:
        assert metrics._server.server_address[0] == host
        shown = f"[{host}]" if ":" in host else host
        with urllib.request.urlopen(f"http://{shown}:{port}/metrics", timeout=5) as response:
            assert b"monitor_worker_messages_in" in response.read()
    finally:
        metrics.close()


@pytest.mark.parametrize("host", ["not a host name", "192.0.2.1", "999.1.1.1"])
def test_an_address_this_host_does_not_have_is_one_clear_error(host):
    with pytest.raises(ConfigError, match="MONITOR_METRICS__HOST"):
        WorkerMetrics().serve(free_port(), host)


def test_port_zero_serves_nothing():
    metrics = WorkerMetrics()
    metrics.serve(0, "0.0.0.0")
    assert metrics._server is None


def test_compose_opens_the_worker_endpoint_to_the_network_and_keeps_the_rest():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    worker_env = services["worker"]["environment"]
    assert worker_env["MONITOR_METRICS__HOST"] == "0.0.0.0"
    # the worker's own environment block must still carry the shared settings (YAML merge, not replace)
    assert worker_env["MONITOR_KAFKA__BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert worker_env["MONITOR_DATABASE__URL"].startswith("postgresql+psycopg://")
    assert "MONITOR_METRICS__HOST" not in services["scheduler"]["environment"]
