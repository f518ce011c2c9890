"""Reading a checkpoint: ``.safetensors`` and torch state dicts, never pickle; the candidate weights.

Reading (``read_checkpoint``): ``.safetensors`` through the ``safetensors`` library, and ``torch.save`` files
(``.pt``, ``.pth``, ``.bin``) through ``torch.load(..., weights_only=True, map_location="cpu")`` after the
zip's inflated size was checked; never pickle. The format is told from the bytes, not the name. Nested
dictionaries (``{"model": {"fc": {"weight": ...}}}``) are flattened to dotted names (``model.fc.weight``).

Candidates: every floating-point tensor (float16, bfloat16, float32, float64) with at least two dimensions
whose sides are both at least 2, a conv kernel (out, in, kh, kw) being the matrix (out, in·kh·kw). A weight
over a limit (``CheckpointLimits``) or with NaN/infinity is listed in ``Checkpoint.skipped`` with its reason;
only an unreadable file is an error.
"""

from __future__ import annotations

import io
import json
import math
import struct
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field

import safetensors
import safetensors.torch
import torch
from safetensors.torch import load as load_safetensors  # safetensors: data only, no pickle
from torch import Tensor

from ..errors import (
    EmptyInputError,
    InputError,
    LowRankError,
    TooLargeError,
    UnsafeFileError,
    UnsupportedFormatError,
)
from ..limits import (
    CHECKPOINT_MAX_FILE_BYTES,
    CHECKPOINT_MAX_TENSORS,
    CHECKPOINT_MAX_TOTAL_ENTRIES,
    CHECKPOINT_MAX_WEIGHT_ENTRIES,
    CHECKPOINT_MAX_WEIGHTS,
)
from ..torch_files import load_weights_only

__all__ = ["CheckpointError", "CheckpointLimits", "DEFAULT_CHECKPOINT_LIMITS", "CHECKPOINT_EXTENSIONS",
           "CANDIDATE_DTYPES", "SkippedWeight", "Checkpoint", "read_checkpoint", "quoted"]

CHECKPOINT_EXTENSIONS = (".safetensors", ".pt", ".pth", ".bin")
CANDIDATE_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
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
    """Sizes a checkpoint may have (the defaults are ``lowrank_core.limits.CHECKPOINT_*``).

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

    max_file_bytes: int = CHECKPOINT_MAX_FILE_BYTES
    max_tensors: int = CHECKPOINT_MAX_TENSORS
    max_weights: int = CHECKPOINT_MAX_WEIGHTS
    max_weight_entries: int = CHECKPOINT_MAX_WEIGHT_ENTRIES
    max_total_entries: int = CHECKPOINT_MAX_TOTAL_ENTRIES

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


def quoted(value: str, limit: int = 60) -> str:
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
    label = f"The file {quoted(name)}"
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
        loaded = load_safetensors(data)
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
        loaded = load_weights_only(data, label, holds="tensors and plain containers")
    except UnsafeFileError:  # an InputError (a ValueError) too: said as it is
        raise
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, KeyError, OSError) as err:
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
        listed = ", ".join(quoted(n) for n in ignored[:_MAX_LISTED])
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
            raise CheckpointError(f"{label} names two tensors {quoted(key)} once nested names are joined "
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

