"""Session state the widgets share: defaults that never fight a widget, clamped values, a session's token."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import streamlit as st

__all__ = ["unless_set", "clamp_state", "prepare_slider", "session_token", "KeptFile", "kept_upload"]

_SESSION_TOKEN = "_session_token"


def unless_set(key: str, **default) -> dict:
    """``default`` as keyword arguments, or nothing when ``key`` already holds a value (set by a link or
    left by the widget; with no ``default``, only the latter's write-back below).

    A widget given both a default and a value in st.session_state logs a warning; this passes only one.
    A value the widget itself left behind is written back through st.session_state first: Streamlit keeps
    a widget's value in st.session_state for a run that does not draw the widget, but a widget drawn again
    without its default would ignore that value and start from its first option. An example is the image
    page, which stops while it waits for an upload, after which the precision came back as float32 instead
    of float16.
    """
    if key not in st.session_state:
        return default
    st.session_state[key] = st.session_state[key]  # a session value that the widget honours
    return {}


def clamp_state(key: str, low: int, high: int, default: int) -> int:
    """Keep ``st.session_state[key]`` an int in [low, high]; ``default`` when missing or out of range."""
    value = st.session_state.get(key)
    if not isinstance(value, int) or not low <= value <= high:
        value = min(max(int(default), low), high)
        st.session_state[key] = value
    return value


def prepare_slider(key: str, low: int, high: int, default: int) -> None:
    """Give a slider its value before it is drawn, writing the state only when it must.

    A write marks the value as set by the script, and the browser then resets the slider to it, which
    would drop key presses made while this run was going; so the state is left alone unless it is missing,
    out of range, or the slider's bounds changed (a new image: Streamlit then treats it as a new widget,
    which would otherwise start at its minimum).
    """
    bounds_key = f"{key}_bounds"  # not a widget key: remembers the bounds the slider was last drawn with
    value = st.session_state.get(key)
    if value is None:
        value = default
    bounds_changed = st.session_state.get(bounds_key) != (low, high)
    if bounds_changed or key not in st.session_state or not low <= value <= high:
        st.session_state[key] = min(max(int(value), low), high)
    st.session_state[bounds_key] = (low, high)


def session_token() -> str:
    """A random token that names this browser session (for per-session job groups)."""
    return st.session_state.setdefault(_SESSION_TOKEN, uuid.uuid4().hex)


@dataclass(frozen=True)
class KeptFile:
    """An uploaded file a page keeps for the session: its name (user text), bytes, and whether it came from
    an earlier visit (the uploader then shows no file, and the page says which one it uses)."""

    name: str
    data: bytes = field(repr=False)
    from_before: bool = False


def kept_upload(key: str, draw: Callable[[], object | None]) -> KeptFile | None:
    """Draw an uploader (``draw()`` returns its file or None) and keep its file for the session.

    A file uploader forgets its file when its page is left (Streamlit drops the state of widgets not drawn)
    and cannot be given one back; so the bytes are kept here, and a page the user comes back to uses them
    until another file is uploaded. A file the user removes with the uploader's × is forgotten: the
    uploader's key exists then (it was drawn in the last run), which it does not after a page switch.
    """
    memory, showing = f"_kept_{key}", f"_kept_{key}_shown"
    returning = key not in st.session_state  # not drawn in the last run: a page switch, or a new source
    upload = draw()
    if upload is not None:
        st.session_state[memory] = (str(upload.name), upload.getvalue())
        st.session_state[showing] = False
        return KeptFile(*st.session_state[memory])
    if returning and memory in st.session_state:
        st.session_state[showing] = True
    if not st.session_state.get(showing):
        st.session_state.pop(memory, None)
        return None
    return KeptFile(*st.session_state[memory], from_before=True)
