"""What every job needs, built once at start-up: settings, a session factory, the stop flag, and the
long-lived clients jobs reuse between runs (built on first use, closed together by :meth:`JobContext.close`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from monitor.settings import Settings

if TYPE_CHECKING:
    from monitor.alerts import WebhookRelay


@dataclass
class JobContext:
    settings: Settings
    session_factory: sessionmaker[Session]
    engine: Engine | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    force: bool = False
    """Run the retrain job even with fewer new labels than the threshold (``monitor jobs run --force``)."""
    _webhook_relay: WebhookRelay | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def connect(cls, settings: Settings) -> JobContext:
        from monitor.store import connect, make_session_factory

        engine = connect(settings.database)
        return cls(settings=settings, session_factory=make_session_factory(engine), engine=engine)

    @property
    def webhook_relay(self) -> WebhookRelay:
        """The relay and its HTTP client (connection reuse between passes), built on first use."""
        with self._lock:
            if self._webhook_relay is None:
                from monitor.alerts import WebhookRelay

                self._webhook_relay = WebhookRelay(self.settings.webhooks, self.session_factory)
            return self._webhook_relay

    def close(self) -> None:
        with self._lock:
            relay, self._webhook_relay = self._webhook_relay, None
        if relay is not None:
            relay.close()
        if self.engine is not None:
            self.engine.dispose()
