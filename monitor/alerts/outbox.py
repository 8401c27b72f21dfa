"""The webhook outbox: one delivery row per matching endpoint, written in the caller's transaction.

Writing the rows beside the alert change (same transaction) is what makes an alert never lost and
never announced twice: the relay only ever sends rows that committed.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from monitor.alerts.payloads import alert_data, event_body, group_data
from monitor.store.orm import Alert, AlertGroup, WebhookDelivery, WebhookEndpoint


def new_webhook_id() -> str:
    """The Standard Webhooks message id; receivers dedupe on it, so it never changes on retry."""
    return f"msg_{uuid.uuid4().hex}"


def list_matching_endpoints(scope: str, *, session: Session) -> list[WebhookEndpoint]:
    """Enabled endpoints without a topic filter, or whose filter names this scope."""
    stmt = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.enabled.is_(True))
        .where(
            or_(
                WebhookEndpoint.topics.is_(None),
                func.jsonb_typeof(WebhookEndpoint.topics) == "null",  # JSON null written by the ORM
                WebhookEndpoint.topics.contains([scope]),
            )
        )
        .order_by(WebhookEndpoint.id)
    )
    return list(session.scalars(stmt))


def enqueue_delivery(
    endpoint: WebhookEndpoint, body: dict[str, Any], *, alert_id: int | None, session: Session
) -> WebhookDelivery:
    delivery = WebhookDelivery(
        webhook_id=new_webhook_id(),
        alert_id=alert_id,
        endpoint_id=endpoint.id,
        event_type=body["type"],
        payload=body,
        status="pending",
    )
    session.add(delivery)
    session.flush()
    return delivery


def enqueue_alert_event(
    alert: Alert, event_type: str, *, dashboard_url: str, session: Session
) -> list[WebhookDelivery]:
    """Queue ``event_type`` for ``alert`` to every matching endpoint; the body is fixed from now on."""
    body = event_body(event_type, alert_data(alert, dashboard_url=dashboard_url))
    endpoints = list_matching_endpoints(alert.scope, session=session)
    return [enqueue_delivery(ep, body, alert_id=alert.id, session=session) for ep in endpoints]


def enqueue_group_event(
    event_type: str, group: AlertGroup | None, children: list[Alert], *, dashboard_url: str, session: Session
) -> list[WebhookDelivery]:
    """One delivery per endpoint matching any scope of the group: one notification for the whole episode.

    Each endpoint's body leads with the first scope its filter names, so a receiver that watches
    only "Earnings" reads Earnings figures at the top; every scope is listed under ``children``.
    """
    endpoints: dict[int, tuple[WebhookEndpoint, Alert]] = {}
    for child in children:
        for endpoint in list_matching_endpoints(child.scope, session=session):
            endpoints.setdefault(endpoint.id, (endpoint, child))
    deliveries = []
    for endpoint, lead in endpoints.values():
        body = event_body(event_type, group_data(group, lead, children, dashboard_url=dashboard_url))
        deliveries.append(enqueue_delivery(endpoint, body, alert_id=lead.id, session=session))
    return deliveries
