"""Run a decoder in a child process under CPU-time and memory limits: a hostile file costs seconds, not the
server.

A decoder bug or a file built to exhaust one (a TIFF tile of two gigabytes, a JPEG with thousands of scans)
must not cost the server. ``run_isolated`` forks a child from multiprocessing's fork server (a process
started once, which has imported ``lowrank_core`` and runs one thread, so forking it is safe and takes
milliseconds; a process with a single Python thread, such as the command line, is forked directly), limits
the child with ``resource`` (``RLIMIT_CPU``: the kernel stops it after the CPU seconds; ``RLIMIT_AS``: an
allocation beyond the memory budget fails), runs the function there and reads its result back through a
socket pair:

- first a JSON header (the function's small results, or the error it raised),
- then, when the function returned an array, its raw float32 bytes, read straight into an array allocated
  here once the header has been checked (shape and size).

Nothing from the child is unpickled: a compromised decoder can send wrong numbers, never code. The child's
stderr goes to /dev/null (C decoders print warnings there). A child that is killed (CPU time), runs past the
wall-clock limit (then killed here) or dies is reported as a ``DecodeLimitError`` or a ``ParseError``; an
``InputError`` raised in the child is raised here with its class and message.

``run_in_process`` has the same signature and runs the function here, without limits: the fallback where
``fork`` or ``resource`` is missing, and the way tests watch the decoder itself.
"""

from __future__ import annotations

import faulthandler
import json
import math
import multiprocessing
import os
import signal
import socket
import struct
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .._checks import quote
from ..errors import DecodeLimitError, InputError, ParseError

__all__ = ["IsolatedResult", "isolation_available", "prestart_fork_server", "run_isolated", "run_in_process"]

_HEADER_MAX_BYTES = 1 << 20  # a header holds a few notices: anything longer is refused unread
_LENGTH = struct.Struct("<Q")  # each frame (the JSON header, the array's bytes) follows its length
_MESSAGE_MAX_CHARS = 1000
_PRELOAD = ["lowrank_core"]  # what the fork server imports once, so a child starts with it loaded
_CHILD_NAME = "lowrank-decode"
_MEMORY_SLACK = 16 << 20  # a failure this close to the address-space limit is taken as running out of memory
# the kernel's answers to RLIMIT_CPU's soft and hard limits
_KILL_SIGNALS = {getattr(signal, name) for name in ("SIGXCPU", "SIGKILL") if hasattr(signal, name)}


@dataclass(frozen=True)
class IsolatedResult:
    """What a function run by ``run_isolated`` returned.

    Attributes
    ----------
    header : dict
        The function's small results (JSON types only).
    array : numpy.ndarray or None
        The float32 array it returned, C-contiguous and writable (owned here).
    peak_bytes : int
        How far the child's resident memory rose above where it started (0 when run in process).
    """

    header: dict = field(default_factory=dict)
    array: np.ndarray | None = None
    peak_bytes: int = 0


def isolation_available() -> bool:
    """Whether this platform can run a function in a limited child (fork server and ``resource``)."""
    if sys.platform != "linux":
        return False
    try:
        import resource  # noqa: F401
    except ImportError:
        return False
    return "forkserver" in multiprocessing.get_all_start_methods()


def prestart_fork_server() -> bool:
    """Start the fork server now (it imports ``lowrank_core``: a few seconds), not at the first decode.

    Returns False where isolation is not available.
    """
    if not isolation_available():
        return False
    _without_main_script()
    multiprocessing.get_context("forkserver").set_forkserver_preload(_PRELOAD)
    from multiprocessing import forkserver

    forkserver.ensure_running()
    return True


def run_in_process(function: Callable, *args, label: str, cpu_seconds: float, memory_bytes: int,
                   wall_seconds: float, max_result_bytes: int) -> IsolatedResult:
    """``function(*args)`` here, without limits (the same signature as ``run_isolated``)."""
    header, array = function(*args)
    if array is not None:
        array = np.ascontiguousarray(array, dtype=np.float32)
    return IsolatedResult(dict(header), array, 0)


def run_isolated(function: Callable, *args, label: str, cpu_seconds: float, memory_bytes: int,
                 wall_seconds: float, max_result_bytes: int) -> IsolatedResult:
    """``function(*args)`` in a child process limited to ``cpu_seconds`` of CPU and ``memory_bytes``.

    Parameters
    ----------
    function : callable
        A module-level function (the child finds it by name) returning ``(header, array)``: a JSON-able dict
        and a float32 array or None. It reports bad input by raising an ``InputError``.
    *args
        Its arguments (sent to the child by pickle: they come from this process, never from the child).
    label : str
        "The file 'x.png'": how messages name the input.
    cpu_seconds, memory_bytes, wall_seconds : float, int, float
        CPU time of the child; address space it may add to what it started with; real time this call waits
        before it kills the child.
    max_result_bytes : int
        The largest array accepted back.

    Raises
    ------
    InputError
        The child's own (same class and message); ``DecodeLimitError`` when a limit stopped it;
        ``ParseError`` when it died or sent something malformed.
    """
    context = _context()
    receiver, sender = socket.socketpair()
    child = context.Process(target=_child_main, args=(sender, function, args, cpu_seconds, memory_bytes),
                            daemon=True, name=_CHILD_NAME)
    try:
        child.start()
    finally:
        sender.close()  # the child holds the only other end: its death is an end of file here
    deadline = time.monotonic() + wall_seconds
    try:
        return _receive(receiver, deadline, label=label, max_result_bytes=max_result_bytes)
    except EOFError:
        child.join(5)
        raise _death(child.exitcode, label, cpu_seconds) from None
    except TimeoutError:
        raise DecodeLimitError(
            f"{label} took more than {wall_seconds:g} s to decode and was stopped (the server may be busy: "
            "try again in a minute, or upload a smaller file)."
        ) from None
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join(5)
        if child.exitcode is not None:
            child.close()


def _context():
    """Fork this process when it runs one Python thread (a command line: nothing is mid-call elsewhere),
    else multiprocessing's fork server (a server: other threads may hold locks a child would inherit)."""
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    _without_main_script()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


def _without_main_script() -> None:
    """Children named ``_CHILD_NAME`` do not re-run the parent's main script.

    A fork-server child normally imports the parent's ``__main__`` first. Under Streamlit (and AppTest) that
    is app.py itself: every decode would re-run the whole app. The function a child runs is found by its
    module's name, so the main script is never needed: it is left out of the child's preparation data
    (multiprocessing's ``spawn.get_preparation_data``, wrapped once; other processes are untouched).
    """
    from multiprocessing import spawn

    original = spawn.get_preparation_data
    if getattr(original, "leaves_out_main_for", None) == _CHILD_NAME:
        return

    def preparation_data(name):
        data = original(name)
        if name == _CHILD_NAME:
            data.pop("init_main_from_name", None)
            data.pop("init_main_from_path", None)
        return data

    preparation_data.leaves_out_main_for = _CHILD_NAME
    spawn.get_preparation_data = preparation_data


def _receive_into(receiver: socket.socket, view: memoryview, deadline: float) -> None:
    """Fill ``view`` from the socket (EOFError when the child is gone first, TimeoutError at the deadline)."""
    received = 0
    while received < len(view):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        receiver.settimeout(remaining)
        try:
            count = receiver.recv_into(view[received:])
        except TimeoutError:
            raise
        except OSError as err:
            raise EOFError from err
        if count == 0:
            raise EOFError
        received += count


def _receive_frame_length(receiver: socket.socket, deadline: float) -> int:
    """The length that announces the next frame."""
    length = bytearray(_LENGTH.size)
    _receive_into(receiver, memoryview(length), deadline)
    return _LENGTH.unpack(length)[0]


def _receive(receiver: socket.socket, deadline: float, *, label: str,
             max_result_bytes: int) -> IsolatedResult:
    """The header, then the array it announces, read straight into an array allocated once it is checked."""
    malformed = ParseError(f"{label} could not be decoded (the decoder sent a malformed answer).")
    size = _receive_frame_length(receiver, deadline)
    if size > _HEADER_MAX_BYTES:
        raise malformed
    raw = bytearray(size)
    _receive_into(receiver, memoryview(raw), deadline)
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise malformed from err
    if not isinstance(header, dict):
        raise malformed
    if not header.pop("ok", False):
        raise _child_error(header, label)
    peak = header.pop("peak_bytes", 0)
    peak = peak if isinstance(peak, int) else 0
    shape = header.pop("shape", None)
    if shape is None:
        return IsolatedResult(header, None, peak)
    if (header.pop("dtype", None) != "float32" or not isinstance(shape, list) or not shape
            or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)
            or math.prod(shape) * 4 > max_result_bytes):
        raise ParseError(f"{label} could not be decoded (the decoder announced an unexpected result).")
    array = np.empty(shape, dtype=np.float32)
    if _receive_frame_length(receiver, deadline) != array.nbytes:
        raise ParseError(f"{label} could not be decoded (the decoder sent another size than it announced).")
    _receive_into(receiver, memoryview(array).cast("B"), deadline)  # no copy on the way
    return IsolatedResult(header, array, peak)


def _child_error(header: dict, label: str) -> InputError:
    """The InputError the child raised (its class when it is one of the core's, else ParseError)."""
    message = header.get("message")
    if not isinstance(message, str) or not message:
        message = f"{label} could not be decoded."
    return _input_error_class(str(header.get("error")))(message[:_MESSAGE_MAX_CHARS])


def _input_error_class(name: str) -> type[InputError]:
    """The InputError subclass called ``name`` (ParseError for any other name)."""
    classes, found = [InputError], {}
    while classes:
        cls = classes.pop()
        found[cls.__name__] = cls
        classes.extend(cls.__subclasses__())
    return found.get(name, ParseError)


def _death(exitcode: int | None, label: str, cpu_seconds: float) -> InputError:
    """Why the child ended without an answer."""
    if exitcode is not None and -exitcode in _KILL_SIGNALS:
        return DecodeLimitError(
            f"{label} needed more than {cpu_seconds:g} s of processor time to decode and was stopped. It may "
            "be built to exhaust a decoder (a decompression bomb), or be far larger than a photograph."
        )
    return ParseError(f"{label} could not be decoded: the decoder stopped (exit status {exitcode}).")


# ================================================================================================ child


def _status_kb(field_name: str) -> int:
    """A field of /proc/self/status in kB (0 when unreadable)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _limit(cpu_seconds: float, memory_bytes: int) -> int:
    """Apply the limits to this (child) process; returns its address-space limit in bytes."""
    import resource

    seconds = max(1, math.ceil(cpu_seconds))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a process stopped for CPU time dumps no core
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 2))  # SIGXCPU, then SIGKILL
    address_space = _status_kb("VmSize") * 1024 + int(memory_bytes)
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    return address_space


def _child_main(sender: socket.socket, function: Callable, args: tuple, cpu_seconds: float,
                memory_bytes: int) -> None:
    """In the child: limit, run, send the header and the array, exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # C decoders print their warnings on stderr
    os.close(devnull)
    faulthandler.disable()  # a crash here is told by the exit status, not dumped on the parent's stderr
    try:  # measure the peak from here (Linux >= 4.0: reset the high-water mark to the current RSS)
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        pass
    warnings.simplefilter("ignore")  # this process reports through the pipe only
    start_kb = _status_kb("VmRSS")
    address_space = _limit(cpu_seconds, memory_bytes)
    array = None
    try:
        header, array = function(*args)
        header = {**header, "ok": True}
        if array is not None:
            array = np.ascontiguousarray(array, dtype=np.float32)
            header.update(shape=list(array.shape), dtype="float32")
    except InputError as err:
        header = {"ok": False, "error": type(err).__name__, "message": str(err)}
    except BaseException as err:  # noqa: BLE001 - reported to the parent, which raises a ParseError
        near_limit = _status_kb("VmPeak") * 1024 + _MEMORY_SLACK >= address_space
        if isinstance(err, MemoryError) or near_limit:
            header = {"ok": False, "error": "DecodeLimitError", "message": (
                f"Decoding needed more than {memory_bytes / 2**20:,.0f} MB of memory and was stopped. The "
                "file may be built to exhaust a decoder (a decompression bomb).")}
        else:
            header = {"ok": False, "error": "ParseError",
                      "message": f"The file could not be decoded ({quote(str(err), 80)})."}
    header["peak_bytes"] = max(0, _status_kb("VmHWM") - start_kb) * 1024
    encoded = json.dumps(header).encode()
    sender.sendall(_LENGTH.pack(len(encoded)) + encoded)
    if header["ok"] and array is not None:
        sender.sendall(_LENGTH.pack(array.nbytes))
        sender.sendall(memoryview(array).cast("B"))
    sender.close()
