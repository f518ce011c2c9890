"""A cache shared by every session, in which each session holds at most its share.

``st.cache_resource(max_entries=16)`` is one list for the whole server: one person uploading thirty photos
pushed everyone else's factorizations out (and the server's memory from 0.7 to 2.7 GB), and nothing was
given back when people left. ``shared_resource`` keeps the sharing (two sessions on the same image use one
entry) and adds owners:

- each session holds at most ``PER_SESSION_ENTRIES[name]`` entries; its next one releases its own oldest;
- an entry no session holds any more is kept only while such entries fit in ``UNOWNED_KEEP_BYTES`` (the
  shipped samples, mostly), newest first;
- when a session ends (``ui.sessions``), everything it held is released at once;
- ``max_entries`` (and ``ttl_seconds``) still bound the whole, oldest use first, unowned entries first.

A miss computes the value once per key (other sessions asking for it wait for that one computation), inside
an admission slot of ``work`` when given (``ui.admission``: a visible place in line when the server is busy).
Arguments whose name starts with ``_`` are not part of the key, as with Streamlit's caches.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ui.admission import admitted
from ui.limits import PER_SESSION_ENTRIES, UNOWNED_KEEP_BYTES
from ui.sessions import on_session_end
from ui.state import session_token

__all__ = ["SharedCache", "shared_resource", "nbytes"]


def nbytes(value, _depth: int = 0, _seen: set | None = None) -> int:
    """Bytes held by the tensors and arrays inside ``value`` (dataclass fields, tuples, lists, dicts)."""
    seen = set() if _seen is None else _seen
    if isinstance(value, torch.Tensor):
        storage = value.untyped_storage()
        if storage.data_ptr() in seen:
            return 0
        seen.add(storage.data_ptr())
        return storage.nbytes()
    if isinstance(value, np.ndarray):
        return value.nbytes
    if _depth >= 4:
        return 0
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        children = [getattr(value, f.name) for f in dataclasses.fields(value)]
    elif isinstance(value, list | tuple):
        children = list(value)
    elif isinstance(value, dict):
        children = list(value.values())
    else:
        return 0
    return sum(nbytes(child, _depth + 1, seen) for child in children)


@dataclass
class _Entry:
    value: object
    size: int
    used: float
    owners: set = field(default_factory=set)


def _current_owner() -> str | None:
    """This session's token, or None outside a script run (a background thread)."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    return session_token() if get_script_run_ctx(suppress_warning=True) is not None else None


class SharedCache:
    """``function``'s results by key, shared by every session; each session holds at most ``per_session``."""

    def __init__(self, function: Callable, *, per_session: int, max_entries: int,
                 ttl_seconds: float | None = None, keep_unowned_bytes: int = UNOWNED_KEEP_BYTES,
                 work: str | None = None, what: str = "", clock: Callable[[], float] = time.monotonic):
        self._function = function
        self._signature = inspect.signature(function)
        self.per_session, self.max_entries, self.ttl_seconds = per_session, max_entries, ttl_seconds
        self.keep_unowned_bytes, self.work, self.what = keep_unowned_bytes, work, what
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple, _Entry] = {}
        self._held: dict[str, OrderedDict] = {}  # owner -> its keys, oldest first
        self._computing: dict[tuple, threading.Lock] = {}
        functools.update_wrapper(self, function)

    def key(self, *args, **kwargs) -> tuple:
        """The cache key of a call: its arguments by name, without those starting with "_"."""
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return tuple((name, value) for name, value in bound.arguments.items() if not name.startswith("_"))

    def __call__(self, *args, **kwargs):
        key = self.key(*args, **kwargs)
        owner = _current_owner()
        if owner is not None:
            on_session_end(self.release)
        found = self._lookup(key, owner)
        if found is not None:
            return found.value
        with self._lock:
            computing = self._computing.setdefault(key, threading.Lock())
        try:
            with computing:  # one computation per key; the others wait for it, then find it
                found = self._lookup(key, owner)
                if found is not None:
                    return found.value
                if self.work is None:
                    value = self._function(*args, **kwargs)
                else:
                    with admitted(self.work, what=self.what):
                        value = self._function(*args, **kwargs)
                self._store(key, value, owner)
                return value
        finally:
            with self._lock:
                if self._computing.get(key) is computing and not computing.locked():
                    del self._computing[key]

    # ---------------------------------------------------------------------------------------- bookkeeping
    def _lookup(self, key: tuple, owner: str | None) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and self._expired(entry):
                self._drop(key)
                entry = None
            if entry is not None:
                entry.used = self._clock()
                self._take(key, entry, owner)
                self._trim()
            return entry

    def _store(self, key: tuple, value, owner: str | None) -> None:
        with self._lock:
            entry = self._entries[key] = _Entry(value, nbytes(value), self._clock())
            self._take(key, entry, owner)
            self._trim()

    def _expired(self, entry: _Entry) -> bool:
        return self.ttl_seconds is not None and self._clock() - entry.used > self.ttl_seconds

    def _take(self, key: tuple, entry: _Entry, owner: str | None) -> None:
        """``owner`` holds ``key`` now; beyond its share, its own oldest key is released."""
        if owner is None:
            return
        entry.owners.add(owner)
        held = self._held.setdefault(owner, OrderedDict())
        held[key] = True
        held.move_to_end(key)
        while len(held) > self.per_session:
            oldest, _ = held.popitem(last=False)
            if oldest in self._entries:
                self._entries[oldest].owners.discard(owner)

    def _drop(self, key: tuple) -> None:
        entry = self._entries.pop(key)
        for owner in entry.owners:
            self._held.get(owner, {}).pop(key, None)

    def _trim(self) -> None:
        """Expired entries; unowned entries beyond their byte budget; then the oldest beyond max_entries."""
        for key in [k for k, e in self._entries.items() if self._expired(e)]:
            self._drop(key)
        unowned = sorted((e.used, k) for k, e in self._entries.items() if not e.owners)
        kept_bytes = 0
        for _, key in reversed(unowned):  # newest first
            kept_bytes += self._entries[key].size
            if kept_bytes > self.keep_unowned_bytes:
                self._drop(key)
        if len(self._entries) > self.max_entries:
            by_age = sorted(self._entries.items(), key=lambda item: (bool(item[1].owners), item[1].used))
            for key, _ in by_age[: len(self._entries) - self.max_entries]:
                self._drop(key)

    # -------------------------------------------------------------------------------------------- public
    def release(self, owner: str) -> None:
        """``owner`` (a session that ended) holds nothing any more."""
        with self._lock:
            for key in self._held.pop(owner, {}):
                if key in self._entries:
                    self._entries[key].owners.discard(owner)
            self._trim()

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
            self._held.clear()

    def stats(self) -> dict:
        """{"entries", "bytes", "unowned", "owners": {owner: entries held}} (for tests and benchmarks)."""
        with self._lock:
            return {"entries": len(self._entries), "bytes": sum(e.size for e in self._entries.values()),
                    "unowned": sum(not e.owners for e in self._entries.values()),
                    "owners": {owner: len(keys) for owner, keys in self._held.items() if keys}}

    def holds(self, *args, **kwargs) -> bool:
        """Whether the result of this call is cached now."""
        with self._lock:
            return self.key(*args, **kwargs) in self._entries


def shared_resource(name: str, *, max_entries: int, ttl_seconds: float | None = None, work: str | None = None,
                    what: str = "") -> Callable[[Callable], SharedCache]:
    """Decorator: ``function`` in a ``SharedCache``, each session's share ``PER_SESSION_ENTRIES[name]``."""
    def decorate(function: Callable) -> SharedCache:
        return SharedCache(function, per_session=PER_SESSION_ENTRIES[name], max_entries=max_entries,
                           ttl_seconds=ttl_seconds, work=work, what=what)
    return decorate
