"""SSRF guard: a webhook URL must resolve only to public addresses unless the config allows others."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from monitor.alerts.errors import UnsafeWebhookURL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ALLOW_SETTING = "MONITOR_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES"


def parse_webhook_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, else a one-line error."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeWebhookURL(f"webhook URL {url!r} must be an absolute http:// or https:// URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeWebhookURL(f"webhook URL {url!r} has an invalid port") from None
    return parts.scheme, parts.hostname, port


def is_refused(address: IPAddress) -> bool:
    """Loopback, private, link-local, multicast, reserved, unspecified, or otherwise not global."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
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
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
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
