"""The dashboard after a replay of old news, in headless Chromium: what a newcomer sees after `make demo`.

The seeded stream ends 25 quiet days after a burst of negative earnings news (as the demo's replay does), with
event times in 2020. Screenshots land in the test's tmp folder; set MONITOR_SCREENSHOT_DIR to keep them.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dash_browser import CHROMIUM, Page, open_page, streamlit_server
from dash_helpers import APP, ROOT

from dashboard.charts import ALERT_COLOR, PALETTE
from dashboard.seed_demo import seed_demo

pytestmark = pytest.mark.integration

BURST_AT = datetime(2020, 6, 21, 18, 0, tzinfo=UTC)
EXCEPTIONS = "[...document.querySelectorAll('[data-testid=\"stException\"]')].map(e => e.innerText)"
CHARTS_DRAWN = """(() => {
  const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')];
  const drawn = charts.filter(c => c.querySelector('canvas, svg'));
  const running = document.querySelector('[data-testid="stStatusWidget"]');
  return charts.length >= 2 && drawn.length === charts.length && !running ? drawn.length : 0;
})()"""
# Per chart: how many SVG marks Vega drew in each colour (stroke or fill) and the total path length of those
# strokes: proof that lines and markers were drawn, not just a legend.
MARKS = """((colours) => [...document.querySelectorAll('[data-testid="stVegaLiteChart"] svg')].map(svg =>
  colours.map(c => { const marks = [...svg.querySelectorAll('.mark-line path, .mark-symbol path')].filter(
      e => [e.getAttribute('stroke'), e.getAttribute('fill')].some(v => (v || '').toLowerCase() === c));
    return [marks.length, Math.round(marks.reduce((n, e) => n + (e.getAttribute('d') || '').length, 0))]; })
))(%s)"""
# Each select box as its label, shown value and placeholder (the value lives in an input, not in innerText).
SELECTS = """[...document.querySelectorAll('[data-testid="stSelectbox"]')].map(e =>
  [e.innerText, ...[...e.querySelectorAll('input')].map(i => `value=${i.value} placeholder=${i.placeholder}`)]
  .join(' | '))"""
EARNINGS = PALETTE[0]  # the alerting topic leads the default selection, so it takes the first colour


@pytest.fixture
def replayed(dashboard_env: str, db, tmp_path: Path) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip(f"headless browser check needs Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    with db() as s:
        seed_demo(s, now=BURST_AT, days=3, articles=3000, quiet_days_after=25)
    with streamlit_server(APP, dashboard_env, tmp_path / "streamlit.log", ROOT) as url:
        yield url


def _keep(shot: Path) -> None:
    if target := os.environ.get("MONITOR_SCREENSHOT_DIR"):
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(target) / shot.name)


def _settle(page: Page) -> None:
    page.wait_for(CHARTS_DRAWN, timeout=120)
    time.sleep(2)  # Vega's transitions, then the picture


def test_overview_after_a_replay_opens_on_the_burst_with_its_lines_drawn(replayed: str, tmp_path: Path):
    with open_page(replayed, tmp_path / "chromium", width=1440, height=1400) as page:
        _settle(page)
        assert page.evaluate(EXCEPTIONS) == []
        body = page.evaluate("document.body.innerText")
        selects = page.evaluate(SELECTS)
        shot = page.screenshot(tmp_path / "overview-after-replay.png")
        marks = page.evaluate(MARKS % [EARNINGS.lower(), ALERT_COLOR.lower()])
        legends = page.evaluate("[...document.querySelectorAll('.role-legend-label text')].map(t => t.textContent)")
        ticks = page.evaluate("[...document.querySelectorAll('[data-testid=\"stVegaLiteChart\"] svg')].map(svg => "
                              "[...svg.querySelectorAll('.role-axis-label text')].map(t => t.textContent))")
    _keep(shot)
    # Measured back from the last tweet (Jul 16 2020), wide enough to hold the burst's alert (Jun 21).
    assert any("Time range" in s and "Last 30 days" in s for s in selects), selects
    assert "which hold the latest alert" in body and "2020-07-16" in body
    assert "Earnings" in body  # the alerting topic is drawn without picking it
    assert "All topics" in legends and "Company | Product News" in legends, legends  # never "Stoc", "All to"
    assert not [t for t in legends if t.endswith("…")], legends
    time_axes = [[t for t in chart if "2020" in t] for chart in ticks if any("2020" in t for t in chart)]
    assert len(time_axes) >= 2, ticks  # both time charts: dates with the year
    assert all(len(dates) == len(set(dates)) for dates in time_axes), ticks  # no date repeated on an axis
    volume_ticks = [t for chart in ticks for t in chart if t.replace(".", "").isdigit()]
    assert volume_ticks and not [t for t in volume_ticks if "." in t], ticks  # article counts: no 0.5
    (earnings, alerts) = max(marks, key=lambda m: m[1][0])  # the negative-share chart holds the alert marks
    assert alerts[0] >= 2, marks  # both alerts (the open one and the resolved) inside the default range
    assert earnings[0] >= 20 and earnings[1] > 500, marks  # the Earnings share: a line and its points


def test_labeling_form_starts_without_a_chosen_label(replayed: str, tmp_path: Path):
    with open_page(f"{replayed}/labeling", tmp_path / "chromium", width=1440, height=1100) as page:
        page.wait_for("document.querySelectorAll('[data-testid=\"stForm\"]').length >= 3", timeout=120)
        time.sleep(1)
        assert page.evaluate(EXCEPTIONS) == []
        checked = page.evaluate("document.querySelectorAll('[data-testid=\"stRadio\"] input:checked').length")
        placeholders = page.evaluate(SELECTS)
        shot = page.screenshot(tmp_path / "labeling.png")
    _keep(shot)
    assert checked == 0  # no sentiment chosen for the analyst
    assert sum("choose the topic" in p for p in placeholders) >= 3, placeholders
    assert any("model's guess" in p for p in placeholders)


def test_articles_keep_sentiment_on_screen_at_1400_px(replayed: str, tmp_path: Path):
    with open_page(f"{replayed}/articles", tmp_path / "chromium", width=1400, height=1000) as page:
        page.wait_for("!!document.querySelector('[data-testid=\"stDataFrame\"] canvas')", timeout=120)
        time.sleep(2)
        assert page.evaluate(EXCEPTIONS) == []
        # The grid draws on a canvas; its header cells are also in an accessible table the grid keeps.
        headers = page.evaluate(
            "[...document.querySelectorAll('[data-testid=\"stDataFrame\"] [role=\"columnheader\"]')]"
            ".map(h => [h.innerText.trim(), Math.round(h.getBoundingClientRect().right)])"
        )
        shot = page.screenshot(tmp_path / "articles-1400.png")
    _keep(shot)
    right = dict(headers).get("sentiment")
    assert right is not None and right <= 1400, headers


def test_models_page_names_the_champion_and_offers_a_rollback(replayed: str, tmp_path: Path):
    with open_page(f"{replayed}/models", tmp_path / "chromium", width=1400, height=1500) as page:
        page.wait_for("[...document.querySelectorAll('button')].some(b => b.innerText.includes('Roll back'))",
                      timeout=120)
        time.sleep(1.5)
        assert page.evaluate(EXCEPTIONS) == []
        body = page.evaluate("document.body.innerText")
        rollback = page.evaluate(
            "[...document.querySelectorAll('button')].filter(b => b.innerText.includes('Roll back'))"
            ".map(b => b.disabled)"
        )
        shot = page.screenshot(tmp_path / "models.png")
    _keep(shot)
    for label in ("Topic accuracy", "Topic macro-F1", "Sentiment accuracy", "Sentiment macro-F1"):
        assert label in body, label
    assert "topic.macro_f1" not in body
    assert rollback and not any(rollback), rollback  # enabled: minilm-1 was champion before minilm-2
