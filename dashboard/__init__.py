"""Streamlit dashboard (`streamlit run dashboard/app.py`): pages hold layout; data, shaping, charts beside."""

__all__ = ["charts", "data", "queries", "shaping", "ui"]
