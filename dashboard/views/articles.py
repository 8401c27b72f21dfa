"""Articles: filter by text, topic, sentiment, source, time and confidence; each with its prediction."""

from __future__ import annotations

import streamlit as st

from dashboard import data, shaping, ui
from dashboard.queries import ArticleFilter
from monitor.model.labels import SENTIMENT_LABELS, TOPIC_LABELS

LIMIT = 500
settings = data.settings()


def filters() -> ArticleFilter | None:
    c1, c2 = st.columns([3, 1])
    search = c1.text_input(
        "Search headlines", key="articles_search", placeholder="words in the text or title"
    )
    with c2:
        window = ui.pick_window("articles_range", default="All time")
    if window is None:
        return None
    c1, c2, c3 = st.columns(3)
    topics = c1.multiselect("Topic", TOPIC_LABELS, key="articles_topics", placeholder="any topic")
    sentiments = c2.multiselect(
        "Sentiment", SENTIMENT_LABELS, key="articles_sentiments", placeholder="any sentiment"
    )
    sources = c3.multiselect("Source", data.sources(), key="articles_sources", placeholder="any source")
    c1, c2 = st.columns(2)
    topic_conf = c1.slider("Topic confidence", 0.0, 1.0, (0.0, 1.0), 0.05, key="articles_topic_conf")
    sentiment_conf = c2.slider("Sentiment confidence", 0.0, 1.0, (0.0, 1.0), 0.05, key="articles_sent_conf")
    return ArticleFilter(
        start=window.start,
        end=window.end,
        search=search,
        topics=tuple(topics),
        sentiments=tuple(sentiments),
        sources=tuple(sources),
        topic_confidence=topic_conf,
        sentiment_confidence=sentiment_conf,
    )


def table(flt: ArticleFilter) -> None:
    found, total = data.articles(flt, LIMIT)
    if total == 0:
        st.info(
            "No article matches these filters; widen the time range or clear a filter.",
            icon=":material/filter_alt_off:",
        )
        return
    shown = f"newest {LIMIT:,} of " if total > LIMIT else ""
    st.caption(f"Showing {shown}{total:,} matching articles, newest first, with their latest prediction.")
    confidence = {"format": "percent", "min_value": 0, "max_value": 1}
    st.dataframe(
        shaping.article_rows(found),
        hide_index=True,
        width="stretch",
        height=620,
        column_config={
            "event_time": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm"),
            "headline": st.column_config.TextColumn("headline", width="medium"),
            "topic_confidence": st.column_config.ProgressColumn("topic conf.", **confidence),
            "sentiment_confidence": st.column_config.ProgressColumn("sentiment conf.", **confidence),
            "model_version": "model",
            "article_id": "id",
        },
    )


st.title("Articles")
chosen = filters()
if chosen is None:
    ui.no_articles_yet(settings)
else:
    table(chosen)
