"""Read-side queries over alerts; listing them lives in ``monitor.store.reads`` (shared with the dashboard)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.store.orm import Alert


def count_open_alerts(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Alert).where(Alert.status == "open")) or 0
