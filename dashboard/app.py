"""Entry point of the dashboard: `monitor dashboard` (or `streamlit run dashboard/app.py`), MONITOR_ settings."""

from __future__ import annotations

import streamlit as st

from dashboard import ui  # the installed package (`pip install .` or -e .), wherever Streamlit runs this file

st.set_page_config(page_title="Financial news monitor", page_icon=":material/monitoring:", layout="wide")

PAGES = [
    st.Page("views/overview.py", title="Overview", icon=":material/monitoring:", default=True),
    st.Page("views/alerts.py", title="Alerts", icon=":material/notifications:"),
    st.Page("views/articles.py", title="Articles", icon=":material/article:"),
    st.Page("views/labeling.py", title="Labeling queue", icon=":material/label:"),
    st.Page("views/models.py", title="Models", icon=":material/model_training:"),
]

page = st.navigation(PAGES)
with st.sidebar:
    st.text_input(
        "Your name", key="analyst", placeholder="e.g. maria", help="Recorded on labels and acknowledgements."
    )
ui.stop_unless_database_ready()
page.run()
