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


# --- IPv6 transition addresses carry an IPv4 destination: judge them by it (issue 11, item 5) -----------

def teredo(server: str, client: str) -> str:
    """A Teredo address (2001::/32): server IPv4 in bits 32-63, client IPv4 inverted in the last 32 bits."""
    s = int(ipaddress.IPv4Address(server))
    c = int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF
    return str(ipaddress.IPv6Address((0x20010000 << 96) | (s << 64) | (0x8000 << 48) | (0x63BF << 32) | c))


def six_to_four(v4: str) -> str:
    return str(ipaddress.IPv6Address((0x2002 << 112) | (int(ipaddress.IPv4Address(v4)) << 80)))


def nat64(v4: str) -> str:
    return str(ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(ipaddress.IPv4Address(v4))))


WRAPPED_NON_PUBLIC = [
    "2002:a00:1::",  # 6to4 of 10.0.0.1
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254 (cloud metadata)
    six_to_four("192.168.0.1"),
    six_to_four("100.64.0.1"),  # carrier-grade NAT
    six_to_four("0.0.0.0"),
    teredo("65.54.227.120", "127.0.0.1"),  # public Teredo server, loopback client
    teredo("65.54.227.120", "10.0.0.1"),
    teredo("65.54.227.120", "169.254.169.254"),
    teredo("10.0.0.1", "8.8.8.8"),  # private server: the tunnel would start inside the network
    nat64("127.0.0.1"),
    nat64("10.0.0.1"),
    nat64("169.254.169.254"),
    "64:ff9b:1::a00:1",  # RFC 8215 local-use NAT64: the operator decides where the IPv4 sits
    "64:ff9b:1:ffff::808:808",
    "::ffff:0:7f00:1",  # IPv4-translated (SIIT)
    "::ffff:0:a00:1",
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "::10.0.0.1",
    "::169.254.169.254",
]


@pytest.mark.parametrize("address", WRAPPED_NON_PUBLIC)
def test_transition_addresses_wrapping_non_public_ipv4_are_refused(address):
    assert is_refused(ipaddress.ip_address(address)), address


def test_teredo_helper_matches_the_standard_library():
    server, client = ipaddress.IPv6Address(teredo("65.54.227.120", "10.0.0.1")).teredo
    assert (str(server), str(client)) == ("65.54.227.120", "10.0.0.1")


@pytest.mark.parametrize(
    "address",
    [six_to_four("8.8.8.8"), teredo("65.54.227.120", "8.8.8.8"), nat64("8.8.8.8"), "::ffff:8.8.8.8"],
)
def test_transition_addresses_wrapping_a_public_ipv4_pass(address):
    assert not is_refused(ipaddress.ip_address(address)), address


@pytest.mark.parametrize("address", ["2002:a00:1::", "2002:7f00:1::", "2002:a9fe:a9fe::", nat64("10.0.0.1")])
def test_wrapped_literals_refused_at_add_time(address):
    with pytest.raises(UnsafeWebhookURL, match="non-public"):
        check_webhook_url(f"http://[{address}]/x", allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",  # 127.0.0.1 as one decimal number
        "http://0x7f.1/",  # hex and short form
        "http://017700000001/",  # octal
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://0.0.0.0/",
        "http://0/",
        "http://[::]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://127.0.0.1./",  # trailing dot
        "http://localhost./",
        "http://LOCALHOST/",
        "http://169.254.169.254:80/latest/meta-data",
        "http://[fe80::1%25eth0]/",
    ],
)
def test_alternative_spellings_of_local_addresses_are_refused(url):
    with pytest.raises(UnsafeWebhookURL):
        check_webhook_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://evil@127.0.0.1/",
        "http://user:pass@93.184.215.14/",  # credentials would be stored and listed in clear
        "http://93.184.215.14@127.0.0.1/",
        "http://93.184.215.14\\@127.0.0.1/",
        "http://127.0.0.1\\@93.184.215.14/",
        "http://93.184.215.14\t/",
        "http://93.184.215.14 /",
        "http://exa mple.com/",
        "http://a..b/",
        "http://\u2460.com/",  # non-ASCII: parsers normalize it differently
        "http://93.184.215.14\n.evil/",
    ],
)
def test_urls_the_two_parsers_could_read_differently_are_refused(url):
    with pytest.raises(UnsafeWebhookURL):
        check_webhook_url(url, allow_private=True)  # refused for its shape, not its address


def test_send_time_check_uses_the_same_unwrapping(monkeypatch):
    """The relay resolves again before each POST; a 6to4 answer must be refused there too."""
    import httpx

    from monitor.alerts import sender

    monkeypatch.setattr(sender, "resolve_host", lambda host, port: [ipaddress.ip_address("2002:a9fe:a9fe::")])
    with httpx.Client() as client, pytest.raises(UnsafeWebhookURL, match="2002:a9fe:a9fe::"):
        sender._post_pinned(client, "http://hooks.example.com/x", {}, b"{}", allow_private=False)
