"""Speaker notes: what to say on the slide shown, in a collapsed "Presenter notes" panel of the presenter view
(the room sees the projector, so the notes stay folded away until the presenter opens them)."""

from __future__ import annotations

import streamlit as st

from ui.presenter.view import is_presenting

__all__ = ["presenter_notes"]


def presenter_notes(text: str, *, key: str) -> None:
    """Draw ``text`` (markdown written by the app, never user text) in the panel; nothing outside the
    presenter view."""
    if not is_presenting():
        return
    with st.expander("Presenter notes", expanded=False, icon=":material/speaker_notes:", key=key):
        st.markdown(text)
