"""A local webhook receiver for the demo: verifies each delivery (standardwebhooks) and prints the alert."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from monitor.store.orm import ALL_TOPICS

log = logging.getLogger(__name__)


class WebhookReceiver:
    """Listens on loopback; keeps every verified event, answers 401 to a bad signature."""

    def __init__(self, secret: str, port: int = 0, on_event: Callable[[dict[str, Any]], None] | None = None):
        from standardwebhooks import Webhook

        self._verifier = Webhook(secret)
        self.events: list[dict[str, Any]] = []
        self.rejected = 0
        self._on_event = on_event
        self._arrived = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hooks/alerts"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    event = receiver._verifier.verify(body, headers)
                except Exception as exc:  # any verification failure is a 401, never a crash
                    receiver.rejected += 1
                    log.warning("rejected a webhook with a bad signature: %s", exc)
                    self.send_response(401)
                    self.end_headers()
                    return
                receiver._accept({**event, "_webhook_id": headers.get("webhook-id")})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def _accept(self, event: dict[str, Any]) -> None:
        with self._arrived:
            self.events.append(event)
            self._arrived.notify_all()
        if self._on_event:
            self._on_event(event)

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any] | None:
        """The first verified event matching ``predicate``, waiting up to ``timeout`` seconds."""
        with self._arrived:
            found = self._arrived.wait_for(lambda: next((e for e in self.events if predicate(e)), None), timeout)
        return found or None

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def describe_event(event: dict[str, Any]) -> str:
    """One human line for the terminal: what the event says, and where to look at it."""
    data = event.get("data") or {}
    kind = event.get("type") or "event"
    if kind == "test":
        return f"[webhook] test event for endpoint {data.get('endpoint_id', '?')}: signature verified"
    group, children = data.get("group") or {}, [c for c in data.get("children") or [] if isinstance(c, dict)]
    label = f" group {group['id']}" if group.get("id") is not None else ""
    if kind == "alert.updated" and children:
        # An update means scopes joined the group: name them and their opening figures, not the lead's again.
        newest = max(str(c.get("opened_at")) for c in children)
        joined = [c for c in children if str(c.get("opened_at")) == newest]
        named = ", ".join(f"{_scope_name(c)} ({_opening(c)})" if _opening(c) else _scope_name(c) for c in joined)
        link = f" {joined[0]['dashboard_url']}" if joined[0].get("dashboard_url") else ""
        total = f"{len(children)} scope{'s' if len(children) != 1 else ''}"
        return f"[webhook] {kind}{label}: + {named} joined ({total} in the group){link}"
    share, base = data.get("observed_share"), data.get("baseline_share")
    figures = f": negative share {share:.0%} vs baseline {base:.0%}" if share is not None and base is not None else ""
    z = data.get("statistic")
    statistic = f" (z={z:.1f})" if isinstance(z, int | float) else ""
    link = f" {data['dashboard_url']}" if data.get("dashboard_url") else ""
    others = [_scope_name(c) for c in children if c.get("scope") != data.get("scope")]
    also = f"; with {', '.join(others)}" if others else ""
    return f"[webhook] {kind}{label} {_scope_name(data) or 'unknown scope'}{figures}{statistic}{also}{link}"


def _scope_name(data: dict[str, Any]) -> str | None:
    return "All topics" if data.get("all_topics") or data.get("scope") == ALL_TOPICS else data.get("scope")


def _opening(child: dict[str, Any]) -> str:
    figures = child.get("opening") or {}
    share, base = figures.get("observed_share"), figures.get("baseline_share")
    return f"{share:.0%} vs {base:.0%}" if isinstance(share, int | float) and isinstance(base, int | float) else ""
