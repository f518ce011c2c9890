"""ui.shared_cache.SharedCache: shared entries, each session within its share, everything released at its end.

Owners are passed through a patched ``_current_owner`` (outside a Streamlit run there is no session)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from ui import shared_cache
from ui.shared_cache import SharedCache, nbytes

MB = 2**20


@pytest.fixture
def owner(monkeypatch):
    """Set who is calling: ``owner.name = "a"``."""

    class Owner:
        name = None

    monkeypatch.setattr(shared_cache, "_current_owner", lambda: Owner.name)
    monkeypatch.setattr(shared_cache, "on_session_end", lambda callback: None)
    return Owner


def _image(key: str, megabytes: int = 1, calls: list | None = None) -> torch.Tensor:
    if calls is not None:
        calls.append(key)
    return torch.zeros(megabytes * MB // 4)


def test_nbytes_counts_tensors_and_arrays_once():
    t = torch.zeros(1000)
    assert nbytes({"a": (t, t[:10]), "b": [np.zeros(100)]}) == 4000 + 800


def test_one_session_cannot_evict_another_sessions_entries(owner):
    calls = []
    cache = SharedCache(lambda key: _image(key, calls=calls), per_session=2, max_entries=16,
                        keep_unowned_bytes=0)
    owner.name = "b"
    cache("b-photo")
    owner.name = "a"
    for i in range(30):  # one person, thirty uploads
        cache(f"a-photo-{i}")
    assert cache.stats()["owners"] == {"a": 2, "b": 1}
    owner.name = "b"
    cache("b-photo")
    assert calls.count("b-photo") == 1  # still cached: b's work was not pushed out


def test_sessions_share_one_entry_and_it_lives_while_one_holds_it(owner):
    calls = []
    cache = SharedCache(lambda key: _image(key, calls=calls), per_session=1, max_entries=16,
                        keep_unowned_bytes=0)
    for name in ("a", "b"):
        owner.name = name
        cache("same")
    assert calls == ["same"]
    cache.release("a")
    owner.name = "c"
    cache("same")
    assert calls == ["same"]
    cache.release("b")
    cache.release("c")
    assert cache.stats()["entries"] == 0  # nobody holds it: given back


def test_an_ended_session_gives_everything_back_except_small_unowned_entries(owner):
    cache = SharedCache(lambda key, size: _image(key, size), per_session=3, max_entries=16,
                        keep_unowned_bytes=2 * MB)
    owner.name = "a"
    cache("upload", 40)
    cache("sample-1", 1)
    cache("sample-2", 1)
    assert cache.stats()["bytes"] == 42 * MB
    cache.release("a")
    assert cache.stats() == {"entries": 2, "bytes": 2 * MB, "unowned": 2, "owners": {}}


def test_max_entries_bounds_the_room_oldest_unowned_first(owner):
    cache = SharedCache(lambda key: _image(key), per_session=4, max_entries=3, keep_unowned_bytes=100 * MB)
    owner.name = None
    cache("kept-by-nobody")
    for name in ("a", "b", "c"):
        owner.name = name
        cache(f"{name}-photo")
    assert not cache.holds("kept-by-nobody")
    assert all(cache.holds(f"{name}-photo") for name in "abc")


def test_a_miss_is_computed_once_while_others_wait_for_it(owner):
    started, calls = threading.Event(), []

    def slow(key):
        calls.append(key)
        started.set()
        time.sleep(0.3)
        return _image(key)

    cache = SharedCache(slow, per_session=2, max_entries=4)
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache("k"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert calls == ["k"] and len(results) == 4 and all(r is results[0] for r in results)


def test_arguments_starting_with_an_underscore_are_not_part_of_the_key(owner):
    calls = []
    cache = SharedCache(lambda key, _data: calls.append(_data) or _data, per_session=2, max_entries=4)
    assert cache("k", _data=1) == 1
    assert cache("k", _data=2) == 1
    assert calls == [1]


def test_an_error_is_not_cached(owner):
    attempts = []

    def flaky(key):
        attempts.append(key)
        if len(attempts) == 1:
            raise ValueError("first try fails")
        return _image(key)

    cache = SharedCache(flaky, per_session=2, max_entries=4)
    with pytest.raises(ValueError):
        cache("k")
    cache("k")
    assert attempts == ["k", "k"]
