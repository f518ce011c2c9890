"""Where a page draws its ranks: in the browser (the rank scrubber, ``ui.components.scrubber``) or on the
server (an ``st.slider`` and a picture or chart made for every rank, as before the scrubber).

The browser is the default. A page falls back to the server, for the rest of the session and saying why,
when the scrubber reports that it cannot draw ("failed": no 2-D canvas, a payload it cannot read) or when it
has not reported ready ``SCRUBBER_READY_SECONDS`` after it was mounted (its JavaScript blocked or broken: it
then never reports anything, so a small fragment polls while it waits, and counts its polls). The person at
the page can also choose the server (``draw_in_browser_toggle``) and come back.

``drawing_mode(prefix, key)`` says which path this run takes; after mounting the scrubber the page calls
``watch(prefix, key, result)``; on the server path it shows ``server_notice(prefix, mode)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import streamlit as st

from ui import limits
from ui.components.scrubber import browser_state

__all__ = ["DrawingMode", "drawing_mode", "watch", "server_notice", "draw_in_browser_toggle"]


@dataclass(frozen=True)
class DrawingMode:
    """This run's path.

    Attributes
    ----------
    browser : bool
        True: mount the rank scrubber. False: the server path.
    reason : str
        Why the server draws: "" in the browser, "chosen" when the toggle is off, else what went wrong.
    """

    browser: bool
    reason: str = ""


def _fallback_key(prefix: str) -> str:
    return f"_{prefix}_scrub_fallback"


def _polls_key(prefix: str) -> str:
    return f"_{prefix}_scrub_polls"


def _status(key: str) -> dict:
    """The status the scrubber reported last ({} before it reported)."""
    status = browser_state(key).get("status")
    return status if isinstance(status, dict) else {}


def drawing_mode(prefix: str, key: str) -> DrawingMode:
    """The path of this run for the scrubber mounted under ``key`` on the page ``prefix``."""
    if not st.session_state.get(f"{prefix}_draw_in_browser", True):
        return DrawingMode(False, "chosen")
    reason = st.session_state.get(_fallback_key(prefix))
    if reason:
        return DrawingMode(False, reason)
    status = _status(key)
    if status.get("state") == "failed":
        why = status.get("message") or "no reason given"
        reason = st.session_state[_fallback_key(prefix)] = f"cannot draw in this browser ({why})"
        return DrawingMode(False, reason)
    return DrawingMode(True)


def watch(prefix: str, key: str, status: str) -> None:
    """After mounting: while the scrubber has not said "ready", poll for it; past the deadline, fall back.

    ``status`` is ``ScrubberResult.status``. The poll is a fragment that the browser reruns every
    ``SCRUBBER_POLL_SECONDS`` while it is drawn; it is drawn only while the scrubber is pending, so it stops
    with the one rerun the scrubber's "ready" starts. The deadline counts those polls (a full run starts the
    count again), not the clock: a session without a browser (AppTest) never falls back by itself. Past
    ``SCRUBBER_READY_SECONDS`` of polls the page reruns on the server path.
    """
    if status == "ready":
        return
    st.session_state[_polls_key(prefix)] = 0
    _poll(prefix, key)


@st.fragment(run_every=limits.SCRUBBER_POLL_SECONDS)
def _poll(prefix: str, key: str) -> None:
    """Count a poll; past the deadline without a word from the scrubber, rerun the page on the server path."""
    if _status(key).get("state") in ("ready", "failed"):
        return
    polls = st.session_state[_polls_key(prefix)] = st.session_state.get(_polls_key(prefix), 0) + 1
    if polls > math.ceil(limits.SCRUBBER_READY_SECONDS / limits.SCRUBBER_POLL_SECONDS):
        late = f"did not start within {limits.SCRUBBER_READY_SECONDS:g} s (its JavaScript may be blocked)"
        st.session_state[_fallback_key(prefix)] = late
        st.rerun(scope="app")


def _retry(prefix: str) -> None:
    """Button callback: forget the fallback and mount the scrubber again."""
    st.session_state.pop(_fallback_key(prefix), None)
    st.session_state[f"{prefix}_draw_in_browser"] = True


def server_notice(prefix: str, mode: DrawingMode) -> None:
    """What the server path says: why the server draws, and a way back to the browser."""
    if mode.reason == "chosen":
        st.caption("Ranks are drawn by the server: every move of the slider reruns the page. Turn on “Draw "
                   "ranks in the browser” to scrub at the display's frame rate.")
        return
    st.warning(f"The picture comes from the server: the rank scrubber {mode.reason}. Every move of the "
               "slider reruns the page, which is slower.")
    st.button("Try the rank scrubber again", key=f"{prefix}_scrub_retry", on_click=_retry, args=(prefix,),
              type="tertiary")


def draw_in_browser_toggle(prefix: str) -> bool:
    """The person's choice: ranks drawn in the browser (default) or by the server."""
    key = f"{prefix}_draw_in_browser"
    st.session_state[key] = bool(st.session_state.get(key, True))  # kept through runs that do not draw it
    return bool(st.toggle("Draw ranks in the browser", key=f"{prefix}_draw_in_browser",
                          help="On: the picture is drawn in this browser from factors sent once, at the "
                               "display's frame rate. Off: the server draws every rank, as a fallback."))
