"""Where the Streamlit app is and the command line that serves it (``monitor dashboard`` and the demo)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from monitor.errors import MonitorError

INSTALL_HINT = "`pip install 'fin-news-monitor[dashboard]'`"


def app_path() -> Path:
    """``dashboard/app.py`` wherever the ``dashboard`` package is installed (checkout or wheel)."""
    spec = importlib.util.find_spec("dashboard")
    if spec is None or not spec.submodule_search_locations:
        raise MonitorError(f"the dashboard is not installed: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "app.py"


def dashboard_command(port: int, address: str = "127.0.0.1") -> list[str]:
    """The command line that serves the dashboard headless on ``address:port``."""
    if importlib.util.find_spec("streamlit") is None:
        raise MonitorError(f"Streamlit is not installed: {INSTALL_HINT}")
    return [
        sys.executable, "-m", "streamlit", "run", str(app_path()), "--server.headless=true",
        f"--server.port={port}", f"--server.address={address}", "--browser.gatherUsageStats=false",
    ]
