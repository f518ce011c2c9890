"""Streamlit caches for the Layers and LoRA page.

Two kinds:

- ``st.cache_data`` for pure functions of small hashable inputs (a generated weight and its SVD, an
  uploaded file's SVD keyed by its bytes, a rank sweep, the forward timings). A hit returns a copy.
- Trainings, which must drive an ``st.progress`` bar. A progress bar updated from inside a cached function
  would be recorded and replayed on a later hit in a place that no longer exists (Streamlit's
  CacheReplayClosureError), so a training runs *outside* the decorated function: ``st.cache_resource``
  keeps one small ``_Slot`` (a lock and a value) per key, and the first caller fills it while drawing
  its progress bar; every later rerun or session reads the same value. The slots are bounded by
  ``max_entries`` like any cache.

Cached models are shared by every session: they are read-only. Their parameters are frozen
(``requires_grad`` False) and every core call that changes a model (``compress_model``,
``finetune_full``, ``finetune_lora``, ``apply_lora``) works on a deep copy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st
import torch
from torch import Tensor

from lowrank_core import sources
from lowrank_core.errors import TooLargeError
from lowrank_core.factorize import Factorization, choose_device, factorize
from lowrank_core.layers import (
    LayerReport,
    compress_model,
    derived_seed,
    sample_inputs,
    weight_spectra,
)
from lowrank_core.timing import ForwardTiming, time_forward
from lowrank_core.training import (
    DeltaSpectrum,
    DigitsSplit,
    SweepPoint,
    TrainResult,
    accuracy,
    compression_sweep,
    delta_spectrum,
    finetune_full,
    finetune_lora,
    parameter_count,
    split_digits,
    train_mlp,
)
from ui.limits import CACHE_ENTRIES, LAB_MAX_ENTRIES, LAB_MAX_UPLOAD_SIDE, LAYER_MAX_UPLOAD_MB
from ui.text import format_bytes

__all__ = [
    "MODEL_SEED",
    "LORA_RANKS",
    "LORA_SEEDS",
    "SWEEP_RANKS",
    "TIMING_SIZE",
    "TIMING_RANK",
    "TIMING_RANKS",
    "TIMING_BATCH",
    "LabWeight",
    "lab_weight",
    "digits_split",
    "trained_model",
    "full_finetune",
    "lora_finetune",
    "generated_weight",
    "uploaded_weight",
    "trained_weight",
    "lab_inputs",
    "rank_sweep",
    "trained_spectra",
    "CompressedSummary",
    "compressed_summary",
    "finetune_spectra",
    "forward_timings",
]

MODEL_SEED = 0  # seeds the split, the MLP's init and its batches
LORA_RANKS = (1, 2, 4, 8)
# Fine-tune seeds (the adapters' initialisation and the batch order; the base network, the split and the 449
# test images stay those of MODEL_SEED): a method's accuracy is shown as its spread over these, not one draw.
LORA_SEEDS = (0, 1, 2, 3, 4)
SWEEP_RANKS = tuple(range(1, 65))  # every rank of the 64-wide layers
TIMING_SIZE = 4096  # the square layer timed on the page: large enough for the factored form to matter
TIMING_RANK = 64
TIMING_RANKS = (64, 256, 512, 1024, 2048, 3072)  # the break-even of 4096×4096 is 2048 in FLOPs
TIMING_BATCH = 64
TIMING_MIN_RUN_TIME = 0.2  # seconds per measurement (torch.utils.benchmark.blocked_autorange)
TIMING_THREADS = 1  # one thread: stable when the server's cores are shared (see time_forward)


class _Slot:
    """One cached value filled once under a lock (the value is shared by every session)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.value = None


@st.cache_resource(max_entries=CACHE_ENTRIES["layer_slot"], show_spinner=False)
def _slot(kind: str, key: tuple) -> _Slot:
    """The shared slot for one training result; cheap to create, filled by ``_once``."""
    return _Slot()


def _once(kind: str, key: tuple, compute: Callable[[], object]):
    """The slot's value, computing it on first use (other callers wait for the lock)."""
    slot = _slot(kind, key)
    with slot.lock:
        if slot.value is None:
            slot.value = compute()
        return slot.value


def _freeze(result: TrainResult) -> TrainResult:
    """Make a cached model read-only: eval mode, no parameter requires a gradient."""
    result.model.eval()
    for parameter in result.model.parameters():
        parameter.requires_grad_(False)
    return result


@st.cache_data(max_entries=CACHE_ENTRIES["layer_small"], show_spinner=False)
def digits_split(seed: int = MODEL_SEED) -> DigitsSplit:
    """The seeded train/test split of the digits (1348 / 449 images)."""
    return split_digits(seed=seed)


def trained_model(progress: Callable[[float], None] | None = None, *, seed: int = MODEL_SEED) -> TrainResult:
    """The 64 → 128 → 64 → 10 MLP trained on the digits (first call trains, about a second)."""
    split = digits_split(seed)
    device = str(choose_device())
    return _once("mlp", (seed, device),
                 lambda: _freeze(train_mlp(split, seed=seed, device=device, progress=progress)))


def full_finetune(progress: Callable[[float], None] | None = None, *, seed: int = MODEL_SEED,
                  finetune_seed: int | None = None) -> TrainResult:
    """The MLP (of ``seed``) fine-tuned with every parameter on the mirrored digits; ``finetune_seed``
    (default ``seed``) seeds the fine-tune's batch order."""
    base = trained_model(seed=seed).model
    shifted = digits_split(seed).mirrored()
    device = str(choose_device())
    tune = seed if finetune_seed is None else int(finetune_seed)
    return _once("full", (seed, tune, device),
                 lambda: _freeze(finetune_full(base, shifted, seed=tune, progress=progress)))


def lora_finetune(rank: int, progress: Callable[[float], None] | None = None, *,
                  seed: int = MODEL_SEED, finetune_seed: int | None = None) -> TrainResult:
    """LoRA adapters of ``rank`` on the frozen MLP (of ``seed``), trained on the mirrored digits;
    ``finetune_seed`` (default ``seed``) seeds the adapters' initialisation and the batch order."""
    base = trained_model(seed=seed).model
    shifted = digits_split(seed).mirrored()
    device = str(choose_device())
    tune = seed if finetune_seed is None else int(finetune_seed)
    return _once("lora", (int(rank), seed, tune, device),
                 lambda: _freeze(finetune_lora(base, int(rank), shifted, seed=tune, progress=progress)))


@dataclass(frozen=True)
class LabWeight:
    """A weight for the layer lab with its SVD: weight (out, in), bias (out,), all on the CPU."""

    weight: Tensor
    bias: Tensor
    factorization: Factorization
    notices: tuple[str, ...] = ()


def _seeded_bias(out_features: int, seed: int) -> Tensor:
    """A small random bias (it cancels in z − z_r; it is there to show that it does), from its own stream."""
    generator = torch.Generator().manual_seed(derived_seed(seed, "bias"))
    return 0.1 * torch.randn(out_features, generator=generator)


def _lab_weight(weight: Tensor, bias: Tensor, notices: tuple[str, ...] = ()) -> LabWeight:
    """SVD on the chosen device, everything returned on the CPU."""
    factorization = factorize(weight, method="exact", device=choose_device()).to("cpu")
    return LabWeight(weight.float().cpu(), bias.float().cpu(), factorization, notices)


@st.cache_data(max_entries=CACHE_ENTRIES["layer_weight"], show_spinner="Factorizing the weight…")
def generated_weight(kind: str, out_features: int, in_features: int, k: int, seed: int) -> LabWeight:
    """A generated weight: "random" (full rank, ``sources.random_full_rank``) or "low_rank" (the notebook's
    ``rand(m, k) @ rand(k, n)``, ``sources.notebook_matrix``), with a seeded bias."""
    if kind == "random":
        weight = sources.random_full_rank(out_features, in_features, seed=seed)
    elif kind == "low_rank":
        weight = sources.notebook_matrix(out_features, in_features, k, seed=seed)
    else:
        raise ValueError(f"unknown generated weight {kind!r}")
    return _lab_weight(weight, _seeded_bias(out_features, seed))


@st.cache_data(max_entries=CACHE_ENTRIES["layer_upload"], show_spinner="Reading and factorizing the upload…")
def uploaded_weight(data: bytes, name: str) -> LabWeight:
    """An uploaded .npy / .pt weight read safely by ``sources.load_matrix`` (no pickle), with a seeded
    bias. Raises ``InputError`` (or ``TooLargeError`` above the size limits)."""
    loaded = sources.load_matrix(data, name=name, max_entries=LAB_MAX_ENTRIES)
    weight = loaded.values  # (out, in)
    if max(weight.shape) > LAB_MAX_UPLOAD_SIDE:
        raise TooLargeError(f"the weight is {weight.shape[0]}×{weight.shape[1]}; this lab takes at most "
                            f"{LAB_MAX_UPLOAD_SIDE} rows or columns")
    return _lab_weight(weight, _seeded_bias(weight.shape[0], 0), tuple(loaded.notices))


@st.cache_data(max_entries=CACHE_ENTRIES["layer_small"], show_spinner="Factorizing the trained layer…")
def trained_weight(layer: str, seed: int = MODEL_SEED) -> LabWeight:
    """One trained layer's weight and bias (the MLP must already be trained: call ``trained_model``)."""
    linear = trained_model(seed=seed).model.get_submodule(layer)
    return _lab_weight(linear.weight.detach().clone(), linear.bias.detach().clone())


def lab_weight(source) -> LabWeight:
    """The lab's weight for a ``ui.layer.inputs.LabSource``: generated, a trained layer, or an upload."""
    if source.kind in ("random", "low_rank"):
        return generated_weight(source.kind, source.out_features, source.in_features, source.k, source.seed)
    if source.kind == "trained":
        return trained_weight(source.layer)
    if len(source.data) > LAYER_MAX_UPLOAD_MB * 1_000_000:  # before the cache hashes the bytes
        raise TooLargeError(  # in decimal megabytes, as the uploader shows the file's size
            f"The file {source.name!r} is {format_bytes(len(source.data))}; the layer lab takes one weight "
            f"of at most {LAYER_MAX_UPLOAD_MB} MB. A model file with several weights opens in the Checkpoint "
            "inspector (link above)."
        )
    return uploaded_weight(source.data, source.name)


@st.cache_data(max_entries=CACHE_ENTRIES["layer_inputs"], show_spinner=False)
def lab_inputs(batch: int, in_features: int, seed: int) -> Tensor:
    """The seeded batch of standard normal inputs x, shape (batch, in)."""
    return sample_inputs(batch, in_features, seed=seed)


@st.cache_data(max_entries=CACHE_ENTRIES["layer_small"], show_spinner="Sweeping the rank of each layer…")
def rank_sweep(seed: int = MODEL_SEED) -> list[SweepPoint]:
    """Test accuracy at every rank 1..64, for each layer alone and all together."""
    model = trained_model(seed=seed).model
    split = digits_split(seed)
    return compression_sweep(model, split.X_test, split.y_test, SWEEP_RANKS)


@st.cache_data(max_entries=CACHE_ENTRIES["layer_small"], show_spinner=False)
def trained_spectra(seed: int = MODEL_SEED) -> dict[str, Tensor]:
    """Singular values of each trained weight (float64), by layer name."""
    return weight_spectra(trained_model(seed=seed).model)


@dataclass(frozen=True)
class CompressedSummary:
    """The trained MLP compressed with one setting: its test accuracy, parameter count and layer reports."""

    accuracy: float
    parameters: int
    reports: tuple[LayerReport, ...]


@st.cache_data(max_entries=CACHE_ENTRIES["layer_summary"], show_spinner=False)
def compressed_summary(*, rank: int | None = None, energy: float | None = None,
                       seed: int = MODEL_SEED) -> CompressedSummary:
    """``compress_model`` of the trained MLP (a copy; dense fallback on) with a rank or an energy target."""
    compressed, reports = compress_model(trained_model(seed=seed).model, rank=rank, energy=energy)
    split = digits_split(seed)
    return CompressedSummary(accuracy(compressed, split.X_test, split.y_test), parameter_count(compressed),
                             tuple(reports))


@st.cache_data(max_entries=CACHE_ENTRIES["layer_small"], show_spinner=False)
def finetune_spectra(seed: int = MODEL_SEED) -> list[DeltaSpectrum]:
    """Spectra of W_base and of ΔW = W_full_finetune − W_base per layer (energy-90 % ranks)."""
    base = trained_model(seed=seed).model
    tuned = full_finetune(seed=seed).model
    return delta_spectrum(base, tuned, energy=0.9)


@st.cache_data(max_entries=CACHE_ENTRIES["layer_timing"], show_spinner="Timing dense and factored layers…")
def forward_timings(device: str) -> list[ForwardTiming]:
    """Forward times of a 4096×4096 dense layer and of LowRankLinear at ``TIMING_RANKS``, batch 64."""
    return time_forward(TIMING_SIZE, TIMING_SIZE, TIMING_RANKS, batch=TIMING_BATCH, device=device,
                        min_run_time=TIMING_MIN_RUN_TIME, threads=TIMING_THREADS)
