"""Admission control: at most ``WORK_SLOTS[kind]`` decodes, factorizations and exports at once, server-wide.

Ten people uploading at the same moment used to start ten SVDs on two cores: each took eight times as long,
and nobody saw a picture for twenty seconds. A ``WorkGate`` lets a few run and keeps the others in line, first
come, first served (work with a lower ``priority`` number first), so a room degrades in order: the first
upload is shown after the time of one, the tenth after the time of ten. ``admitted`` is the gate as a
Streamlit session sees it: while it waits, a "Queued (k ahead)" notice and a progress bar stand where the
result will appear; they vanish when its turn comes. A session that reruns or leaves while it waits gives
its place up (Streamlit stops the script at its next drawing call, and the ticket leaves the line).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import streamlit as st

from lowrank_core.sources.isolation import prestart_fork_server
from ui.limits import WORK_SLOTS

__all__ = ["INTERACTIVE", "WorkGate", "work_gates", "admitted", "prestart_workers"]

INTERACTIVE = 0  # the priority of a person waiting (lower numbers go first)


class WorkGate:
    """At most ``slots`` holders at once; the others wait in (priority, arrival) order and see their place.

    ``slot(on_wait=...)`` is a context manager; ``on_wait(ahead, running)`` is called (outside the gate's
    lock) whenever the number of tickets ahead changes while it waits, first right after it joins the line.
    """

    def __init__(self, slots: int):
        if slots < 1:
            raise ValueError(f"a gate needs at least one slot; got {slots}")
        self.slots = slots
        self._condition = threading.Condition()
        self._line: list[tuple[int, int]] = []  # (priority, arrival) of the tickets waiting, in order
        self._running = 0
        self._arrivals = itertools.count()
        self.most_running = 0  # the high-water mark of concurrent holders (for tests and benchmarks)

    @property
    def running(self) -> int:
        """Holders now."""
        with self._condition:
            return self._running

    @property
    def waiting(self) -> int:
        """Tickets in line now."""
        with self._condition:
            return len(self._line)

    @contextmanager
    def slot(self, *, priority: int = INTERACTIVE, on_wait: Callable[[int, int], None] | None = None,
             poll_seconds: float = 0.25) -> Iterator[None]:
        """Hold one of the gate's slots for the block, after waiting for one."""
        ticket = (priority, next(self._arrivals))
        told = None
        try:
            while True:
                with self._condition:
                    if ticket not in self._line:
                        self._line.append(ticket)
                        self._line.sort()
                    ahead = self._line.index(ticket)
                    if ahead == 0 and self._running < self.slots:
                        self._line.remove(ticket)
                        self._running += 1
                        self.most_running = max(self.most_running, self._running)
                        ticket = None
                        break
                    running = self._running
                if on_wait is not None and told != (ahead, running):
                    told = (ahead, running)
                    on_wait(ahead, running)
                with self._condition:
                    self._condition.wait(poll_seconds)
        finally:
            if ticket is not None:  # left the line without its turn (a rerun, a closed tab, an error)
                with self._condition:
                    if ticket in self._line:
                        self._line.remove(ticket)
                    self._condition.notify_all()
        try:
            yield
        finally:
            with self._condition:
                self._running -= 1
                self._condition.notify_all()


@st.cache_resource(show_spinner=False)
def work_gates() -> dict[str, WorkGate]:
    """The server's gates, one per kind of expensive work (``WORK_SLOTS``)."""
    return {kind: WorkGate(slots) for kind, slots in WORK_SLOTS.items()}


def _in_a_session() -> bool:
    """Whether this thread runs a Streamlit script (else nothing can be drawn: a background job)."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    return get_script_run_ctx(suppress_warning=True) is not None


@contextmanager
def admitted(kind: str, *, what: str, priority: int = INTERACTIVE) -> Iterator[None]:
    """Hold a slot of the ``kind`` gate for the block; in a session, show its place in line while it waits.

    ``what`` names the work for people ("Decoding your image").
    """
    gate = work_gates()[kind]
    placeholder = None
    first_ahead = None

    def show(ahead: int, running: int) -> None:
        nonlocal placeholder, first_ahead
        if placeholder is None:
            placeholder = st.empty()
            first_ahead = ahead + 1
        with placeholder.container():
            st.info(f"Queued ({ahead} ahead): {what} starts as soon as one of the server's {gate.slots} "
                    f"{'slot is' if gate.slots == 1 else 'slots are'} free ({running} busy).")
            st.progress((first_ahead - ahead) / (first_ahead + 1), text=f"{ahead} ahead of you")

    try:
        with gate.slot(priority=priority, on_wait=show if _in_a_session() else None):
            if placeholder is not None:
                placeholder.empty()
                placeholder = None
            yield
    finally:
        if placeholder is not None:
            placeholder.empty()


@st.cache_resource(show_spinner=False)
def prestart_workers() -> bool:
    """Start the decoders' fork server once per server process, so the first upload does not wait for it."""
    return prestart_fork_server()
