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
    """Why it fired (the opening figures, kept for good) beside its peak and its resolution."""
    opening = alert.get("opening") or {}
    cols = st.columns(4)
    if opening:
        cols[0].metric(
            "Opened at",
            f"{opening['observed_share']:.1%}",
            f"{opening['rise'] * 100:+.1f} pts",
            delta_color="inverse",
        )
        cols[1].metric("Frozen baseline", f"{opening['baseline_share']:.1%}")
        cols[3].metric("p at opening", f"{opening['p_value']:.2g}",
                       help=(f"One-sided p-value of a rank test of p_negative; Cliff's delta "
                             f"{opening['reading_rise']:+.2f}, z {opening['statistic']:.2f}"
                             if opening.get("reading_rise") is not None
                             else f"Exact one-sided p-value; z {opening['statistic']:.2f}"))
    cols[2].metric("Peak", f"{alert['peak_share']:.1%}")
    for label, moment in (("Opened", opening), ("Peak", alert.get("peak")), ("Resolved", alert.get("resolution"))):
        line = shaping.moment_line(moment) if moment or alert["status"] == "open" else "figures not kept"
        st.caption(f"**{label}:** {line}")
    if alert["status"] == "open":
        st.caption(f"**Latest:** {alert['observed_share']:.0%} negative, {alert['window_negative']} of "
                   f"{alert['window_count']} to {alert['window_end']:%b %d %H:%M} UTC")


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


def alert_card(alert: dict[str, Any], can_write: bool, expanded: bool, linked: bool = False) -> None:
    icon = ":material/warning:" if alert["status"] == "open" else ":material/check_circle:"
    title = f"{shaping.alert_summary(alert)} · {alert['status']} · opened {alert['opened_at']:%b %d %H:%M}"
    if alert.get("group_id"):
        title += f" · group {alert['group_id']}"
    if linked:
        title += " · :orange-badge[:material/link: linked]"
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
    wanted = str(st.query_params.get("alert") or st.query_params.get("alert_id") or "")
    if not alerts:
        st.info(
            "No alerts here yet. The detector opens one when a topic's negative share rises well above "
            f"its baseline (checked every {settings.alerts.check_interval_seconds} s by the scheduler, or "
            "now with `monitor alerts check`).",
            icon=":material/notifications:",
        )
    for i, alert in enumerate(alerts):
        linked = str(alert["id"]) == wanted
        alert_card(alert, can_write, expanded=linked or (not wanted and i == 0), linked=linked)


def coverage() -> None:
    """Scopes the detector cannot decide on say so, rather than staying silent."""
    now, scopes = data.detector_status()
    st.markdown("**What the detector can decide**")
    if now is None:
        st.caption("No articles stored yet.")
        return
    st.caption(f"At {now:%b %d %Y %H:%M} UTC (latest event time)")
    progress = data.detector_progress(now)
    judged = progress["judged"]
    st.caption(f"Judged up to {judged:%b %d %Y %H:%M} UTC" if judged else "Not judged yet")
    if progress["holders"]:
        st.caption("Waiting for partitions still being read: " + ", ".join(progress["holders"]))
    if progress["stalled"]:
        st.warning("Going on without partitions that stopped moving: " + ", ".join(progress["stalled"]),
                   icon=":material/warning:")
    for s in scopes:
        mark = ":material/check:" if s["usable"] else ":material/hourglass_empty:"
        st.markdown(f"{mark} {shaping.scope_label(s['scope'])} · {s['per_day']:.0f}/day  \n_{s['verdict']}_")


st.title("Alerts")
main, side = st.columns([3, 1], gap="large")
with side:
    can_write = ui.writes_unlocked(settings, "acknowledge or mute alerts")
    try:
        if can_write:
            mute_form()
        mutes_list(can_write)
        coverage()
    except MonitorError as exc:
        st.error(str(exc))
with main:
    try:
        alert_list(can_write)
    except MonitorError as exc:
        st.error(str(exc))
