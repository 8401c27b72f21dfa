"""Receivers that accept and then trickle: each attempt ends by the webhook timeout as a whole, not per read.

httpx's timeouts bound each socket operation (encode/httpx#1450): a receiver that sends a byte of its answer every
fraction of the timeout keeps a request alive for ever, and with it the relay's pass, its claimed delivery's row
lock and every other endpoint's deliveries behind it."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from monitor.alerts import WebhookRelay, add_endpoint
from monitor.store import transaction

from .receiver import Receiver
from .test_relay import FAST, deliveries, open_alert, register

pytestmark = pytest.mark.integration

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n"


class Trickler:
    """Accepts, reads the request, then sends its answer one piece every ``every`` seconds until told to stop."""

    def __init__(self, pieces: list[bytes], every: float = 0.1) -> None:
        self.pieces, self.every = pieces, every
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed by stop()
                return
            self.connections += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(1)
            try:
                conn.recv(65536)
                for piece in self._forever():
                    if self.stopped.is_set():
                        return
                    conn.sendall(piece)
                    time.sleep(self.every)
            except OSError:
                return  # the client gave up and closed: what it should do

    def _forever(self):
        yield from self.pieces
        while True:
            yield self.pieces[-1]

    def stop(self) -> None:
        self.stopped.set()
        self.listener.close()


@pytest.mark.parametrize("pieces", [
    pytest.param([HEAD, b"1\r\nx\r\n"], id="body-a-byte-at-a-time"),
    pytest.param([b"HTTP/1.1 200 OK\r\n", b"x-a: b\r\n"], id="headers-that-never-end"),
])
def test_a_trickling_receiver_costs_one_timeout_per_attempt_and_holds_up_no_other_endpoint(session_factory, pieces):
    slow = Trickler(pieces)
    healthy = Receiver().start()
    try:
        with transaction(session_factory) as session:
            slow_id = add_endpoint(slow.url, allow_private=True, session=session).id
        register(session_factory, healthy)
        open_alert(session_factory)  # one delivery to each endpoint
        with WebhookRelay(FAST, session_factory) as relay:
            started = time.monotonic()
            report = relay.run_once()
            took = time.monotonic() - started
        assert took < FAST.timeout_seconds * 2 + 1, f"one pass took {took:.1f} s against a trickling receiver"
        assert report.delivered == 1 and report.retrying == 1 and len(healthy.received) == 1
        stuck = next(d for d in deliveries(session_factory) if d.endpoint_id == slow_id)
        assert stuck.status == "pending" and stuck.attempts == 1 and "Timeout" in (stuck.last_error or "")
        assert slow.connections == 1
    finally:
        slow.stop()
        healthy.stop()
