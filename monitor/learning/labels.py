"""Store human labels once each, whichever door they came through (file, Kafka, dashboard)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from monitor.store.orm import Article, Label


@dataclass(frozen=True)
class NewLabel:
    text: str
    topic: str | None = None
    sentiment: str | None = None
    origin: str = "import"
    article_id: int | None = None
    author: str | None = None


def dedupe_key(text: str, topic: str | None, sentiment: str | None) -> str:
    """Same text (whitespace and case aside) with the same labels is the same label.

    This is the stored identity of a label row (unique), so its rule never changes: keys written by earlier
    releases must still match, or re-importing a file would add every row again. Links are kept here on
    purpose; training merges texts that differ only in links (``merge_labels``, ``dedup_key``).
    """
    return hashlib.sha256(f"{_stored_key_text(text)}\x1f{topic or ''}\x1f{sentiment or ''}".encode()).hexdigest()


def _stored_key_text(text: str) -> str:
    return " ".join(text.split()).casefold()


def insert_labels(labels: Iterable[NewLabel], *, session: Session) -> int:
    """Insert labels, skipping ones already stored; returns how many were new. Caller commits."""
    rows = [
        {
            "dedupe_key": dedupe_key(lab.text, lab.topic, lab.sentiment),
            "text": lab.text,
            "topic": lab.topic,
            "sentiment": lab.sentiment,
            "origin": lab.origin,
            "article_id": lab.article_id,
            "author": lab.author,
        }
        for lab in labels
        if lab.topic or lab.sentiment
    ]
    new = 0
    for i in range(0, len(rows), 1000):
        stmt = insert(Label).values(rows[i : i + 1000])
        stmt = stmt.on_conflict_do_nothing(index_elements=[Label.dedupe_key])
        new += len(session.execute(stmt.returning(Label.id)).all())
    return new


def count_unused_labels(*, session: Session) -> int:
    """Labels not yet used by any training run (what the retrain trigger counts)."""
    return session.scalar(select(func.count()).select_from(Label).where(Label.used_by_run_id.is_(None))) or 0


def unlink_unknown_articles(labels: list[NewLabel], *, session: Session) -> list[NewLabel]:
    """Labels whose ``article_id`` is not stored keep their text but lose the link (else the FK fails)."""
    wanted = {lab.article_id for lab in labels if lab.article_id is not None}
    if not wanted:
        return labels
    known = set(session.scalars(select(Article.id).where(Article.id.in_(wanted))))
    return [lab if lab.article_id in known or lab.article_id is None else replace(lab, article_id=None)
            for lab in labels]
