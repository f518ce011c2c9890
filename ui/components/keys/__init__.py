"""The presenter's keyboard: a custom component (v2) whose JavaScript listens for keys on the whole page.

``keyboard(on_key=...)`` mounts it (registered once from ``keys.js`` beside this file: no build step,
nothing fetched). The browser sends a key as the trigger ``key``: ``{"action", "value"}`` with action
"present" (P), "rank" (↑ +1, ↓ −1), "step" (← −1, → +1 on a slide deck) or "goto" (a digit on a slide
deck). ``on_key`` runs as the trigger's callback, before the next run of the script, and reads it with
``last_key()``. Scrolling between sections and the list of keys (?) happen in the browser alone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

__all__ = ["COMPONENT_NAME", "KEYS_KEY", "ACTIONS", "keyboard", "last_key"]

COMPONENT_NAME = "low_rank_explorer.presenter_keys"
KEYS_KEY = "presenter_keys"
ACTIONS = ("present", "rank", "step", "goto")
_component = st.components.v2.component(
    COMPONENT_NAME, js=(Path(__file__).parent / "keys.js").read_text(encoding="utf-8"))


def keyboard(*, on_key: Callable[[], None]) -> None:
    """Mount the listener (once per run, anywhere on the page; it draws nothing)."""
    _component(key=KEYS_KEY, data={"version": 1}, on_key_change=on_key, height="content")


def last_key() -> tuple[str, int] | None:
    """The key the browser just sent, as (action, value); None when there is none or it is malformed."""
    try:
        event = st.session_state[KEYS_KEY].get("key")
    except (KeyError, AttributeError):
        return None
    if not isinstance(event, dict) or event.get("action") not in ACTIONS:
        return None
    value = event.get("value")
    if isinstance(value, bool) or not isinstance(value, int) or not -9 <= value <= 9:
        return None
    return str(event["action"]), int(value)
