"""The quiz family's cache: each picture decoded once (its factorization is the image page's cache)."""

from __future__ import annotations

import streamlit as st

from lowrank_core import sources
from ui.limits import CACHE_ENTRIES

__all__ = ["load_picture"]


@st.cache_resource(max_entries=CACHE_ENTRIES["decoded_image"], show_spinner=False)
def load_picture(name: str) -> sources.LoadedImage:
    """A quiz picture (``lowrank_core.sources.QUIZ_NAMES``), decoded once and shared read-only."""
    return sources.load_quiz_picture(name)
