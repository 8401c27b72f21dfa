"""What every job needs, built once at start-up: settings, a session factory and the stop flag."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from monitor.settings import Settings


@dataclass
class JobContext:
    settings: Settings
    session_factory: sessionmaker[Session]
    engine: Engine | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    force: bool = False
    """Run the retrain job even with fewer new labels than the threshold (``monitor jobs run --force``)."""
    resources: dict[str, Any] = field(default_factory=dict)
    """Long-lived clients a job reuses between runs (the webhook relay's HTTP client)."""

    @classmethod
    def connect(cls, settings: Settings) -> JobContext:
        from monitor.store import connect, make_session_factory

        engine = connect(settings.database)
        return cls(settings=settings, session_factory=make_session_factory(engine), engine=engine)

    def close(self) -> None:
        for resource in self.resources.values():
            close = getattr(resource, "close", None)
            if close is not None:
                close()
        self.resources.clear()
        if self.engine is not None:
            self.engine.dispose()
