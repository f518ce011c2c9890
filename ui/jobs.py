"""Slow work off the rerun path: one background worker thread shared by every session, and its jobs.

The image page queues the exact SVD of a large image (after a randomized preview) and its rate–distortion
curves here. The page shows what is ready and picks up the rest at the next rerun (it does not poll; see
``ui.image.inputs.refresh_button``).
"""

from __future__ import annotations

import atexit
import itertools
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future

import streamlit as st

from ui.limits import MAX_JOBS
from ui.state import session_token

__all__ = ["JobBoard", "job_board", "session_group"]


class JobBoard:
    """A single background worker thread and the futures of the jobs it ran, by key (bounded, LRU).

    ``submit`` returns the existing future for a key (unless it failed), so a rerun never starts a job
    twice. Jobs of one ``group`` replace each other: submitting one cancels the group's jobs that have not
    started (the curves of an image the user has already left). The board is shared by every session, so
    the pages make a group per session (``session_group``): one person's new image never cancels another
    person's queued work. Lower ``priority`` runs first, so the exact SVD the user waits for overtakes
    queued curves. Finished jobs are kept per kind (a key's first item) up to ``keep``, and up to
    ``max_jobs`` in all. The worker is a daemon thread, so a job still running never holds up the server's
    shutdown.
    """

    def __init__(self, max_jobs: int = MAX_JOBS):
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()  # ties in priority run first come, first served
        self._futures: OrderedDict[tuple, tuple[Future, str | None]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_jobs = max_jobs
        self._worker = threading.Thread(target=self._work, name="image-page-job", daemon=True)
        self._worker.start()

    def close(self, timeout: float = 30.0) -> None:
        """Stop the worker after its current job (registered with atexit: torch must not be mid-call
        when the interpreter tears down, or the process aborts)."""
        self._queue.put((-1, -1, None))
        self._worker.join(timeout)

    def _work(self) -> None:
        """Run queued jobs one after the other, until ``close``."""
        while True:
            _, _, job = self._queue.get()
            if job is None:
                return
            future, function, args, kwargs = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(function(*args, **kwargs))
            except BaseException as err:  # noqa: BLE001 - handed to whoever reads the future
                future.set_exception(err)

    def submit(self, key: tuple, function: Callable, *args, group: Hashable | None = None,
               keep: int | None = None, priority: int = 1, **kwargs) -> Future:
        """The future of ``function(*args, **kwargs)`` under ``key``, started once (lower priority first).

        ``group``: submitting cancels the group's jobs that have not started. ``keep``: finished jobs of this
        key's kind (``key[0]``) kept on the board, the oldest dropped first.
        """
        with self._lock:
            entry = self._futures.get(key)
            if entry is not None and not (entry[0].done() and (entry[0].cancelled() or entry[0].exception())):
                self._futures.move_to_end(key)
                return entry[0]
            if group is not None:
                for other, (future, other_group) in list(self._futures.items()):
                    if other_group == group and future.cancel():
                        del self._futures[other]
            future: Future = Future()
            self._queue.put((priority, next(self._order), (future, function, args, kwargs)))
            self._futures[key] = (future, group)
            self._evict(kind=key[0], keep=keep)
            return future

    def _evict(self, kind: object, keep: int | None) -> None:
        """Drop the oldest finished jobs beyond the limits (never one still pending or running)."""
        if keep is not None:
            finished = [k for k, (f, _) in self._futures.items() if k[0] == kind and f.done()]
            for k in finished[: max(0, len(finished) - keep)]:
                del self._futures[k]
        finished = [k for k, (f, _) in self._futures.items() if f.done()]
        for k in finished[: max(0, len(self._futures) - self._max_jobs)]:
            del self._futures[k]

    def get(self, key: tuple) -> Future | None:
        """The future under ``key``, if any."""
        with self._lock:
            entry = self._futures.get(key)
            return entry[0] if entry else None

    def pending(self) -> list[Future]:
        """Futures not finished yet."""
        with self._lock:
            return [f for f, _ in self._futures.values() if not f.done()]

    def wait(self, timeout: float = 120.0) -> None:
        """Block until every job submitted so far has finished (for tests and benchmarks)."""
        for future in self.pending():
            try:
                future.result(timeout=timeout)
            except Exception:  # noqa: BLE001 - a failed job is reported where its result is read
                pass


@st.cache_resource(show_spinner=False)
def job_board() -> JobBoard:
    """The process-wide job board (one background thread for every session)."""
    board = JobBoard()
    atexit.register(board.close)
    return board


def session_group(kind: str) -> tuple[str, str]:
    """(kind, this session's token): the job group of this session's background work of one kind."""
    return kind, session_token()
