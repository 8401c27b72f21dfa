"""A tiny headless-Chromium driver over the DevTools protocol (websockets only; no Selenium or Playwright).

Streamlit renders after a websocket round trip, which Chromium's ``--virtual-time-budget`` does not wait
for, so this polls the live DOM until the page is ready and then takes the screenshot.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

CHROMIUM = Path("/usr/bin/chromium")


class Page:
    """One tab: evaluate JavaScript, wait for a condition, capture a PNG."""

    def __init__(self, ws: ClientConnection, session_id: str) -> None:
        self._ws, self._session, self._next_id = ws, session_id, 0

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30) -> dict[str, Any]:
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}, "sessionId": self._session}
        self._ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 60) -> Any:
        """Poll ``expression`` until it is truthy; raise TimeoutError with the last value otherwise."""
        deadline, value = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.25)
        raise TimeoutError(f"page never satisfied {expression!r} (last value {value!r})")

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))
        return path


@contextmanager
def open_page(url: str, profile_dir: Path, width: int = 1440, height: int = 1000) -> Iterator[Page]:
    """Start headless Chromium on ``url`` and yield the tab; the browser is stopped afterwards."""
    proc = subprocess.Popen(
        [
            str(CHROMIUM),
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-dev-shm-usage",
            f"--window-size={width},{height}",
            f"--user-data-dir={profile_dir}",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ws_url = _devtools_url(proc)
        with connect(ws_url, max_size=64 * 2**20) as ws:
            page = _attach(ws, url)
            page.call("Page.enable")
            yield page
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _devtools_url(proc: subprocess.Popen[str], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if match := re.search(r"DevTools listening on (ws://\S+)", line):
            return match.group(1)
        if not line and proc.poll() is not None:
            break
    raise RuntimeError("chromium did not start its DevTools endpoint")


def _attach(ws: ClientConnection, url: str) -> Page:
    def browser_call(method: str, params: dict[str, Any], msg_id: int) -> dict[str, Any]:
        ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            reply = json.loads(ws.recv(timeout=30))
            if reply.get("id") == msg_id:
                return reply["result"]

    target = browser_call("Target.createTarget", {"url": url}, 1)["targetId"]
    session = browser_call("Target.attachToTarget", {"targetId": target, "flatten": True}, 2)["sessionId"]
    return Page(ws, session)


@contextmanager
def streamlit_server(app: Path, database_url: str, log_path: Path, cwd: Path) -> Iterator[str]:
    """`streamlit run APP` headless on a free loopback port against ``database_url``; yields its base URL."""
    import os
    import socket
    import sys

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MONITOR_DATABASE__URL": database_url}
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless=true", f"--server.port={port}",
           "--server.address=127.0.0.1", "--browser.gatherUsageStats=false", "--client.toolbarMode=minimal",
           "--server.fileWatcherType=none"]
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"streamlit exited with code {proc.returncode}; see {log_path}")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"streamlit did not answer within 90 s; see {log_path}")
                time.sleep(0.3)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
