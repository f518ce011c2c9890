"""Where a page draws its ranks: in the browser (the rank scrubber, ``ui.components.scrubber``) or on the
server (an ``st.slider`` and a picture or chart made for every rank, as before the scrubber).

The browser is the default. A page falls back to the server, for the rest of the session and saying why,
when the scrubber reports that it cannot draw ("failed": no 2-D canvas, a payload it cannot read) or when it
has not reported ready ``SCRUBBER_READY_SECONDS`` after it was mounted (its JavaScript blocked or broken: it
then never reports anything, so a small fragment polls while it waits). The person at the page can also
choose the server (``draw_in_browser_toggle``) and come back.

``drawing_mode(prefix, key)`` says which path this run takes; after mounting the scrubber the page calls
``watch(prefix, key, result)``; on the server path it shows ``server_notice(prefix, mode)``.
"""

from __future__ import annotations

import time
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


def _since_key(prefix: str) -> str:
    return f"_{prefix}_scrub_pending_since"


def _status(key: str) -> dict:
    """The status the scrubber reported last ({} before it reported)."""
    status = browser_state(key).get("status")
    return status if isinstance(status, dict) else {}


def _fall_back(prefix: str, reason: str) -> DrawingMode:
    st.session_state[_fallback_key(prefix)] = reason
    st.session_state.pop(_since_key(prefix), None)
    return DrawingMode(False, reason)


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
        return _fall_back(prefix, f"cannot draw in this browser ({why})")
    since = st.session_state.get(_since_key(prefix))
    if status.get("state") != "ready" and since is not None and \
            time.monotonic() - since > limits.SCRUBBER_READY_SECONDS:
        return _fall_back(prefix, f"did not start within {limits.SCRUBBER_READY_SECONDS:g} s (its "
                                  "JavaScript may be blocked)")
    return DrawingMode(True)


def watch(prefix: str, key: str, status: str) -> None:
    """After mounting: remember since when the scrubber has been waiting, and poll until it says ready.

    ``status`` is ``ScrubberResult.status``. The poll is a fragment that reruns every
    ``SCRUBBER_POLL_SECONDS`` while it is drawn; it is drawn only while the scrubber is pending, so it stops
    with the one rerun the scrubber's "ready" starts. Past the deadline it reruns the page, which then takes
    the server path (``drawing_mode``).
    """
    if status == "ready":
        st.session_state.pop(_since_key(prefix), None)
        return
    st.session_state.setdefault(_since_key(prefix), time.monotonic())
    _poll(prefix, key)


@st.fragment(run_every=limits.SCRUBBER_POLL_SECONDS)
def _poll(prefix: str, key: str) -> None:
    """Rerun the page once the scrubber is past its deadline without a word."""
    since = st.session_state.get(_since_key(prefix))
    if _status(key).get("state") in ("ready", "failed") or since is None:
        return
    if time.monotonic() - since > limits.SCRUBBER_READY_SECONDS:
        st.rerun(scope="app")


def _retry(prefix: str) -> None:
    """Button callback: forget the fallback and mount the scrubber again."""
    st.session_state.pop(_fallback_key(prefix), None)
    st.session_state.pop(_since_key(prefix), None)
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
