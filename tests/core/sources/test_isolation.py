"""lowrank_core.sources.isolation: a function run in a limited child cannot cost more than its limits.

Each case runs twice: from the test's own (only) thread, where the child is forked directly, and from a second
thread, where it comes from multiprocessing's fork server, as in the Streamlit server. The runaway functions
below stand for a decoder stuck on a hostile file: they are stopped by the kernel (CPU time), by the address
space limit (memory) or by the wall clock, and the caller gets a typed error, never a hang or a dead server.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

import numpy as np
import pytest

from lowrank_core.errors import DecodeLimitError, InputError, ParseError, UnsupportedFormatError
from lowrank_core.sources.isolation import isolation_available, run_in_process, run_isolated

MB = 2**20
LIMITS = {"label": "The file 'x.png'", "cpu_seconds": 1, "memory_bytes": 256 * MB, "wall_seconds": 60,
          "max_result_bytes": 64 * MB}


# ------------------------------------------------------------------------ functions run in the child


def _spin() -> tuple[dict, None]:
    """A decode that never ends: CPU-bound forever."""
    while True:
        pass


def _allocate(size: int) -> tuple[dict, np.ndarray]:
    """A decode that allocates and touches ``size`` bytes."""
    block = np.ones(size // 8)
    return {}, block[:4].astype(np.float32)


def _sleep(seconds: float) -> tuple[dict, None]:
    """A decode stuck without using CPU."""
    time.sleep(seconds)
    return {}, None


def _refuse() -> tuple[dict, None]:
    raise UnsupportedFormatError("The file 'x.png' is not an image.")


def _fail() -> tuple[dict, None]:
    raise KeyError("the decoder's own error")


def _crash() -> tuple[dict, None]:
    os.kill(os.getpid(), signal.SIGSEGV)
    return {}, None


def _result(shape: tuple[int, ...]) -> tuple[dict, np.ndarray]:
    values = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape) / 7
    return {"notices": ["a notice"], "mode": "RGB"}, values


# ================================================================================================ tests


def _run(where: str, function, *args, **limits):
    """``run_isolated`` from this thread ("direct": forked) or from another thread ("server": fork server)."""
    options = {**LIMITS, **limits}
    if where == "direct":
        assert threading.active_count() == 1
        return run_isolated(function, *args, **options)
    outcome = {}

    def call():
        try:
            outcome["value"] = run_isolated(function, *args, **options)
        except BaseException as err:  # noqa: BLE001 - re-raised in the test's thread
            outcome["error"] = err

    worker = threading.Thread(target=call)
    worker.start()
    worker.join(300)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


WHERE = ["direct", "server"]


@pytest.mark.parametrize("where", WHERE)
def test_a_runaway_decode_is_stopped_by_its_cpu_limit(where):
    started = time.process_time()
    with pytest.raises(DecodeLimitError, match=r"more than 1 s of processor time"):
        _run(where, _spin)
    assert time.process_time() - started < 1.0  # the CPU was the child's, and the child is gone
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("where", WHERE)
def test_a_decode_that_allocates_too_much_is_stopped_by_its_memory_limit(where):
    with pytest.raises(DecodeLimitError, match=r"more than 256 MB of memory"):
        _run(where, _allocate, 2048 * MB)
    result = _run(where, _allocate, 64 * MB)  # within the limit
    assert result.peak_bytes >= 64 * MB  # the child's own peak, measured in the child


@pytest.mark.parametrize("where", WHERE)
def test_a_decode_stuck_past_the_wall_clock_is_killed(where):
    with pytest.raises(DecodeLimitError, match=r"took more than 1 s"):
        _run(where, _sleep, 60, wall_seconds=1)
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("where", WHERE)
def test_errors_cross_with_their_class_and_message(where):
    with pytest.raises(UnsupportedFormatError, match="is not an image"):
        _run(where, _refuse)
    with pytest.raises(ParseError, match=r"could not be decoded.*own error"):
        _run(where, _fail)
    with pytest.raises(ParseError, match="decoder stopped"):
        _run(where, _crash)


@pytest.mark.parametrize("where", WHERE)
def test_the_result_comes_back_as_float32_with_its_header(where):
    result = _run(where, _result, (3, 5, 7))
    expected = (np.arange(105, dtype=np.float64).reshape(3, 5, 7) / 7).astype(np.float32)
    np.testing.assert_array_equal(result.array, expected)
    assert result.array.flags.writeable and result.array.flags.c_contiguous
    assert result.header == {"notices": ["a notice"], "mode": "RGB"}


@pytest.mark.parametrize("where", WHERE)
def test_a_result_larger_than_announced_limits_is_refused_unread(where):
    with pytest.raises(ParseError, match="unexpected result"):
        _run(where, _result, (3, 100, 100), max_result_bytes=1000)


def test_this_platform_isolates_decoding():
    assert isolation_available()  # Linux with fork and resource: what the server runs on


def test_in_process_has_the_same_answers():
    result = run_in_process(_result, (2, 3), **LIMITS)
    np.testing.assert_array_equal(result.array, (np.arange(6.0).reshape(2, 3) / 7).astype(np.float32))
    with pytest.raises(InputError):
        run_in_process(_refuse, **LIMITS)
