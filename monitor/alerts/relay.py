"""``WebhookRelay``: sends due outbox rows, one transaction per delivery, and records every attempt.

A delivery row stays locked (``FOR UPDATE SKIP LOCKED``) while it is sent, so relays running side by
side never send the same row; a crash before the commit leaves it pending, so at worst one delivery
is sent again, with the same ``webhook-id`` for the receiver to dedupe.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

import httpx
from psycopg.errors import LockNotAvailable
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from monitor.alerts.endpoints import disable_endpoint
from monitor.alerts.retry import is_retryable_status, retry_delay
from monitor.alerts.sender import AttemptOutcome, make_client, send_delivery
from monitor.settings import WebhookSettings
from monitor.store.engine import transaction
from monitor.store.orm import WebhookAttempt, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)


@dataclass
class RelayReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    endpoints_disabled: int = 0

    @property
    def attempts(self) -> int:
        return self.delivered + self.retrying + self.failed


def claim_due_delivery(
    *, session: Session, delivery_id: int | None = None, exclude: Collection[int] = (), wait_seconds: float = 60.0
) -> WebhookDelivery | None:
    """Lock the next due pending delivery of an enabled endpoint, skipping rows other relays hold.

    With ``delivery_id``, that one delivery, and a row another relay holds is waited for, not skipped: `monitor
    webhooks test` must not say "pending" because the scheduler's relay claimed its delivery first. Once that
    relay commits, Postgres re-checks the conditions on the row: it is claimed only if still pending and due, so
    an attempt already made is not made again, and the caller reads its outcome. The wait is bounded by
    ``wait_seconds`` (a relay stopped mid-attempt holds its row): past it, None, as for a row not due."""
    stmt = (
        select(WebhookDelivery)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= func.now())
        .where(WebhookEndpoint.enabled.is_(True))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(1)
        .with_for_update(of=WebhookDelivery, skip_locked=delivery_id is None)
    )
    if delivery_id is not None:
        stmt = stmt.where(WebhookDelivery.id == delivery_id)
    if exclude:
        stmt = stmt.where(WebhookDelivery.id.not_in(list(exclude)))
    if delivery_id is None:
        return session.scalar(stmt)
    try:
        with session.begin_nested():  # a lock timeout aborts only this savepoint, not the caller's transaction
            session.execute(text(f"SET LOCAL lock_timeout = {max(1, round(wait_seconds * 1000))}"))
            claimed = session.scalar(stmt)
            # The bound is for this claim alone: a released savepoint keeps a SET LOCAL for the rest of the
            # transaction, which must wait for locks under the connection's own lock_timeout again.
            session.execute(text("SET LOCAL lock_timeout TO DEFAULT"))
            return claimed
    except OperationalError as e:
        if not isinstance(e.orig, LockNotAvailable):
            raise
        log.warning("webhook delivery %s is held by another relay for over %.0f s; left to it", delivery_id,
                    wait_seconds)
        return None


class WebhookRelay:
    """Drains the outbox; ``run_once`` is what the scheduler and ``monitor webhooks relay`` call."""

    def __init__(
        self,
        settings: WebhookSettings,
        session_factory: sessionmaker[Session],
        *,
        client: httpx.Client | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.client = client or make_client(settings.timeout_seconds)
        self.rng = rng or random.Random()

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> WebhookRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run_once(self, *, limit: int | None = None, delivery_id: int | None = None) -> RelayReport:
        """Send due deliveries until none is left or ``limit`` were tried."""
        report = RelayReport()
        tried: set[int] = set()  # one attempt per delivery per pass, however short its backoff
        for _ in range(limit or self.settings.relay_batch_size):
            with transaction(self.session_factory) as session:
                delivery = claim_due_delivery(session=session, delivery_id=delivery_id, exclude=tried,
                                              wait_seconds=max(30.0, 3 * self.settings.timeout_seconds))
                if delivery is None:
                    break
                tried.add(delivery.id)
                self._deliver(delivery, report, session=session)
        return report

    def _deliver(self, delivery: WebhookDelivery, report: RelayReport, *, session: Session) -> None:
        endpoint = session.get_one(WebhookEndpoint, delivery.endpoint_id)
        outcome = send_delivery(
            self.client, endpoint, delivery, allow_private=self.settings.allow_private_addresses
        )
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
            )
        )
        delivery.attempts += 1
        delivery.last_attempt_at = func.now()
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error
        self._settle(delivery, endpoint, outcome, report, session=session)

    def _settle(
        self,
        delivery: WebhookDelivery,
        endpoint: WebhookEndpoint,
        outcome: AttemptOutcome,
        report: RelayReport,
        *,
        session: Session,
    ) -> None:
        code = outcome.status_code
        if code is not None and 200 <= code < 300:
            delivery.status, delivery.delivered_at = "delivered", func.now()
            report.delivered += 1
        elif code == 410:
            self._fail(delivery, "receiver answered 410 Gone", report, session=session)
            cancelled = disable_endpoint(endpoint.id, reason="receiver answered 410 Gone", session=session)
            report.endpoints_disabled += 1
            log.warning(
                "webhook endpoint %s disabled (410 Gone); %d pending cancelled", endpoint.id, cancelled
            )
        elif self._should_retry(delivery, outcome):
            delay = retry_delay(
                delivery.attempts,
                outcome.retry_after,
                base=self.settings.backoff_base_seconds,
                cap=self.settings.backoff_max_seconds,
                rng=self.rng,
            )
            delivery.next_attempt_at = func.now() + timedelta(seconds=delay)
            report.retrying += 1
            log.info(
                "webhook %s attempt %d: %s; retry in %.1fs",
                delivery.webhook_id,
                delivery.attempts,
                outcome.error,
                delay,
            )
        else:
            self._fail(delivery, outcome.error or f"HTTP {code}", report, session=session)
        session.flush()

    def _should_retry(self, delivery: WebhookDelivery, outcome: AttemptOutcome) -> bool:
        if outcome.refused or delivery.attempts >= self.settings.max_attempts:
            return False
        return outcome.status_code is None or is_retryable_status(outcome.status_code)

    def _fail(self, delivery: WebhookDelivery, why: str, report: RelayReport, *, session: Session) -> None:
        delivery.status = "failed"
        session.flush()  # before any bulk update of the endpoint's other deliveries
        report.failed += 1
        log.warning("webhook %s failed after %d attempt(s): %s", delivery.webhook_id, delivery.attempts, why)
