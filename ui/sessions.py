"""Who is still here: each browser session's heartbeat, and what the server gives back when a session ends.

The server keeps work for each session: queued background jobs (``ui.jobs``) and its share of the shared
caches (``ui.shared_cache``). Streamlit keeps a session whose tab has closed for a while, in case it comes
back, and says nothing when it drops it; so ``app.py`` calls ``keep_alive`` on every run, and a reaper
thread asks Streamlit's runtime every ``SESSION_REAP_SECONDS`` whether each session still has its websocket.
A session that has been disconnected for ``SESSION_GONE_SECONDS``, or has not run for ``SESSION_TTL_SECONDS``
(where no runtime can be asked, e.g. under AppTest), has ended: its jobs are cancelled and its cache shares
released (``on_session_end`` callbacks), Streamlit is asked to shut it down at once (its session state,
uploaded files and deferred downloads, which hold the page's images), then the C heap is trimmed
(``ui.heap.return_free_memory``) so that the memory goes back to the system, not only to Python.

A session that comes back after that (a laptop lid closed for a minute) simply recomputes what it needs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import streamlit as st

from ui.heap import return_free_memory
from ui.limits import SESSION_GONE_SECONDS, SESSION_REAP_SECONDS, SESSION_TTL_SECONDS
from ui.state import session_token

__all__ = ["SessionWatch", "session_watch", "keep_alive", "on_session_end"]


def _close_in_runtime(session_id: str) -> None:
    """Ask Streamlit to shut a disconnected session down now, not at its own TTL: its session state, uploaded
    files and deferred downloads (whose callables hold the page's images and factorizations) are dropped.

    ``Runtime.clear_user_info_for_session`` is thread-safe, marks the session as not resumable and closes a
    session that has no websocket on the runtime's event loop (it is the logout path, used here for a
    session that is gone).
    """
    from streamlit.runtime import Runtime

    if session_id and Runtime.exists():
        try:
            Runtime.instance().clear_user_info_for_session(session_id)
        except AttributeError:  # another Streamlit version: its own TTL will do it later
            pass


def _runtime_says_active(session_id: str) -> bool | None:
    """Whether Streamlit's runtime has this session's websocket (None where there is no runtime to ask)."""
    from streamlit.runtime import Runtime

    if not session_id or not Runtime.exists():
        return None
    return bool(Runtime.instance().is_active_session(session_id))


class SessionWatch:
    """Heartbeats of the sessions by token, and the callbacks run once for each session that ends.

    ``is_active(session_id)`` answers True, False, or None (unknown: only the TTL applies);
    ``close(session_id)`` is called for a session found disconnected, once it has ended; ``clock`` gives
    seconds. They are parameters so that a test can play a session's life without a server.
    """

    def __init__(self, *, gone_seconds: float = SESSION_GONE_SECONDS,
                 ttl_seconds: float = SESSION_TTL_SECONDS,
                 is_active: Callable[[str], bool | None] = _runtime_says_active,
                 close: Callable[[str], None] = _close_in_runtime,
                 clock: Callable[[], float] = time.monotonic):
        self._gone_seconds, self._ttl_seconds = gone_seconds, ttl_seconds
        self._is_active, self._close, self._clock = is_active, close, clock
        self._lock = threading.Lock()
        self._sessions: dict[str, list] = {}  # token -> [session id, last run, first seen disconnected]
        self._callbacks: list[Callable[[str], None]] = []
        self._trim_again = False

    def on_end(self, callback: Callable[[str], None]) -> None:
        """Run ``callback(token)`` for every session that ends from now on."""
        with self._lock:
            if callback not in self._callbacks:
                self._callbacks.append(callback)

    def heartbeat(self, token: str, session_id: str = "") -> None:
        """The session ``token`` (Streamlit's ``session_id``) is running now."""
        with self._lock:
            self._sessions[token] = [session_id, self._clock(), None]

    def tokens(self) -> list[str]:
        """The sessions watched (not ended)."""
        with self._lock:
            return list(self._sessions)

    def reap(self) -> list[str]:
        """End every session that is gone; returns their tokens."""
        now, gone, disconnected = self._clock(), [], []
        with self._lock:
            sessions = list(self._sessions.items())
        for token, record in sessions:
            session_id, last_run, disconnected_since = record
            active = self._is_active(session_id)
            if active is False:
                disconnected_since = record[2] = disconnected_since if disconnected_since is not None else now
            elif active:
                record[2] = disconnected_since = None
            if (disconnected_since is not None and now - disconnected_since >= self._gone_seconds) or (
                    active is not True and now - last_run >= self._ttl_seconds):
                gone.append(token)
                if active is False:
                    disconnected.append(session_id)
        for token in gone:
            self.end(token, trim=False)
        for session_id in disconnected:
            try:
                self._close(session_id)
            except Exception:  # noqa: BLE001 - Streamlit's own TTL closes it later
                pass
        if gone or self._trim_again:
            # Streamlit closes the sessions on its event loop, after this: what they held becomes garbage
            # in reference cycles (a page's functions and its globals) only then, so trim once more next time.
            return_free_memory()
        self._trim_again = bool(gone)
        return gone

    def end(self, token: str, *, trim: bool = True) -> None:
        """End the session ``token`` now: run the callbacks (each failure is ignored), then trim the heap."""
        with self._lock:
            self._sessions.pop(token, None)
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(token)
            except Exception:  # noqa: BLE001 - one owner's failure must not keep the others' memory
                pass
        if trim:
            return_free_memory()

    def run_forever(self, every: float = SESSION_REAP_SECONDS) -> None:
        """The reaper thread's loop."""
        while True:
            time.sleep(every)
            self.reap()


@st.cache_resource(show_spinner=False)
def session_watch() -> SessionWatch:
    """The process-wide watch, with its reaper thread (a daemon: it never holds up the server's exit)."""
    watch = SessionWatch()
    threading.Thread(target=watch.run_forever, name="session-reaper", daemon=True).start()
    return watch


def keep_alive() -> None:
    """This session is running: called by app.py on every run."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    context = get_script_run_ctx(suppress_warning=True)
    session_watch().heartbeat(session_token(), context.session_id if context is not None else "")


def on_session_end(callback: Callable[[str], None]) -> None:
    """Register ``callback(token)`` with the process-wide watch."""
    session_watch().on_end(callback)
