"""Streamlit and plotly helpers shared by the pages. The core (lowrank_core) never imports this package."""
