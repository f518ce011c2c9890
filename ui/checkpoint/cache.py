"""Streamlit caches of the checkpoint page: the read file, its inspection, one weight's curves, timings,
allocations, the factored export and the digits accuracy study.

- A read checkpoint holds its tensors (up to 256 MB), so it is an ``st.cache_resource`` shared read-only by
  every session (``CACHE_ENTRIES["checkpoint_file"]`` entries, dropped after ``CHECKPOINT_TTL_SECONDS``),
  keyed by the file's SHA-256 (``ui.checkpoint.inputs``), never by hashing the bytes on each rerun.
- The inspection (one SVD per weight) draws a progress bar, which a cached function cannot (Streamlit would
  replay it where it no longer exists), so it runs outside any decorator and its result is kept on a small
  shared ``Shelf`` (least recently used dropped first). The finished digits study is kept the same way.
- One weight's curves, the timings and the allocations are small: ``st.cache_data`` by the file's key.
- The digits study (about ten seconds or more on two cores) runs on the background job board
  (``ui.jobs``), once per server, when someone asks for it.

Every object returned here is shared: callers never modify a checkpoint or its tensors.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future

import safetensors.torch
import streamlit as st

from lowrank_core.allocation import Allocation, LayerSpectrum, compare_allocations
from lowrank_core.budget_study import BudgetStudy, digits_budget_study
from lowrank_core.checkpoint import (
    Checkpoint,
    CheckpointInspection,
    ExportedCheckpoint,
    WeightDetail,
    export_factored,
    inspect_checkpoint,
    layer_inputs,
    read_checkpoint,
    weight_timing,
)
from lowrank_core.checkpoint import weight_detail as core_weight_detail
from lowrank_core.factorize import choose_device
from lowrank_core.timing import ForwardTiming
from ui.jobs import job_board
from ui.layer.cache import trained_model
from ui.limits import (
    CACHE_ENTRIES,
    CHECKPOINT_TIMING_BATCH,
    CHECKPOINT_TTL_SECONDS,
    STUDY_FINETUNE_EPOCHS,
    STUDY_FRACTIONS,
    STUDY_SEEDS,
)

__all__ = [
    "EXAMPLE_KEY",
    "EXAMPLE_NAME",
    "Shelf",
    "example_checkpoint",
    "example_bytes",
    "uploaded_checkpoint",
    "inspection",
    "weight_detail",
    "timings",
    "allocations",
    "exported",
    "study_key",
    "start_study",
    "study_result",
]

EXAMPLE_KEY = "example:digits-mlp"
EXAMPLE_NAME = "digits_mlp.safetensors"


class Shelf:
    """Finished results by key, shared by every session; beyond ``size`` the least recently used goes."""

    def __init__(self, size: int):
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, object] = OrderedDict()
        self._size = int(size)

    def get(self, key: Hashable):
        """The result under ``key``, or None."""
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value) -> None:
        """Keep ``value`` under ``key``."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


@st.cache_resource(show_spinner=False)
def _shelf(kind: str) -> Shelf:
    """The process-wide shelf of one kind of result."""
    return Shelf(CACHE_ENTRIES[kind])


# ============================================================================================== the file


@st.cache_resource(max_entries=CACHE_ENTRIES["checkpoint_file"], ttl=CHECKPOINT_TTL_SECONDS,
                   show_spinner="Reading the checkpoint…")
def _read(key: str, name: str, _data: Callable[[], bytes]) -> Checkpoint:
    """The checkpoint under ``key``, read from ``_data()`` on a miss (refusals raise and are not cached)."""
    return read_checkpoint(_data(), name=name)


def example_bytes(progress: Callable[[float], None] | None = None) -> bytes:
    """The digits MLP (``ui.layer.cache.trained_model``, trained once per server) as a .safetensors file."""
    model = trained_model(progress).model
    return safetensors.torch.save({name: tensor.detach().contiguous()
                                   for name, tensor in model.state_dict().items()})


def example_checkpoint(progress: Callable[[float], None] | None = None) -> Checkpoint:
    """The built-in example, read through the same path as an upload."""
    data = example_bytes(progress)  # trains first, outside the cached function (its progress bar)
    return _read(EXAMPLE_KEY, EXAMPLE_NAME, lambda: data)


def uploaded_checkpoint(key: str, name: str, data: Callable[[], bytes]) -> Checkpoint:
    """An upload, read once per content key. Raises ``InputError`` for a file that cannot be used."""
    return _read(key, name, data)


def inspection(key: str, checkpoint: Checkpoint,
               progress: Callable[[float], None] | None = None) -> CheckpointInspection:
    """Every weight summarised (``inspect_checkpoint``: one SVD each), once per content key."""
    shelf = _shelf("checkpoint_inspection")
    found = shelf.get(key)
    if found is None:
        found = inspect_checkpoint(checkpoint, progress=progress)
        shelf.put(key, found)
    return found


# ============================================================================================ one weight


@st.cache_data(max_entries=CACHE_ENTRIES["checkpoint_detail"], show_spinner="Measuring its errors at about "
               "40 ranks…")
def weight_detail(key: str, name: str, _checkpoint: Checkpoint) -> WeightDetail:
    """One weight's spectrum and errors against rank, on the digits activations or random inputs."""
    inputs, source = layer_inputs(_checkpoint, name)
    return core_weight_detail(name, _checkpoint.tensors[name], bias=_checkpoint.bias(name), inputs=inputs,
                              inputs_source=source)


@st.cache_data(max_entries=CACHE_ENTRIES["checkpoint_timing"], show_spinner="Timing the dense and factored "
               "layers at this shape (a few seconds)…")
def timings(out_features: int, in_features: int, device: str) -> list[ForwardTiming]:
    """Dense against factored forward times at one weight's shape (``weight_timing``'s ranks)."""
    return weight_timing((out_features, in_features), batch=CHECKPOINT_TIMING_BATCH, device=device)


# ================================================================================================ budget


@st.cache_data(max_entries=CACHE_ENTRIES["checkpoint_allocation"], show_spinner="Sharing the budget…")
def allocations(key: str, fraction: float | None, budget_bytes: int | None, bytes_per_parameter: int,
                _spectra: list[LayerSpectrum]) -> dict[str, Allocation]:
    """Greedy, uniform and energy allocations at one budget (``compare_allocations``)."""
    return compare_allocations(_spectra, fraction=fraction, budget_bytes=budget_bytes,
                               bytes_per_parameter=bytes_per_parameter)


@st.cache_resource(max_entries=CACHE_ENTRIES["checkpoint_export"], ttl=CHECKPOINT_TTL_SECONDS,
                   show_spinner=False)
def exported(key: str, rank_pattern: tuple[tuple[str, int], ...],
             _checkpoint: Checkpoint) -> ExportedCheckpoint:
    """The checkpoint with the weights of ``rank_pattern`` factored (``export_factored``)."""
    return export_factored(_checkpoint, dict(rank_pattern))


# ============================================================================================ the study


def study_key() -> tuple:
    """The job board's key of the digits study with this app's settings, on this machine's device."""
    return ("checkpoint_study", STUDY_FRACTIONS, STUDY_SEEDS, STUDY_FINETUNE_EPOCHS, str(choose_device()))


def start_study() -> Future:
    """Queue the digits accuracy-against-budget study on the background thread (once per server)."""
    key = study_key()
    return job_board().submit(key, digits_budget_study, fractions=STUDY_FRACTIONS, seeds=STUDY_SEEDS,
                              finetune_epochs=STUDY_FINETUNE_EPOCHS, device=key[-1], keep=1)


def study_result() -> tuple[BudgetStudy | None, Future | None]:
    """(the finished study, or None; the job while it is queued or running, or None).

    A finished study moves to a shelf, so the board's short memory of finished jobs cannot lose it. A
    failed job is returned as the job (its exception says why).
    """
    key = study_key()
    shelf = _shelf("checkpoint_study")
    found = shelf.get(key)
    if found is not None:
        return found, None
    job = job_board().get(key)
    if job is not None and job.done() and not job.cancelled() and job.exception() is None:
        shelf.put(key, job.result())
        return job.result(), None
    return None, job
