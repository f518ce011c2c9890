"""What the presenter's keys do on the server: P toggles the view, ↑/↓ move the page's rank, ←/→ and the
digits move a slide deck (the tour in the presenter view). Scrolling and the list of keys stay in the
browser (``ui.components.keys``).

A page says what its keys move while it draws the control: ``rank_keys(key, low, high)`` beside its rank
slider, ``slide_deck(key, count)`` where its slides start. The browser's key reaches ``on_key`` before the
next run, which then moves ``st.session_state[key]`` as the control itself would, within its bounds.
The sidebar forgets both at the start of every run (``forget_targets``), so a key never moves a page that
is not on screen.
"""

from __future__ import annotations

import streamlit as st

from ui.components.keys import keyboard, last_key
from ui.presenter.view import toggle_presenting

__all__ = ["SLIDES_KEY", "presenter_keys", "forget_targets", "rank_keys", "slide_deck", "on_key"]

SLIDES_KEY = "presenter_slides"  # the container that marks a slide deck (keys.js looks for its class)
_RANK = "_presenter_keys_rank"  # (state key, low, high) of the rank on screen
_SLIDES = "_presenter_keys_slides"  # (state key, number of slides) of the deck on screen


def forget_targets() -> None:
    """Start a run with nothing for the keys to move (the page registers its own)."""
    st.session_state.pop(_RANK, None)
    st.session_state.pop(_SLIDES, None)


def rank_keys(key: str, low: int, high: int) -> None:
    """Let ↑/↓ move the whole number ``st.session_state[key]`` by one within [low, high]."""
    st.session_state[_RANK] = (str(key), int(low), int(high))


def _step_slide(key: str, count: int, step: int) -> None:
    """Button callback: the previous or next slide."""
    _move((key, count), step)


def slide_deck(key: str, count: int, *, label: str = "step") -> int:
    """Mark this page as a deck of ``count`` slides kept in ``st.session_state[key]``, draw ◀ / ▶ buttons
    for a mouse, and return the slide shown (1..count). ←/→ step through it and a digit jumps to a slide."""
    slide = st.session_state.get(key)
    if isinstance(slide, bool) or not isinstance(slide, int) or not 1 <= slide <= count:
        slide = 1
    st.session_state[key] = slide
    st.session_state[_SLIDES] = (str(key), int(count))
    with st.container(key=SLIDES_KEY, horizontal=True, vertical_alignment="center"):  # keys.js looks for it
        st.button(f"◀ Previous {label}", key=f"{key}_previous", on_click=_step_slide, args=(key, count, -1),
                  disabled=slide == 1)
        st.markdown(f"**{label.capitalize()} {slide} of {count}**")
        st.button(f"Next {label} ▶", key=f"{key}_next", on_click=_step_slide, args=(key, count, 1),
                  disabled=slide == count)
    return slide


def _move(target: tuple | None, value: int, *, absolute: bool = False) -> None:
    """Move the number a target names (a rank's or a deck's) by ``value``, or to it, within its bounds."""
    if target is None:
        return
    key, low, high = target if len(target) == 3 else (target[0], 1, target[1])
    current = st.session_state.get(key)
    if not absolute and (isinstance(current, bool) or not isinstance(current, int)):
        return
    st.session_state[key] = min(max(int(value if absolute else current + value), low), high)


def on_key() -> None:
    """The keyboard's callback (before the run): act on the key the browser sent."""
    event = last_key()
    if event is None:
        return
    action, value = event
    if action == "present":
        toggle_presenting()
    elif action == "rank":
        _move(st.session_state.get(_RANK), value)
    elif action == "step":
        _move(st.session_state.get(_SLIDES), value)
    elif action == "goto":
        _move(st.session_state.get(_SLIDES), value, absolute=True)


def presenter_keys() -> None:
    """Mount the keyboard on this page (the sidebar does, on every page)."""
    keyboard(on_key=on_key)
