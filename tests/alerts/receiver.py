"""A real HTTP webhook receiver on loopback that verifies every request with `standardwebhooks`."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    webhook_id: str
    status: int
    verified: bool
    body: dict[str, Any] | None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """Answers from a script (then 200s); records each request and whether its signature verified."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.secret: str | None = None
        self.script: deque[Answer] = deque()
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> Receiver:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def answer(self, *answers: Answer) -> None:
        self.script.extend(answers)

    def handle(self, body: bytes, headers: dict[str, str]) -> Answer:
        with self._lock:
            answer = self.script.popleft() if self.script else Answer()
        try:
            parsed, verified = Webhook(self.secret or "whsec_AAAA").verify(body, headers), True
        except Exception:  # noqa: BLE001 - any failure means "not verified", recorded for the test
            parsed, verified = None, False
        time.sleep(answer.delay)
        with self._lock:
            self.received.append(Received(headers.get("webhook-id", ""), answer.status, verified, parsed))
        return answer

    def delivered(self) -> list[Received]:
        """Requests answered 2xx: what the receiver's application actually accepted."""
        return [r for r in self.received if 200 <= r.status < 300]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            answer = receiver.handle(body, {k.lower(): v for k, v in self.headers.items()})
            payload = json.dumps({"ok": 200 <= answer.status < 300}).encode()
            try:
                self.send_response(answer.status)
                for k, v in answer.headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client timed out and went away

        def log_message(self, *args: object) -> None:
            pass

    return Handler
