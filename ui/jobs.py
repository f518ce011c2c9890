"""Slow work off the rerun path: one background worker thread shared by every session, and its jobs.

The image page queues the exact SVD of a large image (after a randomized preview) and its rate–distortion
curves here. The page shows what is ready and picks up the rest at the next rerun (it does not poll; see
``ui.image.inputs.refresh_button``).

Bounded three ways, so that a full room cannot make the board grow: at most ``MAX_PENDING_JOBS`` queued or
running (a submission beyond is refused as busy, and tried again at the session's next rerun); finished
results are trimmed to their limits whenever a job is submitted *and* whenever one finishes; and a session
that ends (``ui.sessions``) has its queued jobs cancelled and its results dropped.
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

from ui.heap import return_free_memory
from ui.limits import MAX_JOBS, MAX_PENDING_JOBS
from ui.sessions import on_session_end
from ui.state import session_token

__all__ = ["JobBoard", "JobQueueFull", "job_board", "session_group"]


class JobQueueFull(RuntimeError):
    """The board already has ``max_pending`` jobs queued or running."""


class JobBoard:
    """A single background worker thread and the futures of the jobs it ran, by key (bounded, LRU).

    ``submit`` returns the existing future for a key (unless it failed), so a rerun never starts a job
    twice. Jobs of one ``group`` replace each other: submitting one cancels the group's jobs that have not
    started (the curves of an image the user has already left). The board is shared by every session, so
    the pages make a group per session (``session_group``): one person's new image never cancels another
    person's queued work. Lower ``priority`` runs first, so the exact SVD the user waits for overtakes
    queued curves. Finished jobs are kept per kind (a key's first item) up to ``keep``, and up to
    ``max_jobs`` in all, trimmed when jobs are submitted and when they finish. The worker is a daemon thread,
    so a job still running never holds up the server's shutdown. Being one thread, the board runs one job at
    a time: with the sessions' own ``WORK_SLOTS["factorize"]`` (``ui.admission``), the server runs at most
    that many SVDs plus one. (It does not take a slot of the gate itself: a long exact SVD in the only slot
    would hold every person's preview behind it.)
    """

    def __init__(self, max_jobs: int = MAX_JOBS, max_pending: int = MAX_PENDING_JOBS):
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()  # ties in priority run first come, first served
        self._futures: OrderedDict[tuple, tuple[Future, Hashable | None, str | None, int]] = OrderedDict()
        self._keep: dict[object, int | None] = {}  # kind -> its keep, as last submitted
        self._work_of: dict[int, tuple] = {}  # queue ticket -> (function, args, kwargs), until it runs
        self._orphans: set[tuple] = set()  # keys of jobs running for a session that has ended
        self._held: dict[tuple[str, str], tuple[Hashable, Future]] = {}  # (owner, slot) -> (what, future)
        self._lock = threading.Lock()
        self._max_jobs, self._max_pending = max_jobs, max_pending
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
            _, ticket, job = self._queue.get()
            if job is None:
                return
            key, future = job
            with self._lock:
                work = self._work_of.pop(ticket, None)  # gone when the job was cancelled
            if work is None or not future.set_running_or_notify_cancel():
                continue
            function, args, kwargs = work
            del work
            try:
                future.set_result(function(*args, **kwargs))
            except BaseException as err:  # noqa: BLE001 - handed to whoever reads the future
                future.set_exception(err)
            del function, args, kwargs
            with self._lock:
                orphan = key in self._orphans  # its session ended while it ran: nobody will read it
                if orphan:
                    self._orphans.discard(key)
                    if self._futures.get(key, (None,))[0] is future:
                        del self._futures[key]
                self._evict(key[0])  # a finished job counts against the limits now, not at the next submit
            job = future = None  # the worker waits for the next job holding nothing of this one
            if orphan:
                return_free_memory()

    def submit(self, key: tuple, function: Callable, *args, group: Hashable | None = None,
               keep: int | None = None, priority: int = 1, owner: str | None = None, **kwargs) -> Future:
        """The future of ``function(*args, **kwargs)`` under ``key``, started once (lower priority first).

        ``group``: submitting cancels the group's jobs that have not started. ``keep``: finished jobs of this
        key's kind (``key[0]``) kept on the board, the oldest dropped first. ``owner``: the session the job is
        for (its jobs are cancelled when it ends). When ``max_pending`` jobs are already queued or running,
        the future returned has failed with ``JobQueueFull`` and nothing is queued.
        """
        with self._lock:
            entry = self._futures.get(key)
            if entry is not None and not (entry[0].done() and (entry[0].cancelled() or entry[0].exception())):
                self._futures.move_to_end(key)
                return entry[0]
            if group is not None:
                for other, (future, other_group, _, _) in list(self._futures.items()):
                    if other_group == group and future.cancel():
                        self._forget(other)
            pending = sum(not f.done() for f, *_ in self._futures.values())
            future: Future = Future()
            if pending >= self._max_pending:
                future.set_exception(JobQueueFull(
                    f"the server is busy ({pending} background jobs queued); it is queued again at your next "
                    "change"))
                return future
            self._keep[key[0]] = keep
            ticket = next(self._order)
            self._work_of[ticket] = (function, args, kwargs)
            self._queue.put((priority, ticket, (key, future)))
            self._futures[key] = (future, group, owner, ticket)
            self._evict(key[0])
            return future

    def _evict(self, kind: object) -> None:
        """Drop the oldest finished jobs beyond the limits (never one still pending or running)."""
        keep = self._keep.get(kind)
        if keep is not None:
            finished = [k for k, (f, *_) in self._futures.items() if k[0] == kind and f.done()]
            for k in finished[: max(0, len(finished) - keep)]:
                del self._futures[k]
        finished = [k for k, (f, *_) in self._futures.items() if f.done()]
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
            return [f for f, *_ in self._futures.values() if not f.done()]

    def kept(self) -> int:
        """Futures on the board, finished or not."""
        with self._lock:
            return len(self._futures)

    def wait(self, timeout: float = 120.0) -> None:
        """Block until every job submitted so far has finished (for tests and benchmarks)."""
        for future in self.pending():
            try:
                future.result(timeout=timeout)
            except Exception:  # noqa: BLE001 - a failed job is reported where its result is read
                pass

    # ----------------------------------------------------------------------------------------- sessions
    def hold(self, owner: str, slot: str, what: Hashable, future: Future) -> None:
        """``owner`` keeps ``future`` (for ``what``) in its ``slot`` until it replaces it or ends: its result
        outlives the board's short list of finished jobs while the session is open."""
        with self._lock:
            self._held[(owner, slot)] = (what, future)

    def held(self, owner: str, slot: str, what: Hashable) -> Future | None:
        """The future ``owner`` holds in ``slot`` for ``what`` (None when it holds one for something else)."""
        with self._lock:
            found = self._held.get((owner, slot))
            return found[1] if found is not None and found[0] == what else None

    def _forget(self, key: tuple) -> None:
        """Drop ``key`` from the board, and the arguments of its job if it has not run (an image, often)."""
        entry = self._futures.pop(key)
        self._work_of.pop(entry[3], None)

    def end_session(self, owner: str) -> None:
        """``owner`` has left: cancel its jobs that have not started, drop its finished ones and its holds;
        one still running is dropped when it finishes."""
        with self._lock:
            for key, (future, _, job_owner, _) in list(self._futures.items()):
                if job_owner != owner:
                    continue
                if future.cancel() or future.done():
                    self._forget(key)
                else:
                    self._orphans.add(key)
            for held in [h for h in self._held if h[0] == owner]:
                del self._held[held]


@st.cache_resource(show_spinner=False)
def job_board() -> JobBoard:
    """The process-wide job board (one background thread for every session)."""
    board = JobBoard()
    atexit.register(board.close)
    on_session_end(board.end_session)
    return board


def session_group(kind: str) -> tuple[str, str]:
    """(kind, this session's token): the job group of this session's background work of one kind."""
    return kind, session_token()
