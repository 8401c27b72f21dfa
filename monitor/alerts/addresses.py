"""SSRF guard: a webhook URL must resolve only to public addresses unless the config allows others."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import httpx

from monitor.alerts.errors import UnsafeWebhookURL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ALLOW_SETTING = "MONITOR_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES"

# IPv6 prefixes whose packets end up at an IPv4 address carried in the IPv6 one: such an address is
# judged by the IPv4 it carries (a 6to4 address wrapping 10.0.0.1 reaches 10.0.0.1 through a relay).
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the IPv4 is the last 32 bits
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # RFC 2765 (SIIT)
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d; some stacks still route it
# RFC 8215 local-use NAT64: the operator picks where the IPv4 sits, so no safe unwrapping exists.
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")


def parse_webhook_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, else a one-line error.

    The URL must mean the same to the parser that checks it (urllib) and the one that sends (httpx):
    printable ASCII only, no backslashes, no ``user:password@`` part.
    """
    if not url.isascii() or not url.isprintable() or any(c in url for c in " \\"):
        raise UnsafeWebhookURL(
            f"webhook URL {url!r} may hold only printable ASCII without spaces or backslashes; "
            "percent-encode the path and write an international domain name in its xn-- form"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeWebhookURL(f"webhook URL {url!r} must be an absolute http:// or https:// URL")
    if "@" in parts.netloc:
        raise UnsafeWebhookURL(
            f"webhook URL {url!r} must not carry a user name or password; deliveries are authenticated by "
            "their signature (whsec_ secret)"
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeWebhookURL(f"webhook URL {url!r} has an invalid port") from None
    _require_same_host(url, parts.hostname)
    return parts.scheme, parts.hostname, port


def _require_same_host(url: str, host: str) -> None:
    """httpx (which sends) must see the host urllib (which checks) saw, or the check proves nothing."""
    try:
        sent_to = httpx.URL(url).host
    except Exception as exc:  # httpx.InvalidURL, idna errors: every way httpx can refuse the text
        raise UnsafeWebhookURL(f"webhook URL {url!r} is not a valid URL ({exc})") from None
    if sent_to.lower().strip("[]") != host.lower():
        raise UnsafeWebhookURL(f"webhook URL {url!r} is ambiguous (host {host!r} or {sent_to!r}); rewrite it")


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 transition address delivers to (empty for a plain IPv6 address)."""
    if address.ipv4_mapped:
        return [address.ipv4_mapped]
    if address.teredo:  # (server, client); the client's bits are stored inverted, which .teredo undoes
        return list(address.teredo)
    if address.sixtofour:
        return [address.sixtofour]
    if address in _NAT64_WELL_KNOWN or address in _IPV4_TRANSLATED:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # :: and ::1 are themselves, not IPv4
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return []


def is_refused(address: IPAddress) -> bool:
    """Loopback, private, link-local, multicast, reserved, unspecified, or otherwise not global.

    An IPv6 address that carries an IPv4 one (mapped, 6to4, Teredo, NAT64, compatible) is judged by
    every IPv4 it carries, whatever the standard library thinks of the IPv6 prefix itself.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64_LOCAL_USE:
            return True
        carried = embedded_ipv4(address)
        if carried:
            return any(_is_non_public(v4) for v4 in carried)
    return _is_non_public(address)


def _is_non_public(address: IPAddress) -> bool:
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address the host resolves to, in resolver order. Raises OSError when DNS fails."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError:  # an empty or over-long label ("a..b") fails in the idna codec, before DNS
        raise UnsafeWebhookURL(f"webhook host {host!r} is not a valid host name; check the URL") from None
    seen: dict[str, IPAddress] = {}
    for *_, sockaddr in infos:
        text = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
        seen.setdefault(text, ipaddress.ip_address(text))
    return list(seen.values())


def check_webhook_url(url: str, *, allow_private: bool) -> list[IPAddress]:
    """Resolve the URL's host and refuse it if any address is not public (DNS can't smuggle one in)."""
    _, host, port = parse_webhook_url(url)
    try:
        addresses = resolve_host(host, port)
    except OSError as exc:
        raise UnsafeWebhookURL(f"cannot resolve webhook host {host!r} ({exc}); check the URL") from None
    refuse_private(host, addresses, allow_private=allow_private)
    return addresses


def refuse_private(host: str, addresses: list[IPAddress], *, allow_private: bool) -> None:
    refused = [str(a) for a in addresses if is_refused(a)]
    if refused and not allow_private:
        raise UnsafeWebhookURL(
            f"webhook host {host!r} resolves to non-public address {', '.join(refused)}; "
            f"use a public endpoint or set {ALLOW_SETTING}=true"
        )
