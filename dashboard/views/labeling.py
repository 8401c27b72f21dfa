"""Labeling queue: least confident predictions first; correct topic and/or sentiment in one click."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import data, shaping, ui
from monitor.errors import MonitorError
from monitor.model.labels import SENTIMENT_LABELS, TOPIC_LABELS

settings = data.settings()


def waiting_labels() -> None:
    waiting, needed = data.unused_labels(), settings.learning.min_new_labels
    c1, c2 = st.columns([1, 3], vertical_alignment="center")
    c1.metric("Labels waiting for the next retrain", f"{waiting:,}", border=True)
    c2.progress(
        min(1.0, waiting / needed),
        text=f"A retrain starts once {needed:,} new labels wait (checked every "
        f"{settings.jobs.retrain_check_minutes} min); labels from files and Kafka count too.",
    )


def item(row: dict[str, Any], can_write: bool) -> None:
    article_id = int(row["article_id"])
    topic_guess = shaping.model_guess(row["topic"], row["topic_confidence"])
    sentiment_guess = shaping.model_guess(row["sentiment"], row["sentiment_confidence"])
    with st.container(border=True):
        # Plain text: tweets carry `**`, `$TSLA` and numbered lines that Markdown would reinterpret.
        if row["title"]:
            st.text(row["title"])
        st.text(row["text"])
        st.caption(
            f"{row['source'] or 'unknown source'} · {row['event_time']:%Y-%m-%d %H:%M} UTC · "
            f"model {row['model_version']} · article {article_id}"
        )
        if not can_write:
            st.caption(f"Model's guess: {topic_guess}, {sentiment_guess}.")
            return
        with st.form(f"label-{article_id}", border=False):
            c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
            topic = c1.selectbox(
                f"Topic · model's guess: {topic_guess}",
                shaping.label_options(TOPIC_LABELS),
                index=None,
                placeholder="choose the topic",
                key=f"topic-{article_id}",
            )
            sentiment = c2.radio(
                f"Sentiment · model's guess: {sentiment_guess}",
                shaping.label_options(SENTIMENT_LABELS),
                index=None,
                horizontal=True,
                key=f"sentiment-{article_id}",
            )
            if c3.form_submit_button("Save label", icon=":material/check:", type="primary"):
                save(article_id, topic, sentiment)


def save(article_id: int, topic: str | None, sentiment: str | None) -> None:
    chosen_topic, chosen_sentiment = shaping.chosen_label(topic), shaping.chosen_label(sentiment)
    if chosen_topic is None and chosen_sentiment is None:
        st.warning("Pick a topic or a sentiment to save.")
        return
    new = data.save_label(article_id, chosen_topic, chosen_sentiment, ui.analyst())
    what = " and ".join(x for x in (chosen_topic, chosen_sentiment) if x)
    st.session_state["label_flash"] = (
        f"Saved {what} for article {article_id}."
        if new
        else (f"Article {article_id} already had that label.")
    )
    st.rerun()


def queue(can_write: bool) -> None:
    c1, c2, c3 = st.columns([2, 1, 1])
    topic = c1.selectbox(
        "Predicted topic",
        [None, *TOPIC_LABELS],
        key="queue_topic",
        format_func=lambda t: "Any" if t is None else t,
    )
    with c2:
        window = ui.pick_window("queue_range", default="All time")
    size = c3.selectbox("Show", [10, 25, 50], key="queue_size")
    if window is None:
        ui.no_articles_yet(settings)
        return
    rows = data.label_queue(window.start, topic, size)
    if rows.empty:
        st.success(
            "Nothing left to label here: every article in range has a label.", icon=":material/task_alt:"
        )
    for row in rows.to_dict("records"):
        item(row, can_write)


st.title("Labeling queue")
if flash := st.session_state.pop("label_flash", None):
    st.success(flash, icon=":material/check:")
waiting_labels()
can_write = ui.writes_unlocked(settings, "save labels")
try:
    queue(can_write)
except MonitorError as exc:
    st.error(str(exc))
