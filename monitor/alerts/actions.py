"""What an analyst does to alerts from the dashboard: acknowledge one, mute a scope for a while, unmute it.

Query functions in the storage style: the session is a keyword and they ``flush()``; the caller commits.
The detector honours mutes by reading ``alert_mutes`` (a scope is muted while ``muted_until`` is ahead).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from monitor.alerts.errors import AlertsError
from monitor.store.orm import Alert, AlertMute

log = logging.getLogger(__name__)


class UnknownAlert(AlertsError):
    """No alert has the given id."""


class InvalidMute(AlertsError):
    """A mute that would have no effect (empty scope, or an end time not in the future)."""


def acknowledge_alert(alert_id: int, by: str, *, session: Session) -> Alert:
    """Mark an alert as seen by ``by``; acknowledging again keeps the first acknowledgement."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise UnknownAlert(f"no alert with id {alert_id}; the Alerts page lists the existing ones")
    if alert.acknowledged_at is None:
        alert.acknowledged_at = datetime.now(UTC)
        alert.acknowledged_by = (by or "").strip()[:128] or "unknown"
        session.flush()
        log.info("alert %s (%s) acknowledged by %s", alert.id, alert.scope, alert.acknowledged_by)
    return alert


def mute_scope(scope: str, until: datetime, reason: str | None = None, *, session: Session) -> AlertMute:
    """No new alerts for ``scope`` (a topic or ``ALL_TOPICS``) until ``until``; muting again moves the end."""
    scope = scope.strip()
    if not scope:
        raise InvalidMute("choose a topic (or all topics) to mute")
    if until.tzinfo is None:
        raise InvalidMute(
            "give the mute's end time with a time zone (e.g. datetime.now(UTC) + timedelta(hours=4))"
        )
    if until <= datetime.now(UTC):
        raise InvalidMute(f"the mute would end at {until.isoformat()}, already past; pick a later time")
    values = {"scope": scope, "muted_until": until, "reason": reason or None}
    stmt = insert(AlertMute).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[AlertMute.scope],
        set_={"muted_until": until, "reason": reason or None, "created_at": datetime.now(UTC)},
    )
    session.execute(stmt)
    session.flush()
    log.info("alerts for %s muted until %s (%s)", scope, until.isoformat(), reason or "no reason given")
    return session.execute(
        select(AlertMute).where(AlertMute.scope == scope).execution_options(populate_existing=True)
    ).scalar_one()


def unmute_scope(scope: str, *, session: Session) -> bool:
    """Lift the mute on ``scope``; False when it was not muted."""
    removed = session.execute(delete(AlertMute).where(AlertMute.scope == scope)).rowcount
    session.flush()
    if removed:
        log.info("alerts for %s unmuted", scope)
    return bool(removed)


def list_active_mutes(*, session: Session, now: datetime | None = None) -> list[AlertMute]:
    """Mutes still in force at ``now`` (default: the current time), soonest to end first."""
    now = now or datetime.now(UTC)
    stmt = select(AlertMute).where(AlertMute.muted_until > now).order_by(AlertMute.muted_until)
    return list(session.scalars(stmt))
