"""Webhook bodies ``{type, timestamp, data}``: built once when the event is created, never rebuilt."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from monitor.store.orm import ALL_TOPICS, Alert, AlertGroup

ALERT_OPENED = "alert.opened"
ALERT_UPDATED = "alert.updated"
"""More scopes joined an open group: the same episode, so no new ``alert.opened``."""
ALERT_RESOLVED = "alert.resolved"
TEST_EVENT = "test"


def event_body(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": event_type, "timestamp": datetime.now(UTC).isoformat(), "data": data}


def encode_body(body: dict[str, Any]) -> bytes:
    """Canonical bytes (sorted keys): the stored JSONB payload yields the same bytes on every retry."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def alert_link(dashboard_url: str, alert_id: int) -> str:
    return f"{dashboard_url.rstrip('/')}/alerts?alert_id={alert_id}"


def alert_data(alert: Alert, *, dashboard_url: str) -> dict[str, Any]:
    """Everything a receiver needs to act without calling back: figures, statistic, examples, link."""
    return {
        "alert_id": alert.id,
        "scope": alert.scope,
        "topic": None if alert.scope == ALL_TOPICS else alert.scope,
        "all_topics": alert.scope == ALL_TOPICS,
        "status": alert.status,
        "opened_at": alert.opened_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "window": {"start": alert.window_start.isoformat(), "end": alert.window_end.isoformat()},
        "baseline": {"start": alert.baseline_start.isoformat(), "end": alert.window_start.isoformat(),
                     "kind": (alert.opening or {}).get("baseline_kind")},
        "observed_share": alert.observed_share,
        "baseline_share": alert.baseline_share,
        "peak_share": alert.peak_share,
        "rise": alert.observed_share - alert.baseline_share,
        "counts": {
            "window": alert.window_count,
            "window_negative": alert.window_negative,
            "baseline": alert.baseline_count,
            "baseline_negative": alert.baseline_negative,
        },
        "statistic": alert.statistic,
        "p_value": alert.p_value,
        "examples": list(alert.examples or []),
        "dashboard_url": alert_link(dashboard_url, alert.id),
        "window_minutes": alert.window_minutes,
        "opening": alert.opening,
        "peak": alert.peak,
        "resolution": alert.resolution,
        "group_id": alert.group_id,
    }


def child_data(alert: Alert, *, dashboard_url: str) -> dict[str, Any]:
    """One scope of a group as listed inside the group's notification."""
    return {
        "alert_id": alert.id,
        "scope": alert.scope,
        "status": alert.status,
        "opened_at": alert.opened_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "window_minutes": alert.window_minutes,
        "opening": alert.opening,
        "peak": alert.peak,
        "resolution": alert.resolution,
        "dashboard_url": alert_link(dashboard_url, alert.id),
    }


def group_data(
    group: AlertGroup | None, lead: Alert, children: list[Alert], *, dashboard_url: str
) -> dict[str, Any]:
    """The lead scope's figures at the top (what a single-scope receiver reads), every scope under ``children``."""
    data = alert_data(lead, dashboard_url=dashboard_url)
    data["group"] = {
        "id": group.id if group else None,
        "status": group.status if group else lead.status,
        "opened_at": (group.opened_at if group else lead.opened_at).isoformat(),
        "resolved_at": group.resolved_at.isoformat() if group and group.resolved_at else None,
        "scopes": [c.scope for c in children],
    }
    data["children"] = [child_data(c, dashboard_url=dashboard_url) for c in children]
    return data
