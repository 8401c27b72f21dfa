"""Overview: volume and negative share per topic over time, open alerts, the pipeline; refreshes itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from dashboard import charts, data, shaping, ui
from monitor.model.labels import TOPIC_LABELS
from monitor.store.orm import ALL_TOPICS

settings = data.settings()
STALE_AFTER = timedelta(seconds=settings.dashboard.stale_worker_seconds)


def topic_picker(series: pd.DataFrame, alerting: list[str]) -> list[str]:
    """Every topic that alerted in the range, then the busiest others up to five (the story the page should
    tell); an alerting topic that is also among the busiest does not take a busy topic's place."""
    ranked = shaping.top_topics(series, n=len(TOPIC_LABELS) + 50)
    options = list(dict.fromkeys([*alerting, *ranked, *TOPIC_LABELS]))
    others = [t for t in ranked if t not in alerting]
    default = list(dict.fromkeys([*alerting, *others[: max(1, 5 - len(alerting))]]))
    return st.multiselect(
        "Topics", options, default=default, key="overview_topics", placeholder="choose topics to draw"
    )


def kpis(
    series: pd.DataFrame, shaped: pd.DataFrame, bucket: timedelta, open_alerts: list, workers: pd.DataFrame
) -> None:
    articles, share = shaping.range_totals(series)
    everything = shaped[shaped["topic"] == shaping.ALL_TOPICS_LABEL].sort_values("bucket")
    tail = max(1, len(everything) // 12)
    recent = shaping.recent_share(shaped, tail_buckets=tail)
    live, speed, lag = shaping.pipeline_totals(workers)
    box = {"border": True, "height": 178}
    cols = st.columns(5)
    cols[0].metric(
        "Articles",
        f"{articles:,}",
        chart_data=everything["articles"].tolist(),
        chart_type="area",
        help="Articles with a prediction in the time range.",
        **box,
    )
    cols[1].metric(
        "Negative share",
        "—" if share is None else f"{share:.1%}",
        delta=None if recent is None or share is None else f"{(recent - share) * 100:+.1f} pts lately",
        delta_color="inverse",
        chart_data=everything["share"].fillna(0).tolist(),
        help=f"All topics over the range; the change is the last {shaping.format_span(bucket * tail)} "
        "against the whole range.",
        **box,
    )
    cols[2].metric("Open alerts", len(open_alerts), **box)
    cols[3].metric(
        "Throughput (texts/s)",
        f"{speed:,.0f}",
        help=f"Sum over the {live} live worker(s) heard from in the last {shaping.format_span(STALE_AFTER)}.",
        **box,
    )
    cols[4].metric(
        "Consumer lag",
        "—" if lag is None else f"{lag:,}",
        help="Messages waiting in Kafka, as the live workers last reported.",
        **box,
    )


def open_alerts_panel(open_alerts: list) -> None:
    st.subheader("Open alerts")
    if not open_alerts:
        st.success(
            "No open alerts: every topic's negative share is within its usual range.",
            icon=":material/check_circle:",
        )
        return
    now = datetime.now(UTC)
    for alert in open_alerts[:6]:
        with st.container(border=True):
            st.markdown(f":red[:material/warning:] **{shaping.alert_summary(alert)}**")
            headlines = shaping.example_headlines(alert["examples"], limit=3)
            if headlines:
                st.caption("\n".join(f"- {h}" for h in headlines))
            ack = f" · acknowledged by {alert['acknowledged_by']}" if alert["acknowledged_at"] else ""
            st.caption(
                f"opened {shaping.format_age(now - alert['opened_at'])} · z = {alert['statistic']:.1f}{ack}"
            )
    st.page_link("views/alerts.py", label="All alerts, acknowledge or mute", icon=":material/arrow_forward:")


def pipeline_panel(workers: pd.DataFrame) -> None:
    st.subheader("Pipeline")
    if workers.empty:
        st.info("No worker has reported yet. Start one with `monitor worker`.", icon=":material/memory:")
    else:
        st.dataframe(
            workers.drop(columns=["live"]),
            hide_index=True,
            width="stretch",
            column_config={
                "texts_per_second": st.column_config.NumberColumn("texts/s", format="%.0f"),
                "dead_lettered": st.column_config.NumberColumn(
                    "DLQ", help="Messages sent to the dead-letter topic."
                ),
                "last_seen": "last seen",
            },
        )
    per_minute = data.stored_per_minute(datetime.now(UTC) - timedelta(hours=1))
    if len(per_minute):
        st.caption("Articles stored per minute, last hour")
        st.altair_chart(charts.throughput_chart(per_minute), width="stretch")


@st.fragment(run_every=settings.dashboard.refresh_seconds)
def overview() -> None:
    every_alert = data.alerts()
    left, right = st.columns([1, 3])
    with left:
        window = ui.pick_window("overview_range", alert_times=[a["window_end"] for a in every_alert])
    if window is None:
        ui.no_articles_yet(settings)
        return
    bucket = shaping.choose_bucket(window.span)
    series = data.topic_series(window.start, window.end, bucket)
    marks = shaping.alerts_in_window(every_alert, window)
    alerting = [a["scope"] for a in every_alert if a["scope"] != ALL_TOPICS and
                window.start <= a["window_end"] <= window.end]
    with right:
        topics = topic_picker(series, list(dict.fromkeys(alerting)))
    shaped = shaping.shape_series(series, topics, window, bucket)
    open_alerts = data.alerts(status="open")
    workers = shaping.summarize_workers(data.heartbeats(), datetime.now(UTC), STALE_AFTER)
    kpis(series, shaped, bucket, open_alerts, workers)

    c1, c2 = st.columns(2)
    with c1:
        st.subheader("Articles per topic", help=f"Counted per {shaping.format_span(bucket)} of event time.")
        st.altair_chart(charts.volume_chart(shaped, topics), width="stretch")
    with c2:
        st.subheader("Negative share", help="Dashed red lines mark when an alert opened.")
        st.altair_chart(charts.negative_share_chart(shaped, topics, marks), width="stretch")
    c1, c2 = st.columns(2)
    with c1:
        open_alerts_panel(open_alerts)
    with c2:
        pipeline_panel(workers)
    st.caption(
        f"Updated {datetime.now(UTC):%H:%M:%S} UTC · refreshes every "
        f"{settings.dashboard.refresh_seconds} s · bucket {shaping.format_span(bucket)}"
    )


st.title("Overview")
overview()
