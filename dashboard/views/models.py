"""Models: versions with their scores, the champion, training runs and their outcome; promote or roll back."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import charts, data, shaping, ui
from monitor.errors import MonitorError

settings = data.settings()


def champion_panel(versions: list[dict[str, Any]]) -> None:
    champion = next((v for v in versions if v["status"] == "champion"), None)
    if champion is None:
        st.warning(
            "No champion: workers serve the model directory from settings "
            f"(`{settings.model.directory}`). Promote a version below.",
            icon=":material/warning:",
        )
        return
    promoted = f" · promoted {champion['promoted_at']:%Y-%m-%d %H:%M} UTC" if champion["promoted_at"] else ""
    st.subheader(f"Champion: {champion['version']}", anchor=False)
    st.caption(f"Served by every worker{promoted} · `{champion['path']}`")
    scores = shaping.headline_scores(champion["scores"])
    for col, name in zip(st.columns(len(shaping.HEADLINE_SCORES)), shaping.HEADLINE_SCORES, strict=True):
        target = shaping.TARGET_SCORES[name]
        col.metric(
            shaping.SCORE_LABELS[name],
            f"{scores[name]:.3f}" if name in scores else "—",
            help=f"On the bundled validation split; `monitor train --preset full` reaches {target:.3f}.",
            border=True,
        )
    files = data.model_files(champion["path"])
    quality_note(champion, files)
    card_panel(files)


def quality_note(champion: dict[str, Any], files: dict[str, Any]) -> None:
    """Say so when the champion is the quick starter or scores under the full preset's level."""
    low = shaping.below_target(champion["scores"])
    if not low:
        return
    gaps = ", ".join(f"{shaping.SCORE_LABELS[n]} {v:.3f} vs {t:.3f}" for n, (v, t) in low.items())
    what = (
        "the quick starter model (trained in minutes so the demo can start)"
        if shaping.is_quick_starter(champion["path"], files["arguments"])
        else "below the full preset's level"
    )
    st.warning(
        f"The champion is {what}: {gaps}. Train the full model (about 40 minutes on 2 CPU cores) and make it "
        "the champion: `monitor train --preset full --out models/full` then "
        "`monitor models register models/full --champion`.",
        icon=":material/trending_down:",
    )


def card_panel(files: dict[str, Any]) -> None:
    if files["card"]:
        with st.expander("Model card", icon=":material/description:"):
            st.markdown(files["card"])
    elif not files["readable"]:
        st.caption("The champion's directory is not readable from the dashboard, so its model card is not shown.")


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
            **{name: st.column_config.NumberColumn(shaping.SCORE_LABELS[name], format="%.3f")
               for name in shaping.HEADLINE_SCORES},
            "created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "promoted": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        },
    )


def runs_panel() -> None:
    st.subheader("Training runs")
    runs = data.training_runs()
    if not runs:
        st.caption(
            f"No retraining yet: the scheduler retrains once {settings.learning.min_new_labels} "
            "new labels wait (label in the Labeling queue, or import a file)."
        )
        return
    st.dataframe(
        shaping.run_rows(runs),
        hide_index=True,
        width="stretch",
        column_config={
            **{f"Δ {name}": st.column_config.NumberColumn(f"Δ {shaping.SCORE_LABELS[name]}", format="%+.3f")
               for name in shaping.HEADLINE_SCORES},
            "started": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
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
    target = shaping.rollback_target(versions)
    if c3.button(
        "Roll back",
        icon=":material/undo:",
        key="rollback",
        disabled=target is None,
        help=f"Make {target}, the champion before this one, the champion again." if target
        else "Nothing to roll back to: no other version has been champion.",
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
