"""Real checkpoints: read a model file, describe every weight's spectrum, and export it factored.

Reading (``read_checkpoint``): ``.safetensors`` through the ``safetensors`` library, and ``torch.save`` files
(``.pt``, ``.pth``, ``.bin``) through ``torch.load(..., weights_only=True, map_location="cpu")`` after the
zip's inflated size was checked; never pickle. The format is told from the bytes, not the name. Nested
dictionaries (``{"model": {"fc": {"weight": ...}}}``) are flattened to dotted names (``model.fc.weight``).

Candidates: every floating-point tensor (float16, bfloat16, float32, float64) with at least two dimensions
whose sides are both at least 2, a conv kernel (out, in, kh, kw) being the matrix (out, in·kh·kw). A weight
over a limit (``CheckpointLimits``) or with NaN/infinity is listed in ``Checkpoint.skipped`` with its reason;
only an unreadable file is an error.

Inspecting (``inspect_checkpoint``): per weight, its numerical rank, stable rank ‖W‖_F²/‖W‖_2², the ranks
for 90 % and 99 % of the energy, the optimal-hard-threshold rank and the break-even rank mn/(m + n), from
an exact SVD up to ``EXACT_MAX_ENTRIES`` entries and a randomized one of ``RANDOMIZED_RANK`` triplets above
(as the image page does; the leading 256 of 512 computed, for accuracy); ``WeightSummary.method`` says
which. ``weight_detail`` gives one weight's spectrum, energy and measured relative error against rank
beside Eckart–Young's prediction, and the output error on inputs (the digits MLP's own activations when the
file is that model, random inputs otherwise); ``weight_timing`` the dense and factored forward time at the
weight's own shape.

Exporting (``export_factored``): a ``.safetensors`` holding ``NAME.a`` (out × r) and ``NAME.b`` (r × in·kh·kw)
for each factored weight, every other tensor unchanged under its own name, and ``__metadata__`` recording
each factored weight's original shape and rank (``FACTORED_METADATA_KEY``) and the ``rank_pattern``.
``load_factored`` reads such a file back into an ``nn.Module`` with ``LowRankLinear`` layers.
"""

from __future__ import annotations

import copy
import io
import json
import math
import pickle
import struct
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import safetensors
import safetensors.torch
import torch
from torch import Tensor, nn

from . import time_forward  # from the package top level: it moves from layers.py to timing.py
from .allocation import Allocation, LayerSpectrum
from .budget import break_even_rank
from .errors import (
    EmptyInputError,
    InputError,
    LowRankError,
    RankError,
    TooLargeError,
    UnsafeFileError,
    UnsupportedFormatError,
)
from .factorize import Factorization, choose_device, factorize
from .layers import LowRankLinear, derived_seed
from .rank import optimal_hard_threshold_rank, rank_for_energy
from .training import DIGITS_CLASSES, DIGITS_FEATURES, split_digits

__all__ = [
    "CheckpointError",
    "CheckpointLimits",
    "DEFAULT_CHECKPOINT_LIMITS",
    "CHECKPOINT_EXTENSIONS",
    "CANDIDATE_DTYPES",
    "EXACT_MAX_ENTRIES",
    "RANDOMIZED_RANK",
    "RANDOMIZED_OVERSAMPLING",
    "FACTORED_METADATA_KEY",
    "RANK_PATTERN_METADATA_KEY",
    "FORMAT_METADATA_KEY",
    "EXPORT_FORMAT",
    "SkippedWeight",
    "Checkpoint",
    "read_checkpoint",
    "WeightSummary",
    "CheckpointInspection",
    "inspect_checkpoint",
    "inspect_weight",
    "curve_ranks",
    "WeightDetail",
    "weight_detail",
    "layer_inputs",
    "digits_mlp_activations",
    "weight_timing",
    "ExportedLayer",
    "ExportedCheckpoint",
    "export_factored",
    "rank_pattern_json",
    "FactoredModule",
    "load_factored",
]

CHECKPOINT_EXTENSIONS = (".safetensors", ".pt", ".pth", ".bin")
CANDIDATE_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
EXACT_MAX_ENTRIES = 2_500_000
"""Weights of at most this many entries get the exact SVD (1024×1024 and 1536×1536 do; 2048×2048 does not),
the image page's threshold; larger ones a randomized SVD of ``RANDOMIZED_RANK`` triplets."""
RANDOMIZED_RANK = 256
"""Singular triplets a randomized SVD keeps."""
RANDOMIZED_OVERSAMPLING = 2
"""The randomized SVD computes this many times ``RANDOMIZED_RANK`` triplets and keeps the leading ones: on a
2048×2048 weight of flat spectrum (stable rank ~200) the largest relative error of the 256 kept values falls
from 5.5 % (256 computed) to 0.13 % (512 computed), for 2.3 times the time, still a fraction of the exact
SVD's."""
FACTORED_METADATA_KEY = "lowrank_core.factored"
"""``__metadata__`` key of an export: JSON {name: {"shape": [...], "rank": r, "dtype": "float32"}}."""
RANK_PATTERN_METADATA_KEY = "lowrank_core.rank_pattern"
"""``__metadata__`` key of an export: JSON {name: rank}."""
FORMAT_METADATA_KEY = "lowrank_core.format"
EXPORT_FORMAT = "factored-v1"
MAX_SAFETENSORS_HEADER_BYTES = 100_000_000  # the safetensors library's own limit
_MAX_DEPTH = 32  # nesting of dictionaries and lists in a torch.save file
_ZIP_MAGIC = b"PK\x03\x04"
_ZIP_OVERHEAD_BYTES = 1 << 16  # data.pkl, version, byteorder, alignment... beside the tensors
_ZIP_EXTRA_ENTRIES = 64
_MAX_LISTED = 5  # names quoted in a message


class CheckpointError(InputError):
    """A model file that cannot be read as a checkpoint (corrupt, truncated, an unknown layout...)."""


@dataclass(frozen=True)
class CheckpointLimits:
    """Sizes a checkpoint may have.

    Attributes
    ----------
    max_file_bytes : int
        Larger files are refused unread (256 MiB: a 4096×4096 float32 weight is 64 MiB).
    max_tensors : int
        Files holding more tensors are refused (checked from the header or the zip's directory).
    max_weights : int
        Candidate weights analysed; later ones are skipped with the reason.
    max_weight_entries : int
        A candidate of more entries is skipped (default 4096·4096).
    max_total_entries : int
        Entries of all analysed candidates together; once reached, later candidates are skipped.
    """

    max_file_bytes: int = 256 * 2**20
    max_tensors: int = 10_000
    max_weights: int = 1_000
    max_weight_entries: int = 4096 * 4096
    max_total_entries: int = 64 * 2**20

    def __post_init__(self):
        for name in ("max_file_bytes", "max_tensors", "max_weights", "max_weight_entries",
                     "max_total_entries"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LowRankError(f"{name} must be a whole number >= 1; got {value!r}")


DEFAULT_CHECKPOINT_LIMITS = CheckpointLimits()


@dataclass(frozen=True)
class SkippedWeight:
    """A tensor with the shape of a weight that is not analysed, and why."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    reason: str


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """The tensors of a model file and which of them are weights to study.

    Attributes
    ----------
    name : str
        The file's name, for messages.
    source_format : {"safetensors", "torch"}
    tensors : dict of str to Tensor
        Every tensor by its flattened name, on the CPU, in its own dtype: in the order of a torch file's
        dicts, and in natural order of the names for safetensors (``layers.2`` before ``layers.10``).
    weights : tuple of str
        Names of the candidate weights accepted for analysis, in the order of ``tensors``.
    skipped : tuple of SkippedWeight
        Tensors shaped like weights that are not analysed (over a limit, not floating point, not finite).
    metadata : dict of str to str
        The safetensors ``__metadata__`` ({} for torch files).
    notices : tuple of str
    """

    name: str
    source_format: str
    tensors: dict[str, Tensor]
    weights: tuple[str, ...]
    skipped: tuple[SkippedWeight, ...]
    metadata: dict[str, str] = field(default_factory=dict)
    notices: tuple[str, ...] = ()

    def matrix(self, name: str) -> Tensor:
        """The weight ``name`` as the matrix that is factored: (out, in·kh·kw), its own dtype."""
        if name not in self.tensors:
            raise LowRankError(f"{self.name!r} holds no tensor named {name!r}")
        tensor = self.tensors[name]
        if tensor.dim() < 2:
            raise LowRankError(f"{name!r} has shape {tuple(tensor.shape)}; a weight has 2 or more dimensions")
        return tensor.reshape(tensor.shape[0], -1)

    def bias(self, name: str) -> Tensor | None:
        """The bias beside weight ``name`` (``PREFIX.bias`` for ``PREFIX.weight``, shape (out,)), or None."""
        if not name.endswith(".weight"):
            return None
        bias = self.tensors.get(name.removesuffix(".weight") + ".bias")
        out = self.matrix(name).shape[0]
        if bias is None or tuple(bias.shape) != (out,) or not bias.is_floating_point():
            return None
        return bias


# ============================================================================================== reading


def _quote(value: str, limit: int = 60) -> str:
    """A name for a message, shortened."""
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _mebibytes(size: int) -> str:
    """A byte count as '12.3 MB' (MiB)."""
    return f"{size / 2**20:.1f} MB"


def read_checkpoint(data: bytes, *, name: str = "checkpoint",
                    limits: CheckpointLimits = DEFAULT_CHECKPOINT_LIMITS) -> Checkpoint:
    """Read a ``.safetensors`` or ``torch.save`` state dict from its bytes, never unpickling.

    Parameters
    ----------
    data : bytes
        The file's content; its format is told from the bytes (a zip is torch, an 8-byte length and a JSON
        header is safetensors).
    name : str
        The file's name, for messages.
    limits : CheckpointLimits

    Returns
    -------
    Checkpoint

    Raises
    ------
    EmptyInputError, TooLargeError, UnsafeFileError, UnsupportedFormatError, CheckpointError
        An empty, too large, pickled, unknown or corrupt file; each message names the file and the problem.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise LowRankError(f"expected the file's bytes; got {type(data).__name__}")
    data = bytes(data)
    label = f"The file {_quote(name)}"
    if not data:
        raise EmptyInputError(f"{label} is empty (0 bytes).")
    if len(data) > limits.max_file_bytes:
        raise TooLargeError(f"{label} is {_mebibytes(len(data))}; the limit for a checkpoint is "
                            f"{_mebibytes(limits.max_file_bytes)}.")
    if data.startswith(_ZIP_MAGIC):
        tensors, notices = _read_torch(data, label, limits)
        source_format, metadata = "torch", {}
    elif len(data) >= 9 and data[8:9] == b"{":
        tensors, metadata = _read_safetensors(data, label, limits)
        source_format, notices = "safetensors", []
    elif data[:1] == b"\x80" or data[:2] in (b"(d", b"}q", b"(l"):  # a bare pickle (protocol 2+, or 0/1)
        raise UnsafeFileError(
            f"{label} is a bare Python pickle (torch.save before PyTorch 1.6, or pickle.dump); it is "
            "refused because loading it could run code. Save it with a current torch.save or as .safetensors."
        )
    else:
        raise UnsupportedFormatError(
            f"{label} is neither a .safetensors file nor a torch.save zip (.pt, .pth, .bin)."
        )
    weights, skipped, more = _candidates(tensors, limits)
    return Checkpoint(name=str(name), source_format=source_format, tensors=tensors, weights=weights,
                      skipped=skipped, metadata=metadata, notices=tuple([*notices, *more]))


def _read_safetensors(data: bytes, label: str, limits: CheckpointLimits) -> tuple[dict, dict]:
    """Tensors and ``__metadata__`` of a safetensors file; its header is checked before any tensor is made."""
    (header_size,) = struct.unpack("<Q", data[:8])
    if header_size > MAX_SAFETENSORS_HEADER_BYTES or 8 + header_size > len(data):
        raise CheckpointError(f"{label} claims a safetensors header of {header_size:,} bytes, but holds "
                              f"{len(data):,} bytes in all; it is truncated or not a safetensors file.")
    try:
        header = json.loads(data[8:8 + header_size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{label} has a safetensors header that is not valid JSON ({err}).") from err
    if not isinstance(header, dict):
        raise CheckpointError(f"{label} has a safetensors header that is not a JSON object.")
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError(f"{label} has a __metadata__ that is not a table of strings.")
    names = [key for key in header if key != "__metadata__"]
    if len(names) > limits.max_tensors:
        raise TooLargeError(f"{label} holds {len(names):,} tensors; the limit is {limits.max_tensors:,}.")
    try:
        loaded = safetensors.torch.load(data)
    except (safetensors.SafetensorError, ValueError, TypeError, KeyError, RuntimeError) as err:
        raise CheckpointError(f"{label} could not be read as safetensors ({err}).") from err
    ordered = sorted((key for key in names if key in loaded), key=_natural_key)
    return {key: loaded[key] for key in ordered}, dict(metadata)


def _natural_key(name: str) -> tuple:
    """Sort key putting ``layers.2`` before ``layers.10`` (a safetensors header's order means nothing)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in name.split("."))


def _read_torch(data: bytes, label: str, limits: CheckpointLimits) -> tuple[dict, list[str]]:
    """Tensors of a torch.save zip by ``torch.load(weights_only=True)``, once the zip's directory passed."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:  # refuse a zip bomb before torch inflates it
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise CheckpointError(f"{label} is a damaged zip archive ({err}).") from err
    inflated = sum(entry.file_size for entry in entries)
    if inflated > limits.max_file_bytes + _ZIP_OVERHEAD_BYTES:
        raise TooLargeError(f"{label} inflates to {_mebibytes(inflated)}; the limit for a checkpoint is "
                            f"{_mebibytes(limits.max_file_bytes)}.")
    if len(entries) > limits.max_tensors + _ZIP_EXTRA_ENTRIES:
        raise TooLargeError(f"{label} holds {len(entries):,} stored arrays; the limit is "
                            f"{limits.max_tensors:,} tensors.")
    try:
        loaded = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as err:
        raise UnsafeFileError(
            f"{label} contains Python objects other than tensors and plain containers; it is refused because "
            "loading it could run code."
        ) from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, KeyError, OSError) as err:
        if "weights_only" in str(err).lower() or "weights only" in str(err).lower():
            raise UnsafeFileError(f"{label} needs full unpickling to load; it is refused.") from err
        raise CheckpointError(f"{label} could not be read by torch.load ({err}).") from err
    tensors: dict[str, Tensor] = {}
    ignored: list[str] = []
    _flatten(loaded, "", tensors, ignored, label, depth=0)
    if len(tensors) > limits.max_tensors:
        raise TooLargeError(f"{label} holds {len(tensors):,} tensors; the limit is {limits.max_tensors:,}.")
    if not tensors:
        raise CheckpointError(f"{label} holds no tensor.")
    notices = []
    if ignored:
        listed = ", ".join(_quote(n) for n in ignored[:_MAX_LISTED])
        more = f" and {len(ignored) - _MAX_LISTED} more" if len(ignored) > _MAX_LISTED else ""
        notices.append(f"{len(ignored)} value(s) that are not tensors were ignored ({listed}{more}).")
    if isinstance(loaded, Tensor):
        notices.append("The file holds a single tensor; it is named 'weight'.")
    return tensors, notices


def _flatten(value, prefix: str, tensors: dict, ignored: list, label: str, *, depth: int) -> None:
    """Collect the tensors of nested dicts, lists and tuples under dotted names."""
    if depth > _MAX_DEPTH:
        raise CheckpointError(f"{label} nests dictionaries more than {_MAX_DEPTH} levels deep.")
    if isinstance(value, Tensor):
        key = prefix or "weight"
        if key in tensors:
            raise CheckpointError(f"{label} names two tensors {_quote(key)} once nested names are joined "
                                  "with dots.")
        tensors[key] = value.detach()
        return
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        ignored.append(prefix or "(top level)")
        return
    for key, item in items:
        name = f"{prefix}.{key}" if prefix else str(key)
        _flatten(item, name, tensors, ignored, label, depth=depth + 1)


def _candidates(tensors: dict[str, Tensor], limits: CheckpointLimits):
    """(weights, skipped, notices): which weight-shaped tensors are analysed, and why the others are not."""
    weights, skipped, notices = [], [], []
    total = 0
    for name, tensor in tensors.items():
        shape = tuple(tensor.shape)
        if len(shape) < 2 or shape[0] < 2 or math.prod(shape[1:]) < 2:
            continue  # a bias, a norm's scale, a scalar: stays as it is
        entries = math.prod(shape)
        dtype = str(tensor.dtype).removeprefix("torch.")
        reason = None
        if tensor.layout != torch.strided or tensor.is_quantized:
            reason = "sparse or quantized tensors are not analysed"
        elif tensor.dtype not in CANDIDATE_DTYPES:
            reason = f"{dtype} is not float16, bfloat16, float32 or float64"
        elif len(weights) >= limits.max_weights:
            reason = f"only the first {limits.max_weights:,} weights are analysed"
        elif entries > limits.max_weight_entries:
            reason = (f"{entries:,} entries; the limit for one weight is {limits.max_weight_entries:,} "
                      "(4096×4096 by default)")
        elif total + entries > limits.max_total_entries:
            reason = (f"the weights before it already hold {total:,} entries; the limit for all weights "
                      f"together is {limits.max_total_entries:,}")
        elif not bool(torch.isfinite(tensor).all()):
            reason = "it holds NaN or infinite values"
        elif tensor.dtype == torch.float64 and float(tensor.abs().max()) > torch.finfo(torch.float32).max:
            reason = "its values overflow float32, the precision of the SVD here (about ±3.4e38)"
        if reason is None:
            weights.append(name)
            total += entries
        else:
            skipped.append(SkippedWeight(name=name, shape=shape, dtype=dtype, reason=reason))
    if not weights:
        notices.append("No tensor has the shape of a weight that can be factored (2 or more dimensions, "
                       "both sides at least 2, floating point).")
    return tuple(weights), tuple(skipped), notices


# ============================================================================================ inspecting


@dataclass(frozen=True, eq=False)
class WeightSummary:
    """One weight's row in the checkpoint table.

    Attributes
    ----------
    name : str
    shape : tuple of int
        As stored (a conv kernel keeps its 4 dimensions).
    matrix_shape : (m, n)
        As factored: (out, in·kh·kw).
    dtype : str
    parameters : int
        m·n.
    method : {"exact", "randomized"}
        The SVD that ran.
    S : Tensor of shape (k,)
        Singular values, float64 on the CPU, descending; k = min(m, n) (exact) or RANDOMIZED_RANK.
    frobenius_norm, spectral_norm : float
        ‖W‖_F and σ₁.
    numerical_rank : int
        Singular values above ``torch.linalg.matrix_rank``'s tolerance for float32 (eps · max(m, n) · σ₁).
    numerical_rank_lower_bound : bool
        True when a randomized SVD's k values were all above the tolerance: the rank is at least this.
    stable_rank : float
        ‖W‖_F² / σ₁² (between 1 and the rank).
    rank_energy_90, rank_energy_99 : int or None
        Smallest ranks keeping 90 % and 99 % of ‖W‖_F²; None when a randomized SVD's k values fall short.
    optimal_hard_threshold_rank : int or None
        Gavish–Donoho with the noise estimated (needs the full spectrum: None after a randomized SVD).
    break_even_rank : float
        mn / (m + n): the factors hold fewer numbers only below it.
    """

    name: str
    shape: tuple[int, ...]
    matrix_shape: tuple[int, int]
    dtype: str
    parameters: int
    method: str
    S: Tensor
    frobenius_norm: float
    spectral_norm: float
    numerical_rank: int
    numerical_rank_lower_bound: bool
    stable_rank: float
    rank_energy_90: int | None
    rank_energy_99: int | None
    optimal_hard_threshold_rank: int | None
    break_even_rank: float

    @property
    def total_energy(self) -> float:
        """‖W‖_F²."""
        return self.frobenius_norm**2

    def spectrum(self) -> LayerSpectrum:
        """This weight as the allocation sees it."""
        return LayerSpectrum(self.name, self.matrix_shape, self.S, self.total_energy)

    def row(self) -> dict:
        """The table row as plain values (JSON-ready; None where unknown)."""
        return {
            "name": self.name, "shape": list(self.shape), "matrix_shape": list(self.matrix_shape),
            "dtype": self.dtype, "parameters": self.parameters, "method": self.method,
            "singular_values_computed": int(self.S.numel()), "numerical_rank": self.numerical_rank,
            "numerical_rank_lower_bound": self.numerical_rank_lower_bound,
            "stable_rank": self.stable_rank, "rank_energy_90": self.rank_energy_90,
            "rank_energy_99": self.rank_energy_99,
            "optimal_hard_threshold_rank": self.optimal_hard_threshold_rank,
            "break_even_rank": self.break_even_rank, "spectral_norm": self.spectral_norm,
            "frobenius_norm": self.frobenius_norm,
        }


@dataclass(frozen=True, eq=False)
class CheckpointInspection:
    """Every weight of a checkpoint summarised.

    Attributes
    ----------
    name, source_format : as in Checkpoint
    weights : tuple of WeightSummary
    skipped : tuple of SkippedWeight
    other_tensors : int
        Tensors that are not weights (biases, norms, buffers), kept unchanged by an export.
    notices : tuple of str
    """

    name: str
    source_format: str
    weights: tuple[WeightSummary, ...]
    skipped: tuple[SkippedWeight, ...]
    other_tensors: int
    notices: tuple[str, ...]

    def spectra(self) -> list[LayerSpectrum]:
        """The weights as the allocation sees them."""
        return [weight.spectrum() for weight in self.weights]

    @property
    def parameters(self) -> int:
        """Σ m·n over the analysed weights."""
        return sum(weight.parameters for weight in self.weights)


def _resolve_method(method: str, entries: int, limit: int, exact_max_entries: int,
                    randomized_rank: int = RANDOMIZED_RANK) -> str:
    """"exact" or "randomized" for a weight of ``entries`` whose smaller side is ``limit``.

    "auto" is exact up to ``exact_max_entries`` entries, and also when ``randomized_rank`` would not be well
    below the smaller side (more than a quarter of it), where a randomized SVD gains nothing.
    """
    if method not in ("auto", "exact", "randomized"):
        raise LowRankError(f"method must be 'auto', 'exact' or 'randomized'; got {method!r}")
    if method == "auto":
        return "exact" if entries <= exact_max_entries or limit < 4 * randomized_rank else "randomized"
    return method


def _singular_values(matrix: Tensor, *, method: str, randomized_rank: int,
                     device) -> tuple[Tensor, float, str]:
    """(S descending float64 on the CPU, ‖W‖_F², the method that ran) of one weight.

    The exact path computes singular values only (``torch.linalg.svdvals``: no vectors, several times
    faster than the full SVD), in float32 on ``device`` with a float64 retry if LAPACK does not converge;
    the randomized path is ``factorize(method="randomized")``.
    """
    if method != "exact":
        factorization = _factorize_weight(matrix, method=method, randomized_rank=randomized_rank,
                                          device=device)
        return factorization.S.double().cpu(), float(factorization.total_energy.cpu()), factorization.method
    x = matrix.to(device, torch.float32)  # (m, n)
    total = float(torch.linalg.vector_norm(x, dtype=torch.float64)) ** 2
    try:
        S = torch.linalg.svdvals(x)
    except torch.linalg.LinAlgError:
        S = torch.linalg.svdvals(x.double())
    return S.double().cpu(), total, "exact"


def _factorize_weight(matrix: Tensor, *, method: str, randomized_rank: int, device) -> Factorization:
    """The SVD of one weight (float32, on ``device``): exact, or the leading ``randomized_rank`` triplets of
    a randomized SVD of ``RANDOMIZED_OVERSAMPLING`` times as many."""
    if method == "exact":
        return factorize(matrix, method="exact", device=device)
    rank = max(1, min(int(randomized_rank), min(matrix.shape)))
    computed = min(RANDOMIZED_OVERSAMPLING * rank, min(matrix.shape))
    wide = factorize(matrix, method="randomized", max_rank=computed, device=device)
    return Factorization(wide.U[:, :rank].contiguous(), wide.S[:rank].contiguous(),
                         wide.Vh[:rank].contiguous(), wide.method, wide.total_energy)


def inspect_weight(name: str, tensor: Tensor, *, method: str = "auto",
                   exact_max_entries: int = EXACT_MAX_ENTRIES, randomized_rank: int = RANDOMIZED_RANK,
                   device=None) -> WeightSummary:
    """Summarise one weight tensor (>= 2 dimensions, treated as (out, in·kh·kw)).

    Parameters
    ----------
    name : str
    tensor : Tensor of shape (out, in, ...)
    method : {"auto", "exact", "randomized"}
        "auto": exact up to ``exact_max_entries`` entries, or when min(m, n) < 4·``randomized_rank`` (a
        randomized SVD gains nothing there); randomized above.
    randomized_rank : int
        Triplets the randomized SVD computes.
    device : see ``choose_device``.
    """
    if tensor.dim() < 2:
        raise LowRankError(f"{name!r} has shape {tuple(tensor.shape)}; a weight has 2 or more dimensions")
    matrix = tensor.detach().reshape(tensor.shape[0], -1)  # (m, n)
    m, n = matrix.shape
    resolved = _resolve_method(method, m * n, min(m, n), exact_max_entries, randomized_rank)
    S, total, ran = _singular_values(matrix, method=resolved, randomized_rank=randomized_rank,
                                     device=choose_device(device))  # (k,)
    complete = S.numel() == min(m, n)
    spectral = float(S[0]) if S.numel() else 0.0
    tolerance = torch.finfo(torch.float32).eps * max(m, n) * spectral
    rank = int((S > tolerance).sum())
    energies = {}
    for fraction in (0.9, 0.99):
        chosen = rank_for_energy(S, fraction, total_energy=total)
        kept = float((S[:chosen] ** 2).sum()) / total if total > 0 else 1.0
        energies[fraction] = chosen if complete or kept >= fraction - 1e-12 else None
    threshold = optimal_hard_threshold_rank(S.float(), (m, n)).rank if complete else None
    return WeightSummary(
        name=name, shape=tuple(tensor.shape), matrix_shape=(m, n),
        dtype=str(tensor.dtype).removeprefix("torch."), parameters=m * n, method=ran,
        S=S, frobenius_norm=math.sqrt(total), spectral_norm=spectral, numerical_rank=rank,
        numerical_rank_lower_bound=not complete and rank == S.numel(),
        stable_rank=total / spectral**2 if spectral > 0 else 0.0,
        rank_energy_90=energies[0.9], rank_energy_99=energies[0.99],
        optimal_hard_threshold_rank=threshold, break_even_rank=break_even_rank(m, n),
    )


def inspect_checkpoint(checkpoint: Checkpoint, *, method: str = "auto",
                       exact_max_entries: int = EXACT_MAX_ENTRIES, randomized_rank: int = RANDOMIZED_RANK,
                       device=None, progress: Callable[[float], None] | None = None) -> CheckpointInspection:
    """``inspect_weight`` for every candidate weight of a checkpoint (one SVD each).

    ``progress`` is called with the fraction done after each weight.
    """
    if not isinstance(checkpoint, Checkpoint):
        raise LowRankError(f"expected a Checkpoint (from read_checkpoint); got {type(checkpoint).__name__}")
    summaries = []
    for index, name in enumerate(checkpoint.weights):
        summaries.append(inspect_weight(name, checkpoint.tensors[name], method=method,
                                        exact_max_entries=exact_max_entries, randomized_rank=randomized_rank,
                                        device=device))
        if progress is not None:
            progress((index + 1) / len(checkpoint.weights))
    shaped = set(checkpoint.weights) | {skipped.name for skipped in checkpoint.skipped}
    return CheckpointInspection(
        name=checkpoint.name, source_format=checkpoint.source_format, weights=tuple(summaries),
        skipped=checkpoint.skipped, other_tensors=sum(1 for name in checkpoint.tensors if name not in shaped),
        notices=checkpoint.notices,
    )


# ======================================================================================== one weight


def curve_ranks(max_rank: int, *, count: int = 40) -> list[int]:
    """About ``count`` ranks from 0 to ``max_rank`` for a curve: every rank up to 8, then evenly spread."""
    if isinstance(max_rank, bool) or not isinstance(max_rank, int) or max_rank < 0:
        raise RankError(f"max_rank must be a whole number >= 0; got {max_rank!r}")
    spread = torch.linspace(0, max_rank, max(2, int(count))).round().long().tolist()
    return sorted({*range(min(max_rank, 8) + 1), *spread})


@dataclass(frozen=True, eq=False)
class WeightDetail:
    """One weight's spectrum and its errors against rank.

    Attributes
    ----------
    name : str
    matrix_shape : (m, n)
    method : {"exact", "randomized"}
    S : Tensor of shape (k,), float64, descending
    energy : Tensor of shape (k + 1,)
        Share of ‖W‖_F² kept at ranks 0..k.
    ranks : tuple of int
        Ranks at which errors were measured (0..k).
    relative_error : Tensor of shape (len(ranks),)
        Measured ‖W − a_r b_r‖_F / ‖W‖_F (float32 factors, norms in float64).
    predicted_relative_error : Tensor of shape (len(ranks),)
        Eckart–Young: sqrt(Σ_{i>r} σᵢ² / ‖W‖_F²) (‖W‖_F² minus the kept σᵢ² after a randomized SVD).
    output_relative_error : Tensor of shape (len(ranks),)
        ‖Z − Z_r‖_F / ‖Z‖_F with Z = X Wᵀ + bias on the inputs X.
    output_worst_ratio : Tensor of shape (len(ranks),)
        max over the inputs of ‖z_i − z_r,i‖ / ((σ_{r+1} + rounding) ‖x_i‖): at most 1 (Eckart–Young–Mirsky).
    inputs : str
        Where X came from ("digits activations" or "random normal").
    batch : int
    """

    name: str
    matrix_shape: tuple[int, int]
    method: str
    S: Tensor
    energy: Tensor
    ranks: tuple[int, ...]
    relative_error: Tensor
    predicted_relative_error: Tensor
    output_relative_error: Tensor
    output_worst_ratio: Tensor
    inputs: str
    batch: int


def weight_detail(name: str, weight: Tensor, *, bias: Tensor | None = None, inputs: Tensor | None = None,
                  inputs_source: str = "given", ranks: Sequence[int] | None = None, method: str = "auto",
                  exact_max_entries: int = EXACT_MAX_ENTRIES, randomized_rank: int = RANDOMIZED_RANK,
                  batch: int = 256, seed: int = 0, device=None) -> WeightDetail:
    """The spectrum of one weight and its errors against rank, measured beside Eckart–Young.

    Parameters
    ----------
    name : str
    weight : Tensor of shape (out, in, ...)
        Treated as (m, n) = (out, in·kh·kw).
    bias : Tensor of shape (m,), optional
        Added to the outputs (it cancels in the difference, not in ‖Z‖).
    inputs : Tensor of shape (batch, n), optional
        Default: ``batch`` standard normal rows (seeded), ``inputs_source`` "random normal".
    ranks : ranks to measure at (0..k); default ``curve_ranks(k)``.
    method, exact_max_entries, randomized_rank, device : as in ``inspect_weight``.
    """
    matrix = weight.detach().reshape(weight.shape[0], -1)  # (m, n)
    m, n = matrix.shape
    device = choose_device(device)
    resolved = _resolve_method(method, m * n, min(m, n), exact_max_entries, randomized_rank)
    factorization = _factorize_weight(matrix, method=resolved, randomized_rank=randomized_rank, device=device)
    k = factorization.max_rank
    ranks = curve_ranks(k) if ranks is None else sorted({int(r) for r in ranks})
    if ranks and not 0 <= ranks[0] <= ranks[-1] <= k:
        raise RankError(f"ranks must lie in 0..{k}; got {ranks[0]}..{ranks[-1]}")
    if inputs is None:
        generator = torch.Generator().manual_seed(derived_seed(seed, "checkpoint-inputs"))
        inputs = torch.randn(int(batch), n, generator=generator)  # (batch, n)
        inputs_source = "random normal"
    if inputs.dim() != 2 or inputs.shape[1] != n:
        raise LowRankError(f"inputs must have shape (batch, {n}); got {tuple(inputs.shape)}")
    W = matrix.to(device, torch.float32)  # (m, n)
    X = inputs.to(device, torch.float32)  # (batch, n)
    b = None if bias is None else bias.detach().reshape(-1).to(device, torch.float32)  # (m,)
    Z = X @ W.T + (0 if b is None else b)  # (batch, m)
    projected = X @ factorization.Vh.T  # (batch, k): x in the right singular basis
    norm_w = float(torch.linalg.vector_norm(W, dtype=torch.float64))
    norm_z = float(torch.linalg.vector_norm(Z, dtype=torch.float64))
    residual = factorization.residual_energy().cpu()  # (k + 1,)
    total = float(factorization.total_energy.cpu())
    S = factorization.S.double().cpu()
    rounding = torch.finfo(torch.float32).eps * max(m, n) * (float(S[0]) if k else 0.0)
    input_norms = torch.linalg.vector_norm(X.double(), dim=1)  # (batch,)
    measured, predicted, output, worst = [], [], [], []
    for r in ranks:
        a, bh = factorization.factors(r)  # (m, r), (r, n)
        measured.append(float(torch.linalg.vector_norm(W - a @ bh, dtype=torch.float64)) / norm_w
                        if norm_w > 0 else 0.0)
        predicted.append(math.sqrt(max(float(residual[r]), 0.0) / total) if total > 0 else 0.0)
        Z_r = (projected[:, :r] * factorization.S[:r]) @ factorization.U[:, :r].T + (0 if b is None else b)
        difference = (Z - Z_r).double()  # (batch, m)
        output.append(float(torch.linalg.vector_norm(difference)) / norm_z if norm_z > 0 else 0.0)
        bound = (float(S[r]) if r < k else 0.0) + rounding
        allowed = bound * input_norms
        ratios = torch.linalg.vector_norm(difference, dim=1) / allowed.clamp_min(1e-300)
        worst.append(float(torch.where(allowed > 0, ratios, torch.zeros_like(ratios)).max()))
    return WeightDetail(
        name=name, matrix_shape=(m, n), method=factorization.method, S=S,
        energy=factorization.energy().double().cpu(), ranks=tuple(ranks),
        relative_error=torch.tensor(measured, dtype=torch.float64),
        predicted_relative_error=torch.tensor(predicted, dtype=torch.float64),
        output_relative_error=torch.tensor(output, dtype=torch.float64),
        output_worst_ratio=torch.tensor(worst, dtype=torch.float64),
        inputs=inputs_source, batch=int(X.shape[0]),
    )


def digits_mlp_activations(tensors: Mapping[str, Tensor], *, samples: int | None = None
                           ) -> dict[str, Tensor] | None:
    """The input each linear layer sees on the digits test images, when ``tensors`` is the shipped MLP.

    The shipped MLP (``training.make_mlp``) is ``nn.Sequential(Linear, ReLU, ..., Linear)`` from 64 pixels to
    10 classes, so its state dict holds ``0.weight, 0.bias, 2.weight, 2.bias, ...`` (possibly all under one
    wrapper name, ``model.0.weight``...). Returns {weight name:
    activations of shape (N, in)} (the test split of ``split_digits()``), or None when the tensors are not
    such a model.
    """
    prefixes = {key.split(".", 1)[0] for key in tensors}
    if len(prefixes) == 1 and all("." in key for key in tensors) and not next(iter(prefixes)).isdigit():
        # one wrapper around the state dict ({"model": {...}} saved as "model.0.weight", ...)
        prefix = next(iter(prefixes)) + "."
        inner = digits_mlp_activations({key.removeprefix(prefix): value for key, value in tensors.items()},
                                       samples=samples)
        return None if inner is None else {prefix + key: value for key, value in inner.items()}
    count = sum(1 for key in tensors if key.endswith(".weight"))
    expected = {f"{2 * i}.{part}" for i in range(count) for part in ("weight", "bias")}
    if count == 0 or set(tensors) != expected:
        return None
    shapes = []
    for i in range(count):
        weight, bias = tensors.get(f"{2 * i}.weight"), tensors.get(f"{2 * i}.bias")
        if weight is None or bias is None or weight.dim() != 2 or tuple(bias.shape) != (weight.shape[0],):
            return None
        shapes.append(tuple(weight.shape))
    if shapes[0][1] != DIGITS_FEATURES or shapes[-1][0] != DIGITS_CLASSES:
        return None
    if any(shapes[i][0] != shapes[i + 1][1] for i in range(len(shapes) - 1)):
        return None
    X = split_digits().X_test  # (N, 64)
    if samples is not None:
        X = X[:samples]
    activations = {}
    with torch.no_grad():
        for i in range(len(shapes)):
            activations[f"{2 * i}.weight"] = X
            weight = tensors[f"{2 * i}.weight"].float()
            X = X @ weight.T + tensors[f"{2 * i}.bias"].float()  # (N, out)
            if i < len(shapes) - 1:
                X = X.relu()
    return activations


def layer_inputs(checkpoint: Checkpoint, name: str, *, batch: int = 256, seed: int = 0
                 ) -> tuple[Tensor, str]:
    """Inputs for the output error of weight ``name``: (X of shape (N, in·kh·kw), where they come from).

    The digits test images pushed through the earlier layers when the checkpoint is the shipped digits MLP
    ("digits activations"), else ``batch`` seeded standard normal rows ("random normal").
    """
    matrix = checkpoint.matrix(name)  # (m, n)
    activations = digits_mlp_activations(checkpoint.tensors)
    if activations is not None and name in activations:
        return activations[name], "digits activations"
    generator = torch.Generator().manual_seed(derived_seed(seed, "checkpoint-inputs"))
    return torch.randn(int(batch), matrix.shape[1], generator=generator), "random normal"


def weight_timing(matrix_shape: tuple[int, int], *, ranks: Sequence[int] | None = None, batch: int = 64,
                  device=None, min_run_time: float = 0.2, threads: int | None = 1) -> list:
    """Dense against factored forward time at a weight's own shape (m, n): ``time_forward(m, n, ranks)``.

    Default ranks: 1/16, 1/8, 1/4 and 1/2 of the break-even rank mn/(m + n), and the break-even itself
    (at least 1). Returns a list of ForwardTiming.
    """
    m, n = (int(side) for side in matrix_shape)
    if ranks is None:
        even = break_even_rank(m, n)
        shares = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1)
        ranks = sorted({max(1, min(min(m, n), int(even * share))) for share in shares})
    return time_forward(m, n, list(ranks), batch=batch, device=device, min_run_time=min_run_time,
                        threads=threads)


# ============================================================================================== export


@dataclass(frozen=True)
class ExportedLayer:
    """One weight of an export.

    Attributes
    ----------
    name : str
    shape : tuple of int
        The original shape.
    rank : int
        The rank kept (min(m, n) when left dense).
    factored : bool
    parameters_before, parameters_after : int
        m·n; r·(m + n) when factored.
    relative_error : float
        ‖W − a b‖_F / ‖W‖_F measured on the written factors (in their dtype), 0.0 when dense.
    """

    name: str
    shape: tuple[int, ...]
    rank: int
    factored: bool
    parameters_before: int
    parameters_after: int
    relative_error: float


@dataclass(frozen=True, eq=False)
class ExportedCheckpoint:
    """A factored checkpoint: the safetensors bytes and what they hold.

    Attributes
    ----------
    data : bytes
        The ``.safetensors`` file.
    layers : tuple of ExportedLayer
        Every analysed weight, in file order.
    rank_pattern : dict of str to int
        {name: rank} of the factored weights.
    """

    data: bytes
    layers: tuple[ExportedLayer, ...]
    rank_pattern: dict[str, int]

    @property
    def parameters_before(self) -> int:
        """Σ m·n over the weights."""
        return sum(layer.parameters_before for layer in self.layers)

    @property
    def parameters_after(self) -> int:
        """Σ over the weights of r·(m + n) (factored) or m·n (dense)."""
        return sum(layer.parameters_after for layer in self.layers)


def _export_ranks(checkpoint: Checkpoint, ranks) -> dict[str, int]:
    """{name: rank} from an Allocation or a mapping, checked against the checkpoint."""
    pattern = dict(ranks.rank_pattern) if isinstance(ranks, Allocation) else dict(ranks)
    for name, rank in pattern.items():
        if name not in checkpoint.weights:
            raise LowRankError(f"{name!r} is not an analysed weight of {checkpoint.name!r}")
        m, n = checkpoint.matrix(name).shape
        if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= min(m, n):
            raise RankError(f"the rank of {name!r} ({m}×{n}) must be between 1 and {min(m, n)}; got {rank!r}")
    return pattern


def export_factored(checkpoint: Checkpoint, ranks: Allocation | Mapping[str, int], *,
                    method: str = "auto", exact_max_entries: int = EXACT_MAX_ENTRIES,
                    device=None) -> ExportedCheckpoint:
    """Write a checkpoint with the chosen weights replaced by their rank-r factors, as safetensors bytes.

    For each factored weight ``NAME`` of shape (out, in, ...): ``NAME.a`` (out, r) = U_r diag(S_r) and
    ``NAME.b`` (r, in·kh·kw) = Vh_r, in the weight's own dtype; every other tensor under its own name,
    unchanged. ``__metadata__`` holds ``FORMAT_METADATA_KEY`` ("factored-v1"), ``FACTORED_METADATA_KEY``
    (JSON {NAME: {"shape": original shape, "rank": r, "dtype": ...}}) and ``RANK_PATTERN_METADATA_KEY``
    (JSON {NAME: r}).

    Parameters
    ----------
    checkpoint : Checkpoint
    ranks : Allocation or mapping of str to int
        The ranks (an Allocation's ``rank_pattern``: its dense layers are left as they are).
    method : {"auto", "exact", "randomized"}
        The SVD of each factored weight: "auto" exact up to ``exact_max_entries`` entries, else randomized
        with exactly r triplets (q = r + 10, 4 power iterations).
    device : see ``choose_device``.
    """
    pattern = _export_ranks(checkpoint, ranks)
    device = choose_device(device)
    out: dict[str, Tensor] = {}
    factored_info, layers = {}, []
    for name, tensor in checkpoint.tensors.items():
        if name not in pattern:
            if name + ".a" in checkpoint.tensors or name + ".b" in checkpoint.tensors:
                raise LowRankError(f"{checkpoint.name!r} already holds {name!r}.a or .b")
            out[name] = tensor.contiguous().clone()  # shared storage (tied weights) cannot be saved twice
            continue
        r = pattern[name]
        matrix = checkpoint.matrix(name)  # (m, n)
        m, n = matrix.shape
        resolved = _resolve_method(method, m * n, min(m, n), exact_max_entries, r)
        if resolved == "exact":
            factorization = factorize(matrix, method="exact", device=device)
        else:
            factorization = factorize(matrix, method="randomized", max_rank=r, device=device)
        a, b = factorization.factors(r)  # (m, r), (r, n)
        a, b = a.to("cpu", tensor.dtype).contiguous(), b.to("cpu", tensor.dtype).contiguous()
        for suffix in (".a", ".b"):
            if name + suffix in checkpoint.tensors:
                raise LowRankError(f"{checkpoint.name!r} already holds a tensor named {name + suffix!r}")
        out[name + ".a"], out[name + ".b"] = a, b
        factored_info[name] = {"shape": list(tensor.shape), "rank": r,
                               "dtype": str(tensor.dtype).removeprefix("torch.")}
    for name in checkpoint.weights:
        m, n = checkpoint.matrix(name).shape
        if name in pattern:
            r = pattern[name]
            a, b = out[name + ".a"].double(), out[name + ".b"].double()
            original = checkpoint.matrix(name).double()
            norm = float(torch.linalg.vector_norm(original))
            error = float(torch.linalg.vector_norm(original - a @ b)) / norm if norm > 0 else 0.0
            layers.append(ExportedLayer(name, tuple(checkpoint.tensors[name].shape), r, True, m * n,
                                        r * (m + n), error))
        else:
            layers.append(ExportedLayer(name, tuple(checkpoint.tensors[name].shape), min(m, n), False, m * n,
                                        m * n, 0.0))
    metadata = {
        FORMAT_METADATA_KEY: EXPORT_FORMAT,
        FACTORED_METADATA_KEY: json.dumps(factored_info),
        RANK_PATTERN_METADATA_KEY: rank_pattern_json(pattern),
    }
    data = safetensors.torch.save(out, metadata=metadata)
    return ExportedCheckpoint(data=data, layers=tuple(layers), rank_pattern=dict(pattern))


def rank_pattern_json(rank_pattern: Mapping[str, int]) -> str:
    """{name: rank} as JSON text, the form LoRA tools take (``rank_pattern``)."""
    return json.dumps({str(name): int(rank) for name, rank in rank_pattern.items()}, indent=None)


# ============================================================================================== reload


class FactoredModule(nn.Module):
    """A module tree built from an exported checkpoint when no architecture is given.

    Each factored ``PREFIX.weight`` becomes a ``LowRankLinear`` at ``PREFIX`` (with ``PREFIX.bias`` as its
    bias when present); a factored weight not named ``*.weight`` becomes a ``LowRankLinear`` under its own
    name. Every other tensor is a parameter (floating point) or a buffer at its place in the tree. It has no
    forward of its own: use its layers (``factored_layers``), or pass the architecture to ``load_factored``.

    Attributes
    ----------
    factored_layers : dict of str to str
        {weight name in the file: module path of its LowRankLinear}.
    original_shapes : dict of str to tuple of int
        The factored weights' shapes before factoring (conv kernels keep 4 dimensions here).
    """

    def __init__(self):
        super().__init__()
        self.factored_layers: dict[str, str] = {}
        self.original_shapes: dict[str, tuple[int, ...]] = {}

    def forward(self, *args, **kwargs):  # pragma: no cover - a container
        raise NotImplementedError("FactoredModule holds the layers of a checkpoint; call its layers")


def _factored_metadata(checkpoint: Checkpoint) -> dict[str, dict]:
    """The export's {name: {"shape", "rank", ...}}, checked against its .a and .b tensors."""
    label = f"The file {_quote(checkpoint.name)}"
    if checkpoint.metadata.get(FORMAT_METADATA_KEY) != EXPORT_FORMAT:
        raise CheckpointError(f"{label} is not a factored checkpoint written by lowrank_core (its "
                              f"__metadata__ has no {FORMAT_METADATA_KEY!r} = {EXPORT_FORMAT!r}).")
    try:
        info = json.loads(checkpoint.metadata.get(FACTORED_METADATA_KEY, "{}"))
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{label} has an unreadable {FACTORED_METADATA_KEY!r} entry ({err}).") from err
    if not isinstance(info, dict):
        raise CheckpointError(f"{label}: {FACTORED_METADATA_KEY!r} is not a JSON object.")
    for name, entry in info.items():
        a, b = checkpoint.tensors.get(name + ".a"), checkpoint.tensors.get(name + ".b")
        try:
            shape, rank = [int(side) for side in entry["shape"]], int(entry["rank"])
        except (TypeError, KeyError, ValueError) as err:
            raise CheckpointError(f"{label}: the entry of {name!r} in {FACTORED_METADATA_KEY!r} is "
                                  "malformed.") from err
        m, n = shape[0], math.prod(shape[1:])
        if a is None or b is None or tuple(a.shape) != (m, rank) or tuple(b.shape) != (rank, n):
            raise CheckpointError(f"{label}: {name!r}.a and .b should be {m}×{rank} and {rank}×{n} "
                                  f"(shape {shape}, rank {rank}).")
    return info


def _place(root: nn.Module, path: str, label: str) -> tuple[nn.Module, str]:
    """(parent module, last name) of a dotted path, making container modules on the way."""
    parts = path.split(".")
    module = root
    for part in parts[:-1]:
        child = module._modules.get(part)
        if child is None:
            if hasattr(module, part) or not part:
                raise CheckpointError(f"{label}: the name {_quote(path)} cannot become a module path.")
            child = nn.Module()
            module.add_module(part, child)
        module = child
    return module, parts[-1]


def load_factored(data: bytes | Checkpoint, *, model: nn.Module | None = None, name: str = "checkpoint",
                  limits: CheckpointLimits = DEFAULT_CHECKPOINT_LIMITS) -> nn.Module:
    """Load an ``export_factored`` file into a module with ``LowRankLinear`` layers.

    Parameters
    ----------
    data : bytes or Checkpoint
        The exported ``.safetensors`` (read by ``read_checkpoint``, with ``limits``).
    model : nn.Module, optional
        The architecture the checkpoint came from. A deep copy is returned in which every ``nn.Linear``
        whose ``PREFIX.weight`` was factored becomes a ``LowRankLinear`` holding the file's a and b; every
        other tensor is loaded by ``load_state_dict(strict=True)``. Without it, a ``FactoredModule`` tree is
        built from the names.

    Returns
    -------
    nn.Module
        On the CPU, in the file's dtypes, in eval mode.
    """
    checkpoint = data if isinstance(data, Checkpoint) else read_checkpoint(data, name=name, limits=limits)
    label = f"The file {_quote(checkpoint.name)}"
    info = _factored_metadata(checkpoint)
    factored_keys = {f"{key}{suffix}" for key in info for suffix in (".a", ".b")}
    if model is None:
        root = FactoredModule()
        used = set(factored_keys)
        for key, entry in info.items():
            prefix = key.removesuffix(".weight") if key.endswith(".weight") else key
            a, b = checkpoint.tensors[key + ".a"], checkpoint.tensors[key + ".b"]
            bias = checkpoint.tensors.get(prefix + ".bias") if key.endswith(".weight") else None
            if bias is not None and tuple(bias.shape) != (a.shape[0],):
                bias = None
            layer = torch.nn.utils.skip_init(LowRankLinear, b.shape[1], a.shape[0], a.shape[1],
                                             bias=bias is not None, dtype=a.dtype)
            with torch.no_grad():
                layer.a.copy_(a)
                layer.b.copy_(b)
                if bias is not None:
                    layer.bias.copy_(bias)
                    used.add(prefix + ".bias")
            parent, last = _place(root, prefix, label)
            if last in parent._modules or hasattr(parent, last):
                raise CheckpointError(f"{label}: the name {_quote(prefix)} is used twice.")
            parent.add_module(last, layer)
            root.factored_layers[key] = prefix
            root.original_shapes[key] = tuple(int(side) for side in entry["shape"])
        for key, tensor in checkpoint.tensors.items():
            if key in used:
                continue
            parent, last = _place(root, key, label)
            if last in parent._modules or hasattr(parent, last) or not last:
                raise CheckpointError(f"{label}: the name {_quote(key)} clashes with a layer.")
            if tensor.is_floating_point():
                parent.register_parameter(last, nn.Parameter(tensor.clone(), requires_grad=False))
            else:
                parent.register_buffer(last, tensor.clone())
        return root.eval()
    if not isinstance(model, nn.Module):
        raise LowRankError(f"expected a torch.nn.Module; got {type(model).__name__}")
    loaded = copy.deepcopy(model).cpu()
    state = {}
    for key, entry in info.items():
        prefix = key.removesuffix(".weight")
        if not key.endswith(".weight"):
            raise CheckpointError(f"{label}: {key!r} is not a layer's weight of this model.")
        try:
            linear = loaded.get_submodule(prefix)
        except AttributeError as err:
            raise CheckpointError(f"{label}: the model has no layer {prefix!r} for {key!r}.") from err
        if not isinstance(linear, nn.Linear) or len(entry["shape"]) != 2:
            raise CheckpointError(f"{label}: {prefix!r} is not an nn.Linear of the model.")
        a = checkpoint.tensors[key + ".a"]
        layer = torch.nn.utils.skip_init(LowRankLinear, linear.in_features, linear.out_features, a.shape[1],
                                         bias=linear.bias is not None, dtype=a.dtype)
        parent_name, _, child = prefix.rpartition(".")
        parent = loaded.get_submodule(parent_name) if parent_name else loaded
        setattr(parent, child, layer)
    for key, tensor in checkpoint.tensors.items():
        state[key] = tensor
    # LowRankLinear at PREFIX holds PREFIX.a / PREFIX.b; the file holds PREFIX.weight.a / .b
    for key in info:
        prefix = key.removesuffix(".weight")
        state[prefix + ".a"] = state.pop(key + ".a")
        state[prefix + ".b"] = state.pop(key + ".b")
    try:
        loaded.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{label} does not fit the model: {' '.join(str(err).split())[:300]}") from err
    return loaded.eval()
