"""The shared read-side against the real Postgres: alert listing's filters, order and limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.errors import MonitorError
from monitor.store import transaction
from monitor.store.orm import ALL_TOPICS, Alert, AlertGroup
from monitor.store.reads import list_alerts

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 12, tzinfo=UTC)


def add_alert(s, scope: str, status: str, opened_at: datetime, group_id: int | None = None) -> int:
    alert = Alert(
        scope=scope, status=status, opened_at=opened_at, group_id=group_id,
        window_start=opened_at - timedelta(hours=1), window_end=opened_at, baseline_start=opened_at - timedelta(days=1),
        window_count=40, window_negative=25, baseline_count=400, baseline_negative=80,
        observed_share=0.625, baseline_share=0.2, peak_share=0.65, statistic=5.1, p_value=1e-7, examples=[],
    )
    s.add(alert)
    s.flush()
    return alert.id


def test_alerts_list_newest_first_with_filters_and_limit(session_factory):
    with transaction(session_factory) as s:
        group = AlertGroup(status="resolved", opened_at=T0)
        s.add(group)
        s.flush()
        old = add_alert(s, "Earnings", "resolved", T0, group_id=group.id)
        tied_a = add_alert(s, ALL_TOPICS, "resolved", T0 + timedelta(hours=1))
        tied_b = add_alert(s, "Earnings", "open", T0 + timedelta(hours=1))  # same step: the id orders them
        ticker = add_alert(s, "$AAPL", "open", T0 + timedelta(hours=2))
    with transaction(session_factory) as s:
        ids = lambda **kw: [a.id for a in list_alerts(session=s, **kw)]  # noqa: E731
        assert ids() == [ticker, tied_b, tied_a, old]
        assert ids(status="open") == [ticker, tied_b]
        assert ids(status="resolved", scope="Earnings") == [old]
        assert ids(scope=ALL_TOPICS) == [tied_a]
        assert ids(since=T0 + timedelta(hours=1)) == [ticker, tied_b, tied_a]
        assert ids(limit=2) == [ticker, tied_b]
        assert ids(scope="Macro") == []
        [grouped] = list_alerts(session=s, scope="Earnings", status="resolved")
        assert grouped.group_id == group.id and grouped.opening["observed_share"] == 0.625


def test_an_unknown_status_is_one_line(session_factory):
    with transaction(session_factory) as s, pytest.raises(MonitorError, match="one of open, resolved, not 'all'"):
        list_alerts(session=s, status="all")
