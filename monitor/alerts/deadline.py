"""A whole-attempt deadline for webhook requests.

httpx's timeouts bound each socket operation, not the request (encode/httpx#1450, open): a receiver that
accepts and then sends one byte of its answer every so often, never waiting a whole timeout, keeps a request
alive for ever, and with it the relay's pass and every delivery behind it. So the client's connections go
through a network backend whose every read and write waits at most what is left of the attempt's deadline
(``attempt_deadline``), and fails with httpcore's own timeout errors, which httpx maps to ``ReadTimeout`` and
``WriteTimeout`` as usual (and then closes that connection). The host's name is resolved within the same
deadline (``resolve_in_time``).
"""

from __future__ import annotations

import contextvars
import ssl
import threading
import time
import typing
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager

import httpcore
import httpx

T = typing.TypeVar("T")
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("webhook_deadline", default=None)


@contextmanager
def attempt_deadline(seconds: float) -> Iterator[None]:
    """Every network operation of the requests made inside ends within ``seconds`` from now, in all."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


_lookups: dict[tuple[typing.Any, str, int], Future[typing.Any]] = {}
_lookups_lock = threading.Lock()


def resolve_in_time(resolve: Callable[[str, int], T], host: str, port: int) -> T:
    """``resolve(host, port)`` within what is left of the attempt's deadline. ``getaddrinfo`` takes no timeout and
    a resolver that never answers costs the C library's retries (5 s each, per name server); past the deadline the
    attempt fails as a connect timeout and the lookup is left to finish in a daemon thread.

    An attempt for a name already being looked up waits on that lookup instead of starting another: against a
    resolver that has stopped answering, attempt after attempt leaves one thread per name behind, not one per
    attempt, and a name that resolves is never kept waiting behind one that does not."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return resolve(host, port)
    key = (resolve, host, port)
    with _lookups_lock:
        lookup = _lookups.get(key)
        if lookup is None:
            lookup = _lookups[key] = Future()
            threading.Thread(target=_look_up, args=(key, lookup, resolve, host, port), name="webhook-resolve",
                             daemon=True).start()
    try:
        return lookup.result(max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        raise httpx.ConnectTimeout(f"resolving {host!r} ran past the webhook attempt's deadline") from None


def _look_up(key: tuple[typing.Any, str, int], lookup: Future[typing.Any], resolve: Callable[[str, int], typing.Any],
             host: str, port: int) -> None:
    try:
        lookup.set_result(resolve(host, port))
    except BaseException as exc:  # noqa: BLE001 - handed to every caller waiting on it
        lookup.set_exception(exc)
    finally:  # the next attempt for this name looks it up afresh
        with _lookups_lock:
            del _lookups[key]


def _within_deadline(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the webhook attempt ran past its deadline")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _within_deadline(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _within_deadline(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, _within_deadline(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, _within_deadline(timeout, httpcore.ConnectTimeout),
                                         local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(path, _within_deadline(timeout, httpcore.ConnectTimeout),
                                                 socket_options)
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport over the deadline-aware backend (its request and response handling unchanged)."""

    def __init__(self) -> None:
        super().__init__(trust_env=False)
        # HTTPTransport takes no network backend, so its pool is built again here as it builds it (no proxy).
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(trust_env=False),
                                             max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0,
                                             network_backend=_DeadlineBackend())
