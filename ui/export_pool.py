"""One headless Chromium for the server's chart exports, started once and reused, one figure at a time.

``figure.to_image`` starts a new kaleido Chromium for every figure: six "Make PNG" presses at once were
62 processes and 1.2 GB, and one PNG never came. ``ExportPool`` keeps a single ``kaleido.Kaleido`` (one
browser, one tab) open on its own event loop thread and renders the figures handed to it in turn; the
export gate (``ui.admission``, one slot) makes the others wait in line with their place shown. A render that
fails or times out closes the browser; the next export opens a new one. MathJax is off, so nothing is
fetched from a CDN (the app fetches nothing at run time); plotly.js comes from the installed plotly.
"""

from __future__ import annotations

import asyncio
import atexit
import threading

import streamlit as st

from ui.limits import EXPORT_TIMEOUT_SECONDS

__all__ = ["ExportPool", "export_pool"]


class ExportPool:
    """A kaleido browser on a private event loop; ``render`` is thread-safe and serialises the figures."""

    def __init__(self, *, timeout: float = EXPORT_TIMEOUT_SECONDS):
        self.timeout = timeout
        self.launches = 0  # browsers opened so far (one unless a render failed)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._kaleido = None

    def _run(self, coroutine, timeout: float | None = None):
        """Run ``coroutine`` on the pool's loop (started on first use) and wait for its result."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            threading.Thread(target=self._loop.run_forever, name="kaleido-export", daemon=True).start()
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def render(self, figure: dict, *, width: int, height: int, scale: float) -> bytes:
        """PNG bytes of a figure (a plotly figure as a dict), in the pool's browser."""
        import kaleido

        with self._lock:
            try:
                if self._kaleido is None:
                    self._kaleido = kaleido.Kaleido(n=1, timeout=self.timeout, mathjax=False)
                    self.launches += 1
                    self._run(self._kaleido.open(), self.timeout)
                options = {"format": "png", "width": width, "height": height, "scale": scale}
                return self._run(self._kaleido.calc_fig(figure, opts=options), self.timeout + 5)
            except BaseException:
                self._close_browser()
                raise

    def _close_browser(self) -> None:
        """Close the browser (the next render opens a new one)."""
        browser, self._kaleido = self._kaleido, None
        if browser is not None and self._loop is not None:
            try:
                self._run(browser.close(), 15)
            except Exception:  # noqa: BLE001 - a browser that will not close is left to its watchdog
                pass

    def close(self) -> None:
        """Close the browser and stop the loop (at the server's exit)."""
        with self._lock:
            self._close_browser()
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._loop = None


@st.cache_resource(show_spinner=False)
def export_pool() -> ExportPool:
    """The server's export pool (its browser starts at the first export)."""
    pool = ExportPool()
    atexit.register(pool.close)
    return pool
