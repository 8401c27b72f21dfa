"""Alerts: history with each window's figures and example headlines; acknowledge; mute a topic for a while."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import streamlit as st

from dashboard import data, shaping, ui
from monitor.errors import MonitorError
from monitor.model.labels import TOPIC_LABELS
from monitor.store.orm import ALL_TOPICS

settings = data.settings()
MUTE_FOR = {
    "1 hour": timedelta(hours=1),
    "4 hours": timedelta(hours=4),
    "24 hours": timedelta(hours=24),
    "3 days": timedelta(days=3),
    "7 days": timedelta(days=7),
}
STATUS = {"Open": "open", "Resolved": "resolved", "All": None}


def figures(alert: dict[str, Any]) -> None:
    rise = alert["observed_share"] - alert["baseline_share"]
    cols = st.columns(4)
    cols[0].metric(
        "Negative share in window",
        f"{alert['observed_share']:.1%}",
        f"{rise * 100:+.1f} pts",
        delta_color="inverse",
    )
    cols[1].metric("Baseline share", f"{alert['baseline_share']:.1%}")
    cols[2].metric("Peak share", f"{alert['peak_share']:.1%}")
    cols[3].metric("z statistic", f"{alert['statistic']:.2f}", help=f"p-value {alert['p_value']:.2g}")
    st.caption(
        f"Window {alert['window_start']:%b %d %H:%M}–{alert['window_end']:%H:%M} UTC: "
        f"{alert['window_negative']} negative of {alert['window_count']} · baseline since "
        f"{alert['baseline_start']:%b %d %H:%M}: {alert['baseline_negative']} of {alert['baseline_count']}"
    )


def examples(alert: dict[str, Any]) -> None:
    headlines = shaping.example_headlines(alert["examples"])
    if headlines:
        st.markdown("**Example headlines**\n\n" + "\n".join(f"- {h}" for h in headlines))


def acknowledge_button(alert: dict[str, Any], can_write: bool) -> None:
    if alert["acknowledged_at"] is not None:
        st.caption(
            f":material/done_all: Acknowledged by {alert['acknowledged_by']} "
            f"at {alert['acknowledged_at']:%b %d %H:%M} UTC"
        )
    elif can_write and st.button("Acknowledge", key=f"ack-{alert['id']}", icon=":material/done:"):
        data.acknowledge(alert["id"], ui.analyst())
        st.rerun()


def alert_card(alert: dict[str, Any], can_write: bool, expanded: bool) -> None:
    icon = ":material/warning:" if alert["status"] == "open" else ":material/check_circle:"
    title = f"{shaping.alert_summary(alert)} · {alert['status']} · opened {alert['opened_at']:%b %d %H:%M}"
    with st.expander(title, expanded=expanded, icon=icon):
        figures(alert)
        examples(alert)
        acknowledge_button(alert, can_write)


def mute_form() -> None:
    scopes = [ALL_TOPICS, *TOPIC_LABELS]
    with st.form("mute", border=True):
        st.markdown("**Mute a topic**")
        scope = st.selectbox("Topic", scopes, format_func=shaping.scope_label)
        span = st.selectbox("For", list(MUTE_FOR), index=1)
        reason = st.text_input("Reason", placeholder="e.g. known earnings season")
        if st.form_submit_button("Mute", icon=":material/notifications_off:"):
            data.mute(scope, datetime.now(UTC) + MUTE_FOR[span], reason or f"muted by {ui.analyst()}")
            st.rerun()


def mutes_list(can_write: bool) -> None:
    mutes = data.active_mutes()
    st.markdown("**Muted now**")
    if not mutes:
        st.caption("Nothing is muted.")
    for m in mutes:
        line = f"{shaping.scope_label(m['scope'])} until {m['muted_until']:%b %d %H:%M} UTC"
        st.markdown(f":material/notifications_off: {line}" + (f"  \n_{m['reason']}_" if m["reason"] else ""))
        if can_write and st.button(
            "Unmute", key=f"unmute-{m['scope']}", icon=":material/notifications_active:"
        ):
            data.unmute(m["scope"])
            st.rerun()


def alert_list(can_write: bool) -> None:
    c1, c2 = st.columns(2)
    status = c1.segmented_control("Status", list(STATUS), default="All", key="alerts_status") or "All"
    scope = c2.selectbox(
        "Topic",
        [None, ALL_TOPICS, *TOPIC_LABELS],
        key="alerts_scope",
        format_func=lambda s: "Any" if s is None else shaping.scope_label(s),
    )
    alerts = data.alerts(status=STATUS[status], scope=scope)
    wanted = str(st.query_params.get("alert_id", ""))
    if not alerts:
        st.info(
            "No alerts here yet. The detector opens one when a topic's negative share rises well above "
            f"its baseline (checked every {settings.alerts.check_interval_seconds} s by the scheduler, or "
            "now with `monitor alerts check`).",
            icon=":material/notifications:",
        )
    for i, alert in enumerate(alerts):
        alert_card(alert, can_write, expanded=str(alert["id"]) == wanted or (not wanted and i == 0))


st.title("Alerts")
main, side = st.columns([3, 1], gap="large")
with side:
    can_write = ui.writes_unlocked(settings, "acknowledge or mute alerts")
    try:
        if can_write:
            mute_form()
        mutes_list(can_write)
    except MonitorError as exc:
        st.error(str(exc))
with main:
    try:
        alert_list(can_write)
    except MonitorError as exc:
        st.error(str(exc))
