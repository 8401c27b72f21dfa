"""SSRF guard: non-public addresses are refused unless the config allows them."""

import ipaddress

import pytest

from monitor.alerts.addresses import check_webhook_url, is_refused
from monitor.alerts.errors import UnsafeWebhookURL


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "100.64.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::",
    ],
)
def test_non_public_addresses_are_refused(address):
    assert is_refused(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address):
    assert not is_refused(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/x",
        "http://169.254.169.254/latest",
    ],
)
def test_loopback_and_metadata_urls_refused_unless_allowed(url):
    with pytest.raises(UnsafeWebhookURL, match="ALLOW_PRIVATE_ADDRESSES"):
        check_webhook_url(url, allow_private=False)
    assert check_webhook_url(url, allow_private=True)


def test_public_literal_address_passes_without_dns():
    assert [str(a) for a in check_webhook_url("https://93.184.215.14/hook", allow_private=False)] == [
        "93.184.215.14"
    ]


@pytest.mark.parametrize("url", ["ftp://example.com/x", "not a url", "http:///nohost", "http://h:99999/"])
def test_malformed_urls_refused(url):
    with pytest.raises(UnsafeWebhookURL):
        check_webhook_url(url, allow_private=True)


def test_unresolvable_host_is_a_clear_error():
    with pytest.raises(UnsafeWebhookURL, match="cannot resolve"):
        check_webhook_url("http://no-such-host.invalid/hook", allow_private=False)
