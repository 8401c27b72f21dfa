"""Webhook endpoints: register (with a fresh ``whsec_`` secret), list, disable, queue a test event."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import null, select, update
from sqlalchemy.orm import Session

from monitor.alerts.addresses import check_webhook_url
from monitor.alerts.errors import AlertsError, EndpointNotFound
from monitor.alerts.outbox import enqueue_delivery
from monitor.alerts.payloads import TEST_EVENT, event_body
from monitor.alerts.signing import generate_secret
from monitor.store.orm import ALL_TOPICS, WebhookDelivery, WebhookEndpoint

ALL_TOPICS_ALIASES = frozenset({"all", ALL_TOPICS})


def normalize_topics(topics: Sequence[str] | None) -> list[str] | None:
    """Topic filter as stored: None (every scope), else names, with ``all`` meaning the all-topics scope."""
    names = [t.strip() for raw in topics or [] for t in raw.split(",") if t.strip()]
    if not names:
        return None
    known = _known_topics()
    normalized = []
    for name in names:
        if name.casefold() in ALL_TOPICS_ALIASES:
            normalized.append(ALL_TOPICS)
        elif known is not None and name not in known:
            raise AlertsError(f"unknown topic {name!r}; use one of: all, {', '.join(sorted(known))}")
        else:
            normalized.append(name)
    return sorted(set(normalized))


def _known_topics() -> set[str] | None:
    """The model's topic names when the model package is installed (a typo would never match)."""
    try:
        from monitor.model.labels import TOPIC_LABELS
    except ImportError:
        return None
    return set(TOPIC_LABELS)


def add_endpoint(
    url: str,
    *,
    topics: Sequence[str] | None = None,
    description: str | None = None,
    allow_private: bool = False,
    session: Session,
) -> WebhookEndpoint:
    """Register an endpoint after the SSRF check; its ``secret`` is for the caller to show once."""
    check_webhook_url(url, allow_private=allow_private)
    endpoint = WebhookEndpoint(
        url=url,
        secret=generate_secret(),
        topics=normalize_topics(topics) or null(),  # SQL NULL (every scope), not a JSON null
        description=description,
        enabled=True,
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def list_endpoints(*, session: Session) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def get_endpoint(endpoint_id: int, *, session: Session) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise EndpointNotFound(f"no webhook endpoint {endpoint_id}; see `monitor webhooks list`")
    return endpoint


def disable_endpoint(endpoint_id: int, *, reason: str, session: Session) -> int:
    """Disable an endpoint and cancel its pending deliveries; returns how many were cancelled."""
    endpoint = get_endpoint(endpoint_id, session=session)
    endpoint.enabled = False
    endpoint.disabled_reason = reason
    cancelled = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending")
        .values(status="cancelled", last_error=f"endpoint disabled: {reason}")
    )
    session.flush()
    return cancelled.rowcount or 0


def enqueue_test_event(endpoint_id: int, *, session: Session) -> WebhookDelivery:
    """Queue a signed ``test`` event for one enabled endpoint."""
    endpoint = get_endpoint(endpoint_id, session=session)
    if not endpoint.enabled:
        raise AlertsError(
            f"webhook endpoint {endpoint_id} is disabled ({endpoint.disabled_reason}); add it again"
        )
    data = {"endpoint_id": endpoint.id, "message": "Test event from the financial news monitor."}
    return enqueue_delivery(endpoint, event_body(TEST_EVENT, data), alert_id=None, session=session)
