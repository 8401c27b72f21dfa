"""``monitor dashboard``: serve the Streamlit app shipped inside the package (checkout or installed wheel)."""

from __future__ import annotations

import os
import sys

import typer

from monitor.local.dashboard import dashboard_command


def dashboard(
    port: int = typer.Option(8501, "--port", min=1, max=65535, help="Port to serve on."),
    address: str = typer.Option("127.0.0.1", "--address", help="Address to bind (0.0.0.0 in a container)."),
) -> None:
    """Serve the dashboard (reads the same MONITOR_ settings as every other command)."""
    command = dashboard_command(port, address)
    typer.echo(f"dashboard on http://{'localhost' if address in ('127.0.0.1', '0.0.0.0') else address}:{port}")
    sys.stdout.flush()
    os.execv(command[0], command)  # Streamlit owns the process from here: signals reach it directly


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)
