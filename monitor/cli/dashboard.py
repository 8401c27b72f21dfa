"""``monitor dashboard``: serve the Streamlit app shipped inside the package (checkout or installed wheel)."""

from __future__ import annotations

import ipaddress
import os
import sys

import typer

from monitor.errors import MonitorError
from monitor.local.dashboard import dashboard_command


def dashboard(
    port: int = typer.Option(8501, "--port", min=1, max=65535, help="Port to serve on."),
    address: str = typer.Option("127.0.0.1", "--address", help="Address to bind (0.0.0.0 in a container)."),
) -> None:
    """Serve the dashboard (reads the same MONITOR_ settings as every other command)."""
    _check_address(address)
    command = dashboard_command(port, address)
    typer.echo(f"dashboard on http://{'localhost' if address in ('127.0.0.1', '0.0.0.0') else address}:{port}")
    sys.stdout.flush()
    os.execv(command[0], command)  # Streamlit owns the process from here: signals reach it directly


def _check_address(address: str) -> None:
    """An IP address to bind, or localhost (Streamlit would otherwise fail later with a traceback)."""
    if address == "localhost":
        return
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise MonitorError(f"--address {address!r} is not an IP address to bind; use 127.0.0.1 or 0.0.0.0") from None


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)
