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


def _resolver_threads() -> int:
    import threading

    return sum(t.name == "webhook-resolve" and t.is_alive() for t in threading.enumerate())


def _wait_for_resolver_threads(at_most: int) -> int:
    import time

    end = time.monotonic() + 5
    while _resolver_threads() > at_most and time.monotonic() < end:
        time.sleep(0.01)
    return _resolver_threads()


def test_attempts_against_a_dead_resolver_leave_one_lookup_per_name_and_hold_up_no_other_name(monkeypatch):
    """Attempt after attempt against names whose resolver has stopped answering: one lookup thread per name, not
    per attempt; every attempt ends within its deadline with a timeout; a name that resolves is sent at once."""
    import socket
    import threading
    import time

    from monitor.alerts import deadline
    from monitor.alerts.sender import send_delivery
    from monitor.alerts.signing import generate_secret
    from monitor.store.orm import WebhookDelivery, WebhookEndpoint

    release = threading.Event()
    asked: list[str] = []

    def resolver(host, port, *args, **kwargs):
        asked.append(host)
        if host == "alive.example.com":  # this name's resolver answers
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.1", port))]
        release.wait(30)
        raise socket.gaierror("no answer")

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    before = _wait_for_resolver_threads(0)  # an earlier test's lookup, released, ending
    delivery = WebhookDelivery(webhook_id="msg_1", payload={"type": "ping"})
    dead = [f"dead{i}.example.com" for i in range(3)]
    outcomes = []
    try:
        with make_client(0.05) as client:
            for _ in range(10):
                for host in dead:
                    endpoint = WebhookEndpoint(url=f"https://{host}/x", secret=generate_secret())
                    started = time.monotonic()
                    outcomes.append((send_delivery(client, endpoint, delivery, allow_private=False),
                                     time.monotonic() - started))
                    assert _resolver_threads() - before <= len(dead)
            alive = send_delivery(client, WebhookEndpoint(url="https://alive.example.com/x", secret=generate_secret()),
                                  delivery, allow_private=False)
    finally:
        release.set()
    assert sorted(asked) == sorted([*dead, "alive.example.com"])  # thirty attempts, one lookup per name
    assert all(o.status_code is None and not o.refused and "ConnectTimeout" in o.error for o, _ in outcomes)
    assert max(took for _, took in outcomes) < 1.0
    assert "resolving" not in (alive.error or "")  # its name resolved at once; what came after is its own
    assert _wait_for_resolver_threads(before) == before  # an answer, even a failure, ends every lookup
    assert not deadline._lookups


def test_one_lookup_answers_every_attempt_waiting_on_it(monkeypatch):
    """Attempts that joined a lookup in flight get its answer, an address or the resolver's error."""
    import socket
    import threading

    from monitor.alerts.deadline import attempt_deadline, resolve_in_time

    calls: list[str] = []
    go = threading.Event()

    def slow_resolver(host, port, *args, **kwargs):
        calls.append(host)
        go.wait(5)
        if host == "bad.example.com":
            raise socket.gaierror("NXDOMAIN")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]

    monkeypatch.setattr(socket, "getaddrinfo", slow_resolver)
    from monitor.alerts.addresses import resolve_host

    results: dict[tuple[str, int], object] = {}

    def attempt(host: str, i: int) -> None:
        with attempt_deadline(5):
            try:
                results[host, i] = resolve_in_time(resolve_host, host, 443)
            except OSError as exc:
                results[host, i] = exc

    threads = [threading.Thread(target=attempt, args=(h, i)) for h in ("good.example.com", "bad.example.com")
               for i in range(4)]
    for t in threads:
        t.start()
    pause = threading.Event()
    for _ in range(500):  # both lookups under way (at most 5 s)
        if len(calls) >= 2:
            break
        pause.wait(0.01)
    go.set()
    for t in threads:
        t.join(5)
    assert sorted(calls) == ["bad.example.com", "good.example.com"]
    assert all(str(results["good.example.com", i][0]) == "93.184.215.14" for i in range(4))
    assert all(isinstance(results["bad.example.com", i], socket.gaierror) for i in range(4))
