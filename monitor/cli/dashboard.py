"""``monitor dashboard``: serve the Streamlit app shipped inside the package (checkout or installed wheel)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import typer

from monitor.errors import MonitorError


def app_path() -> Path:
    """``dashboard/app.py`` wherever the ``dashboard`` package is installed."""
    spec = importlib.util.find_spec("dashboard")
    if spec is None or not spec.submodule_search_locations:
        raise MonitorError("the dashboard is not installed: `pip install 'fin-news-monitor[dashboard]'`")
    return Path(next(iter(spec.submodule_search_locations))) / "app.py"


def streamlit_command(port: int, address: str) -> list[str]:
    """The command line that serves the dashboard headless on ``address:port``."""
    if importlib.util.find_spec("streamlit") is None:
        raise MonitorError("Streamlit is not installed; install it with `pip install 'fin-news-monitor[dashboard]'`")
    return [
        sys.executable, "-m", "streamlit", "run", str(app_path()), "--server.headless=true",
        f"--server.port={port}", f"--server.address={address}", "--browser.gatherUsageStats=false",
    ]


def dashboard(
    port: int = typer.Option(8501, "--port", min=1, max=65535, help="Port to serve on."),
    address: str = typer.Option("127.0.0.1", "--address", help="Address to bind (0.0.0.0 in a container)."),
) -> None:
    """Serve the dashboard (reads the same MONITOR_ settings as every other command)."""
    command = streamlit_command(port, address)
    typer.echo(f"dashboard on http://{'localhost' if address in ('127.0.0.1', '0.0.0.0') else address}:{port}")
    sys.stdout.flush()
    os.execv(command[0], command)  # Streamlit owns the process from here: signals reach it directly


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)
