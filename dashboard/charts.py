"""Altair charts of shaped frames (no Streamlit here); times are drawn in UTC."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from dashboard.shaping import ALL_TOPICS_LABEL

PALETTE = [
    "#4C78A8",
    "#F58518",
    "#54A24B",
    "#B279A2",
    "#72B7B2",
    "#EECA3B",
    "#9D755D",
    "#FF9DA6",
    "#79706E",
    "#BAB0AC",
    "#D67195",
    "#439894",
]
ALL_COLOR = "#31333F"
ALERT_COLOR = "#E45756"


def topic_colors(topics: Sequence[str]) -> alt.Scale:
    """The same colour for a topic in every chart, and a dark line for all topics together."""
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(topics))]
    return alt.Scale(domain=[*topics, ALL_TOPICS_LABEL], range=[*colors, ALL_COLOR])


def _time(shaped: pd.DataFrame) -> alt.X:
    # Both time charts take the whole bucket range as their domain so their axes line up exactly.
    # ISO strings: a domain of epoch-millisecond numbers does not survive Streamlit's spec handling.
    domain = [shaped["bucket"].min().isoformat(), shaped["bucket"].max().isoformat()]
    return alt.X(
        "bucket:T",
        axis=time_axis(shaped["bucket"].max() - shaped["bucket"].min()),
        scale=alt.Scale(type="utc", domain=domain),
    )


def time_axis(span: pd.Timedelta) -> alt.Axis:
    """Clock times for a day or so, one tick per day for a week or so, dates with the year beyond (replays and
    backfills are often from another year), months for spans over a year (one label per tick, no repeats)."""
    common = {"title": None, "labelAngle": 0, "labelFlush": True, "grid": False, "labelOverlap": True}
    if span <= pd.Timedelta(hours=36):
        return alt.Axis(format="%H:%M", tickCount=6, **common)
    if span <= pd.Timedelta(days=10):
        return alt.Axis(format="%a %b %d", tickCount="day", **common)
    if span <= pd.Timedelta(days=400):
        return alt.Axis(format="%b %d, %Y", tickCount=5, **common)
    return alt.Axis(format="%b %Y", tickCount="month", **common)


def _legend(symbol: str) -> alt.Legend:
    # Two columns with no label limit: topic names such as "Stock Commentary" are never cut off.
    return alt.Legend(title=None, orient="bottom", columns=2, labelLimit=0, columnPadding=16, symbolType=symbol)


def volume_chart(shaped: pd.DataFrame, topics: Sequence[str], height: int = 260) -> alt.Chart:
    """Stacked areas: articles per bucket for each selected topic."""
    data = shaped[shaped["topic"] != ALL_TOPICS_LABEL]
    pick = alt.selection_point(fields=["topic"], bind="legend")
    return (
        alt.Chart(data)
        .mark_area(interpolate="monotone", line={"strokeWidth": 1}, opacity=0.85)
        .encode(
            x=_time(shaped),
            y=alt.Y(
                "articles:Q",
                stack="zero",
                title="articles",
                axis=alt.Axis(tickCount=5, format="d", tickMinStep=1),  # counts: never 0.5 or 1.5
            ),
            color=alt.Color("topic:N", scale=topic_colors(topics), sort=list(topics), legend=_legend("circle")),
            order=alt.Order("topic_order:Q"),
            opacity=alt.condition(pick, alt.value(0.9), alt.value(0.15)),
            tooltip=[
                alt.Tooltip("bucket:T", title="from (UTC)", format="%b %d %H:%M"),
                alt.Tooltip("topic:N"),
                alt.Tooltip("articles:Q"),
                alt.Tooltip("negative:Q"),
            ],
        )
        .transform_calculate(topic_order=f"indexof({list(topics)!r}, datum.topic)")
        .add_params(pick)
        .properties(height=height)
    )


def negative_share_chart(
    shaped: pd.DataFrame, topics: Sequence[str], alerts: pd.DataFrame | None = None, height: int = 260
) -> alt.LayerChart:
    """Negative share per topic (thin lines) and for all topics (thick), with alert openings marked.

    Buckets with too few articles for a share stay empty, which draws as a gap; a dot on every share keeps a
    thin topic's isolated buckets visible instead of vanishing with their line.
    """
    pick = alt.selection_point(fields=["topic"], bind="legend")
    base = alt.Chart(shaped).encode(
        x=_time(shaped),
        y=alt.Y(
            "share:Q",
            title="negative share",
            axis=alt.Axis(format="%", tickCount=5),
            scale=alt.Scale(domain=[0, 1], clamp=True),
        ),
        color=alt.Color(
            "topic:N",
            scale=topic_colors(topics),
            sort=[*topics, ALL_TOPICS_LABEL],
            legend=_legend("stroke"),
        ),
        tooltip=[
            alt.Tooltip("bucket:T", title="from (UTC)", format="%b %d %H:%M"),
            alt.Tooltip("topic:N"),
            alt.Tooltip("share:Q", format=".0%", title="negative"),
            alt.Tooltip("articles:Q"),
        ],
    )
    lines = (
        base.mark_line(interpolate="monotone", point=alt.OverlayMarkDef(filled=True, size=16))
        .encode(
            strokeWidth=alt.condition(f"datum.topic == '{ALL_TOPICS_LABEL}'", alt.value(3.5), alt.value(1.6)),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.12)),
        )
        .add_params(pick)
    )
    layers: list[alt.Chart] = [lines]
    if alerts is not None and len(alerts):
        layers.append(_alert_marks(alerts))
    return alt.layer(*layers).properties(height=height)


def _alert_marks(alerts: pd.DataFrame) -> alt.LayerChart:
    """A dashed rule at each alert's event time and a marker at its share: two alerts at one time (a topic and
    all topics together) show as two markers on the rule, each with its own tooltip."""
    base = alt.Chart(alerts).encode(
        x=alt.X("at:T", scale=alt.Scale(type="utc")),
        tooltip=[
            alt.Tooltip("scope:N", title="alert"),
            alt.Tooltip("at:T", title="detected at (UTC)", format="%Y-%m-%d %H:%M"),
            alt.Tooltip("observed_share:Q", title="negative", format=".0%"),
        ],
    )
    rules = base.mark_rule(color=ALERT_COLOR, strokeDash=[4, 3], strokeWidth=1.5)
    markers = base.mark_point(shape="triangle-down", filled=True, size=110, color=ALERT_COLOR, opacity=1).encode(
        y=alt.Y("observed_share:Q")
    )
    return alt.layer(rules, markers)


def throughput_chart(per_minute: pd.DataFrame, height: int = 150) -> alt.Chart:
    """Articles stored per minute (bars)."""
    return (
        alt.Chart(per_minute)
        .mark_bar(color=PALETTE[0], opacity=0.85)
        .encode(
            x=alt.X(
                "minute:T", axis=alt.Axis(title=None, format="%H:%M", grid=False), scale=alt.Scale(type="utc")
            ),
            y=alt.Y("stored:Q", title="stored / min", axis=alt.Axis(tickCount=3)),
            tooltip=[alt.Tooltip("minute:T", format="%H:%M", title="minute (UTC)"), "stored:Q"],
        )
        .properties(height=height)
    )


def scores_chart(scores: pd.DataFrame, height: int = 240) -> alt.Chart:
    """Each headline validation score across versions, oldest to newest (rows arrive newest first)."""
    order = list(dict.fromkeys(scores["version"]))[::-1]
    return (
        alt.Chart(scores)
        .mark_line(point={"size": 70, "filled": True}, strokeWidth=2)
        .encode(
            x=alt.X("version:N", title=None, sort=order, axis=alt.Axis(labelAngle=0)),
            y=alt.Y(
                "value:Q",
                title="validation score",
                scale=alt.Scale(zero=False, padding=12),
                axis=alt.Axis(format=".2f", tickCount=5),
            ),
            color=alt.Color(
                "metric:N", scale=alt.Scale(range=PALETTE), legend=alt.Legend(title=None, orient="right")
            ),
            tooltip=["version:N", "status:N", "metric:N", alt.Tooltip("value:Q", format=".3f")],
        )
        .properties(height=height)
    )
