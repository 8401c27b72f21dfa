"""One signed HTTP POST of a delivery, connecting only to the addresses the SSRF guard approved."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from monitor.alerts.addresses import IPAddress, parse_webhook_url, refuse_private, resolve_host
from monitor.alerts.deadline import DeadlineTransport, attempt_deadline, resolve_in_time
from monitor.alerts.errors import UnsafeWebhookURL
from monitor.alerts.payloads import encode_body
from monitor.alerts.retry import parse_retry_after
from monitor.alerts.signing import signed_headers
from monitor.store.orm import WebhookDelivery, WebhookEndpoint

USER_AGENT = "fin-news-monitor-webhooks/1"
DEFAULT_ATTEMPT_SECONDS = 10.0  # a client made without a read timeout still ends each attempt


@dataclass(frozen=True)
class AttemptOutcome:
    """``status_code`` None means no HTTP answer (timeout, refused connection, DNS failure)."""

    status_code: int | None
    error: str | None
    duration_ms: float
    retry_after: float | None = None
    refused: bool = False  # the SSRF guard refused the address: retrying can't help


def make_client(timeout_seconds: float) -> httpx.Client:
    # No redirects (a 3xx could point anywhere, past the guard) and no proxies from the environment
    # (the guard checks the address we actually connect to). The transport bounds each attempt as a whole
    # (``deadline``): httpx's timeout alone bounds each read, which a trickling receiver never exceeds.
    return httpx.Client(timeout=timeout_seconds, follow_redirects=False, trust_env=False,
                        headers={"user-agent": USER_AGENT}, transport=DeadlineTransport())


def send_delivery(
    client: httpx.Client, endpoint: WebhookEndpoint, delivery: WebhookDelivery, *, allow_private: bool
) -> AttemptOutcome:
    """One attempt, over within the client's timeout in all (resolving, connecting, sending, the whole answer)."""
    started = time.perf_counter()
    body = encode_body(delivery.payload)
    headers = signed_headers(endpoint.secret, delivery.webhook_id, int(time.time()), body)
    try:
        with attempt_deadline(client.timeout.read or DEFAULT_ATTEMPT_SECONDS):
            response = _post_pinned(client, endpoint.url, headers, body, allow_private=allow_private)
    except UnsafeWebhookURL as exc:
        return AttemptOutcome(None, str(exc), _ms_since(started), refused=True)
    except (httpx.HTTPError, OSError) as exc:
        return AttemptOutcome(None, f"{type(exc).__name__}: {exc}"[:500], _ms_since(started))
    error = None if response.is_success else f"HTTP {response.status_code}: {response.text[:200]}"
    retry_after = parse_retry_after(response.headers.get("retry-after"), now=datetime.now(UTC))
    return AttemptOutcome(response.status_code, error, _ms_since(started), retry_after)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _post_pinned(
    client: httpx.Client, url: str, headers: dict[str, str], body: bytes, *, allow_private: bool
) -> httpx.Response:
    """Resolve once, check, then connect to that very address (no DNS rebinding between check and use)."""
    _, host, port = parse_webhook_url(url)
    addresses = resolve_in_time(resolve_host, host, port)
    refuse_private(host, addresses, allow_private=allow_private)
    last_error: httpx.HTTPError | None = None
    for address in addresses:
        try:
            return client.send(_pinned_request(client, url, address, headers, body))
        except httpx.ConnectError as exc:  # try the host's next address, as a browser would
            last_error = exc
    assert last_error is not None  # resolve_host returns at least one address or raises
    raise last_error


def _pinned_request(
    client: httpx.Client, url: str, address: IPAddress, headers: dict[str, str], body: bytes
) -> httpx.Request:
    original = httpx.URL(url)
    # TLS still verifies the certificate against the real host name through SNI.
    extensions = {"sni_hostname": original.host} if original.scheme == "https" else {}
    return client.build_request(
        "POST",
        original.copy_with(host=str(address)),
        headers={**headers, "host": original.netloc.decode("ascii")},
        content=body,
        extensions=extensions,
    )
