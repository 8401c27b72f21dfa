"""Read-side queries over alerts (CLI and dashboard)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.store.orm import Alert


def list_alerts(*, session: Session, status: str | None = None, limit: int = 50) -> list[Alert]:
    """Newest first; ``status`` ``open`` or ``resolved`` filters, None gives both."""
    stmt = select(Alert).order_by(Alert.opened_at.desc(), Alert.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(Alert.status == status)
    return list(session.scalars(stmt))


def count_open_alerts(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Alert).where(Alert.status == "open")) or 0
