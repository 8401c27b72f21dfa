"""Pieces every page shares: the database check, the write lock, the time range picker, empty states."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from datetime import UTC, datetime

import streamlit as st

from dashboard import data
from dashboard.shaping import RANGE_PARAMS, RANGES, Window, default_range, resolve_window
from monitor.settings import Settings


def stop_unless_database_ready() -> None:
    problem = data.database_problem()
    if problem:
        st.error(f"The dashboard cannot read the monitor's database: {problem}", icon=":material/error:")
        st.stop()


def writes_unlocked(settings: Settings, what: str) -> bool:
    """True when this session may change things: no password is configured, or it was entered here.

    Otherwise shows a password box (compared in constant time) and returns False.
    """
    secret = settings.dashboard.password.get_secret_value() if settings.dashboard.password else ""
    if not secret or st.session_state.get("writes_unlocked"):
        return True
    with st.form("unlock"):
        st.markdown(f":material/lock: **Locked.** Enter the dashboard password to {what}.")
        entered = st.text_input("Dashboard password", type="password")
        if st.form_submit_button("Unlock"):
            if hmac.compare_digest(entered.encode(), secret.encode()):
                st.session_state["writes_unlocked"] = True
                st.rerun()
            st.error("That is not the dashboard password (MONITOR_DASHBOARD__PASSWORD).")
    return False


def analyst() -> str:
    """Who is acting, as typed in the sidebar (recorded on labels and acknowledgements)."""
    return (st.session_state.get("analyst") or "").strip() or "dashboard"


def pick_window(
    key: str, default: str = "Last 24 hours", alert_times: Iterable[datetime] = ()
) -> Window | None:
    """A time range selector; None when there are no articles at all (the caller shows the empty state).

    Without a ``range`` in the URL it opens on ``default`` widened to take in the latest of ``alert_times``,
    counted back from the latest article's event time.
    """
    earliest, latest = data.time_bounds()
    if latest is None:
        return None
    now = datetime.now(UTC)
    options = list(RANGES)
    opening = default_range(now, latest, alert_times, default)
    wanted = RANGE_PARAMS.get(str(st.query_params.get("range", "")), opening)
    choice = st.selectbox("Time range", options, index=options.index(wanted), key=key)
    window = resolve_window(RANGES[choice], now, earliest, latest)
    if window.shifted:
        why = ", which hold the latest alert" if choice == opening and opening != default else ""
        shown = "all of them" if RANGES[choice] is None else f"the {choice.lower().removeprefix('last ')} up to then"
        st.caption(
            f":material/history: The articles' event times end {latest:%Y-%m-%d %H:%M} UTC (a replay or "
            f"backfill): showing {shown}{why}."
        )
    return window


def no_articles_yet(settings: Settings) -> None:
    st.info(
        "**No articles yet.** Stream some in and they appear here within seconds:\n\n"
        "- `monitor demo` starts a local broker, database and worker and replays real finance tweets;\n"
        f"- or run a worker (`monitor worker`) and send JSON messages with a `text` field to the Kafka "
        f"topic `{settings.kafka.input_topic}` (`monitor produce FILE` sends a CSV or JSONL file).",
        icon=":material/inbox:",
    )
