"""Models: versions with their scores, the champion, training runs and their outcome; promote or roll back."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import charts, data, shaping, ui
from monitor.errors import MonitorError

settings = data.settings()
SCORE = st.column_config.NumberColumn(format="%.3f")
DELTA = st.column_config.NumberColumn(format="%+.3f")


def champion_panel(versions: list[dict[str, Any]]) -> None:
    champion = next((v for v in versions if v["status"] == "champion"), None)
    if champion is None:
        st.warning(
            "No champion: workers serve the model directory from settings "
            f"(`{settings.model.directory}`). Promote a version below.",
            icon=":material/warning:",
        )
        return
    scores = shaping.headline_scores(champion["scores"])
    cols = st.columns([2] + [1] * len(shaping.HEADLINE_SCORES))
    promoted = f"{champion['promoted_at']:%b %d %H:%M} UTC" if champion["promoted_at"] else None
    cols[0].metric(
        "Champion", champion["version"], help=f"promoted {promoted}" if promoted else None, border=True
    )
    for col, name in zip(cols[1:], shaping.HEADLINE_SCORES, strict=True):
        col.metric(
            name.replace(".", " ").replace("_", " "),
            f"{scores[name]:.3f}" if name in scores else "—",
            border=True,
        )


def versions_panel(versions: list[dict[str, Any]]) -> None:
    st.subheader("Versions")
    long = shaping.scores_long(versions)
    if len(long):
        st.altair_chart(charts.scores_chart(long), width="stretch")
    st.dataframe(
        shaping.version_rows(versions),
        hide_index=True,
        width="stretch",
        column_config={
            **{name: SCORE for name in shaping.HEADLINE_SCORES},
            "created": st.column_config.DatetimeColumn(format="MMM D HH:mm"),
            "promoted": st.column_config.DatetimeColumn(format="MMM D HH:mm"),
        },
    )


def runs_panel() -> None:
    st.subheader("Training runs")
    runs = data.training_runs()
    if not runs:
        st.caption(
            f"No retraining yet: the scheduler retrains once {settings.scheduler.retrain_min_new_labels} "
            "new labels wait (label in the Labeling queue, or import a file)."
        )
        return
    st.dataframe(
        shaping.run_rows(runs),
        hide_index=True,
        width="stretch",
        column_config={
            **{f"Δ {name}": DELTA for name in shaping.HEADLINE_SCORES},
            "started": st.column_config.DatetimeColumn(format="MMM D HH:mm"),
            "decision": st.column_config.TextColumn(width="large"),
        },
    )


def actions_panel(versions: list[dict[str, Any]]) -> None:
    st.subheader("Change the champion")
    if not ui.writes_unlocked(settings, "promote or roll back models"):
        return
    st.caption("Workers switch to the new champion between batches, without a restart.")
    others = [v["version"] for v in versions if v["status"] != "champion"]
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    chosen = c1.selectbox("Version", others, key="promote_version", placeholder="no other version")
    if c2.button("Promote", icon=":material/upgrade:", disabled=not others, key="promote"):
        data.promote(chosen)
        st.session_state["models_flash"] = f"{chosen} is now the champion."
        st.rerun()
    if c3.button(
        "Roll back",
        icon=":material/undo:",
        key="rollback",
        help="Make the previous champion the champion again.",
    ):
        try:
            version = data.rollback()
        except MonitorError as exc:
            st.error(str(exc))
            return
        st.session_state["models_flash"] = f"Rolled back: {version} is the champion again."
        st.rerun()


st.title("Models")
if flash := st.session_state.pop("models_flash", None):
    st.success(flash, icon=":material/check:")
versions = data.versions()
if not versions:
    st.info(
        "No model version is registered yet. `monitor demo` trains and registers a starter model; "
        "`monitor models register DIR` registers one made with `monitor train`, and the retrain job "
        "registers every version it trains.",
        icon=":material/model_training:",
    )
else:
    champion_panel(versions)
    versions_panel(versions)
    actions_panel(versions)
runs_panel()
