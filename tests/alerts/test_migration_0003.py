"""Migration 0003 keeps alerts stored before it: their figures become their opening, peak and resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from monitor.store import migrate

pytestmark = pytest.mark.integration

NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)
LEGACY = """INSERT INTO alerts (scope, status, opened_at, updated_at, resolved_at, window_start, window_end,
    baseline_start, window_count, window_negative, baseline_count, baseline_negative, observed_share,
    baseline_share, peak_share, statistic, p_value)
    VALUES ('Earnings', :status, :t, :t, :resolved, :ws, :t, :bs, 40, 30, 400, 80, 0.75, 0.2, 0.8, 7.1, 1e-9)"""


def test_legacy_alerts_get_their_figures_and_downgrade_drops_them(scratch_database):
    url, engine = scratch_database
    migrate.upgrade(url, "0002")
    with engine.begin() as conn:
        for status, resolved in (("open", None), ("resolved", NOW + timedelta(hours=2))):
            conn.execute(text(LEGACY), {"status": status, "t": NOW, "resolved": resolved,
                                        "ws": NOW - timedelta(hours=6), "bs": NOW - timedelta(days=3)})
    migrate.upgrade(url)
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT status, window_minutes, opening, peak, resolution, group_id "
                                 "FROM alerts ORDER BY id")).all()
    (_, minutes, opening, peak, resolution, group_id), resolved_row = rows
    assert minutes == 360 and group_id is None and resolution is None
    assert opening == peak and opening["window_count"] == 40 and opening["baseline_share"] == 0.2
    assert opening["rise"] == pytest.approx(0.55) and opening["window_minutes"] == 360
    assert resolved_row.resolution == resolved_row.opening
    migrate.downgrade(url, "0002")
    with engine.begin() as conn:
        columns = {r[0] for r in conn.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'alerts'"))}
        assert "opening" not in columns and conn.execute(text("SELECT count(*) FROM alerts")).scalar() == 2
