"""Model versions in Postgres: register, look up the champion, promote, roll back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from monitor.errors import MonitorError
from monitor.store.orm import ModelVersion


class UnknownVersion(MonitorError):
    """No model version by that name."""


def register_version(
    version: str,
    path: str,
    *,
    session: Session,
    scores: dict[str, Any] | None = None,
    status: str = "candidate",
    training_run_id: int | None = None,
) -> ModelVersion:
    row = ModelVersion(version=version, path=path, status="candidate", scores=scores,
                       training_run_id=training_run_id)
    session.add(row)
    session.flush()
    if status == "champion":
        promote_version(version, session=session)
    elif status != "candidate":
        row.status = status
    return row


def get_champion(*, session: Session) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.status == "champion"))


def get_version(version: str, *, session: Session) -> ModelVersion:
    row = session.scalar(select(ModelVersion).where(ModelVersion.version == version))
    if row is None:
        raise UnknownVersion(f"no model version {version!r}; `monitor models list` shows the versions")
    return row


def list_versions(*, session: Session) -> list[ModelVersion]:
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.created_at.desc(),
                                                              ModelVersion.id.desc())))


def promote_version(version: str, *, session: Session) -> ModelVersion:
    """Make ``version`` the champion; the previous champion becomes retired. Caller commits."""
    row = get_version(version, session=session)
    session.execute(
        update(ModelVersion).where(ModelVersion.status == "champion", ModelVersion.id != row.id)
        .values(status="retired")
    )
    session.flush()  # the one-champion index must see the old champion retired first
    row.status = "champion"
    row.promoted_at = datetime.now(UTC)
    session.flush()
    return row


def rollback_champion(*, session: Session) -> ModelVersion:
    """Promote the champion before the current one (a second rollback returns to where it started)."""
    current = get_champion(session=session)
    stmt = select(ModelVersion).where(
        ModelVersion.promoted_at.is_not(None), ModelVersion.status != "champion"
    )
    if current is not None and current.promoted_at is not None:
        stmt = stmt.where(ModelVersion.promoted_at < current.promoted_at)
    previous = session.scalar(stmt.order_by(ModelVersion.promoted_at.desc()).limit(1))
    if previous is None:
        raise MonitorError("no earlier champion to roll back to; `monitor models list` shows the versions")
    return promote_version(previous.version, session=session)
