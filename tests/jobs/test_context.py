"""The job context's long-lived clients: typed, built on first use, reused, closed in one place."""

from monitor.alerts import WebhookRelay
from monitor.jobs import JobContext
from monitor.settings import Settings


def test_the_webhook_relay_is_built_once_on_first_use_and_closed_with_the_context(monkeypatch):
    closed = []
    monkeypatch.setattr(WebhookRelay, "close", lambda self: closed.append(self))
    ctx = JobContext(Settings(), session_factory=None)
    assert ctx._webhook_relay is None  # nothing built until a job asks
    relay = ctx.webhook_relay
    assert isinstance(relay, WebhookRelay) and ctx.webhook_relay is relay
    ctx.close()
    assert closed == [relay]
    ctx.close()  # closing twice closes nothing twice
    assert closed == [relay]


def test_closing_a_context_that_built_nothing_is_harmless():
    JobContext(Settings(), session_factory=None).close()
