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
