"""The sender connects to the address the guard checked, keeping the real host for Host and TLS."""

import ipaddress

import httpx

from monitor.alerts.sender import _pinned_request, make_client


def test_https_request_is_pinned_to_the_checked_address_with_sni():
    with make_client(1.0) as client:
        request = _pinned_request(
            client,
            "https://hooks.example.com:8443/a?b=1",
            ipaddress.ip_address("93.184.215.14"),
            {"webhook-id": "msg_1"},
            b"{}",
        )
    assert request.url == httpx.URL("https://93.184.215.14:8443/a?b=1")
    assert request.headers["host"] == "hooks.example.com:8443"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert request.headers["webhook-id"] == "msg_1" and request.content == b"{}"


def test_http_ipv6_address_is_bracketed_and_has_no_sni():
    with make_client(1.0) as client:
        request = _pinned_request(
            client, "http://hooks.example.com/x", ipaddress.ip_address("2606:4700::1"), {}, b""
        )
    assert str(request.url) == "http://[2606:4700::1]/x"
    assert request.headers["host"] == "hooks.example.com" and "sni_hostname" not in request.extensions


def test_client_neither_follows_redirects_nor_reads_proxy_settings():
    with make_client(1.0) as client:
        assert client.follow_redirects is False and client.trust_env is False


def test_a_resolver_that_never_answers_costs_the_attempt_its_timeout_not_more(monkeypatch):
    """getaddrinfo takes no timeout: the lookup runs within the attempt's deadline and fails it as a timeout."""
    import socket
    import threading
    import time

    from monitor.alerts.sender import send_delivery
    from monitor.alerts.signing import generate_secret
    from monitor.store.orm import WebhookDelivery, WebhookEndpoint

    release = threading.Event()

    def silent_resolver(*args, **kwargs):
        release.wait(30)  # a name server that drops the query
        raise socket.gaierror("no answer")

    monkeypatch.setattr(socket, "getaddrinfo", silent_resolver)
    endpoint = WebhookEndpoint(url="https://hooks.example.com/x", secret=generate_secret())
    delivery = WebhookDelivery(webhook_id="msg_1", payload={"type": "ping"})
    try:
        with make_client(0.5) as client:
            started = time.monotonic()
            outcome = send_delivery(client, endpoint, delivery, allow_private=False)
            took = time.monotonic() - started
    finally:
        release.set()
    assert took < 1.5, f"the attempt took {took:.1f} s"
    assert outcome.status_code is None and not outcome.refused  # a timeout: retried like any other
    assert "ConnectTimeout" in outcome.error and "hooks.example.com" in outcome.error
