"""The matrix loader: CSV / TSV / text, pasted text, and .npy, .npz and .pt files -> an (m, n) float32 tensor.

``load_matrix`` never unpickles (``allow_pickle=False``, ``weights_only=True``), checks an array's header
(shape, dtype) and a file's byte size before reading its data, bounds the entries, and raises nothing but
``InputError`` subclasses whose message names the row and column (or the array) of the problem.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .._checks import file_bytes, file_label, megabytes, quote, whole_number
from ..errors import (
    EmptyInputError,
    InputError,
    NonFiniteError,
    ParseError,
    ShapeError,
    TooLargeError,
    UnsafeFileError,
    UnsupportedFormatError,
)
from ..limits import (
    BINARY_BYTES_PER_ENTRY,
    BINARY_OVERHEAD_BYTES,
    DEFAULT_MAX_ENTRIES,
    LARGEST_MAX_ENTRIES,
    TEXT_BYTES_PER_ENTRY,
)
from ..torch_files import load_weights_only
from .text_table import Underflows, decode_text, read_table

__all__ = [
    "DEFAULT_MAX_ENTRIES",
    "TEXT_BYTES_PER_ENTRY",
    "BINARY_BYTES_PER_ENTRY",
    "BINARY_OVERHEAD_BYTES",
    "LoadedMatrix",
    "load_matrix",
]

_MAX_LISTED_NAMES = 5  # names listed when a file holds several arrays
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
_INT_EXACT_IN_FLOAT32 = 2**24


@dataclass(frozen=True)
class LoadedMatrix:
    """A matrix read from a file or pasted text.

    Attributes
    ----------
    values : Tensor of shape (m, n), float32, all finite
    notices : tuple of str
        Sentences for the user about what was changed or assumed.
    source_format : {"csv", "text", "npy", "npz", "pt"}
    """

    values: Tensor
    notices: tuple[str, ...] = ()
    source_format: str = "text"


_TEXT_FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "text"}
_BINARY_FORMATS = {".npy": "npy", ".npz": "npz", ".pt": "pt", ".pth": "pt"}


def load_matrix(
    data: bytes | str, *, name: str = "pasted.txt", max_entries: int = DEFAULT_MAX_ENTRIES
) -> LoadedMatrix:
    """Read a matrix from a CSV / TSV / text file, pasted text, or a .npy, .npz or .pt file.

    The format follows the extension of ``name`` (.csv .tsv .txt .npy .npz .pt .pth); any other extension
    is read as a .npy file when it starts like one, and as text otherwise.

    Text: UTF-8 (a BOM is skipped), any line ending, cells split by the first of tab, semicolon or comma
    found on most lines, else by spaces; blank lines and lines starting with ``#`` are skipped; a first row
    with no number at all is taken as column names. Every cell must parse as a float; rows must have the
    same length. Binary: never unpickled (``allow_pickle=False``, ``weights_only=True``); the array header
    is checked (shape, dtype) before its data is read; .pt files must use PyTorch's zip format (1.6+).

    Parameters
    ----------
    data : bytes or str
        The file's content, or pasted text.
    name : str
        The file name: its extension selects the format; it is also used in messages.
    max_entries : int
        Largest m × n accepted. Files over ``max_entries * TEXT_BYTES_PER_ENTRY`` bytes (text) or
        ``max_entries * BINARY_BYTES_PER_ENTRY + BINARY_OVERHEAD_BYTES`` (binary) are refused unread.

    Returns
    -------
    LoadedMatrix
        ``values`` of shape (m, n), float32, all finite. A 1-D array becomes a single row (1, n).

    Raises
    ------
    InputError
        Only InputError subclasses: EmptyInputError, ParseError (a cell that is not a number, a ragged row,
        a corrupt file), NonFiniteError (NaN, inf, beyond float32), ShapeError, TooLargeError,
        UnsafeFileError (pickled Python objects), UnsupportedFormatError.
    """
    if not isinstance(name, str):
        raise InputError(f"The file name must be text; got {type(name).__name__}.")
    label = file_label(name)
    max_entries = whole_number("max_entries", max_entries, minimum=1, maximum=LARGEST_MAX_ENTRIES,
                               error=InputError)
    try:
        return _load_matrix(data, name=name, label=label, max_entries=max_entries)
    except InputError:
        raise
    except MemoryError as err:
        raise TooLargeError(f"{label} is too large to load in the memory available.") from err
    except Exception as err:  # corrupt archives can make zipfile, numpy or torch raise nearly anything
        raise ParseError(f"{label} could not be read; it may be corrupt ({quote(str(err), 80)}).") from err


def _load_matrix(data: bytes | str, *, name: str, label: str, max_entries: int) -> LoadedMatrix:
    """Dispatch on the extension (and the leading bytes when the extension is unknown)."""
    extension = Path(name).suffix.lower()
    if isinstance(data, str):
        if extension in _BINARY_FORMATS:
            raise ParseError(f"{label} is a binary {extension} file; upload the file instead of pasting it.")
        return _load_text(data, label=label, max_entries=max_entries, source=_TEXT_FORMATS.get(extension))
    payload = file_bytes(data, label)
    source = _TEXT_FORMATS.get(extension) or _BINARY_FORMATS.get(extension)
    if source is None and payload.startswith(_NPY_MAGIC):
        source = "npy"
    if source in (None, "csv", "text"):
        return _load_text(payload, label=label, max_entries=max_entries, source=source)
    byte_limit = max_entries * BINARY_BYTES_PER_ENTRY + BINARY_OVERHEAD_BYTES
    _check_byte_size(len(payload), byte_limit, label)
    loader = {"npy": _load_npy, "npz": _load_npz, "pt": _load_pt}[source]
    values, notices = loader(payload, label=label, max_entries=max_entries)
    return LoadedMatrix(values, tuple(notices), source)


def _check_byte_size(size: int, limit: int, label: str) -> None:
    """TooLargeError when a file is over its byte limit (checked before parsing)."""
    if size > limit:
        raise TooLargeError(
            f"{label} is {megabytes(size)}; the limit for this kind of file is {megabytes(limit)}."
        )


def _check_entries(shape: tuple[int, ...], max_entries: int, label: str) -> None:
    """TooLargeError when the matrix would have more than ``max_entries`` entries."""
    entries = math.prod(shape)
    if entries > max_entries:
        dims = "×".join(str(d) for d in shape)
        raise TooLargeError(
            f"{label} holds a {dims} array ({entries:,} values); the limit is {max_entries:,}."
        )


def _float32_matrix(
    values: np.ndarray, place: Callable[[int, int], str], *, underflows: Underflows | None = None
) -> tuple[np.ndarray, list[str]]:
    """``values`` as float32 (one copy), or NonFiniteError naming the first NaN, infinity, or value beyond
    float32, found in row-major order.

    ``place(row, column)`` (1-based) says where a value is for the user, e.g. "Row 3, column 2". Values too
    close to 0 for float32 become 0 with a notice (with those already found while parsing, ``underflows``).
    """
    with np.errstate(over="ignore"):  # inf where a finite value overflows float32: named below
        converted = values.astype(np.float32)  # native byte order
    bad = ~np.isfinite(converted)
    if bad.any():
        r, c = (int(i) for i in np.argwhere(bad)[0])
        value = float(values[r, c])
        where = place(r + 1, c + 1)
        if math.isnan(value):
            raise NonFiniteError(f"{where} is NaN (not a number); every value must be a finite number.")
        if math.isinf(value):
            raise NonFiniteError(f"{where} is infinite ({value}); every value must be a finite number.")
        raise NonFiniteError(
            f"{where} is {value:.4g}, which overflows float32 (32-bit floats stop at about ±3.4e38)."
        )
    found = underflows or Underflows()
    if values.dtype.kind == "f" and values.dtype.itemsize > 4:
        lost = (converted == 0) & (values != 0)
        if lost.any():
            r, c = (int(i) for i in np.argwhere(lost)[0])
            found.add(int(lost.sum()), (r + 1, c + 1), float(values[r, c]))
    return converted, found.notices(place)


def _load_text(data: bytes | str, *, label: str, max_entries: int, source: str | None) -> LoadedMatrix:
    """Parse delimited text into a matrix (``text_table``; memory stays within ``max_entries``)."""
    _check_byte_size(len(data), max_entries * TEXT_BYTES_PER_ENTRY, label)
    text = decode_text(data, label) if isinstance(data, bytes) else data.removeprefix("\ufeff")
    table = read_table(text, max_entries=max_entries, label=label)
    values, more = _float32_matrix(table.values, table.place, underflows=table.underflows)
    return LoadedMatrix(torch.from_numpy(values), (*table.notices, *more), source or "text")  # (m, n)


# ---------------------------------------------------------------------------------------- npy, npz

def _read_npy_header(stream) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype from a .npy header, without reading the data."""
    version = np.lib.format.read_magic(stream)
    # Version 3.0 differs from 2.0 only by a UTF-8 header (for non-ASCII field names, which we refuse).
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _fortran_order, dtype = read(stream)
    return tuple(int(d) for d in shape), dtype


def _check_array_kind(shape: tuple[int, ...], dtype: np.dtype, label: str, max_entries: int) -> None:
    """Refuse, from the header alone, arrays we cannot or must not turn into a float matrix."""
    if dtype.hasobject:
        raise UnsafeFileError(
            f"{label} contains Python objects (pickle); it is refused because loading it could run code."
        )
    if dtype.kind == "c":
        raise UnsupportedFormatError(
            f"{label} holds complex numbers ({dtype}); only real numbers are supported."
        )
    if dtype.kind not in "biuf" or dtype.fields is not None:
        raise UnsupportedFormatError(f"{label} holds values of type {str(dtype)!r}, not numbers.")
    _check_matrix_shape(shape, label, max_entries, holder="array")


def _check_matrix_shape(shape: tuple[int, ...], label: str, max_entries: int, *, holder: str) -> None:
    """1 or 2 dimensions, not empty, at most ``max_entries``; ``holder`` ("array", "tensor") for messages."""
    article = "an" if holder == "array" else "a"
    if len(shape) == 0:
        raise ShapeError(f"{label} holds a single number, not a matrix.")
    if len(shape) > 2:
        raise ShapeError(
            f"{label} holds {article} {holder} with {len(shape)} dimensions (shape {shape}); a matrix has 2 "
            "(rows × columns)."
        )
    if math.prod(shape) == 0:
        raise EmptyInputError(f"{label} holds an empty {holder} (shape {shape}).")
    _check_entries(shape, max_entries, label)


def _load_npy(data: bytes, *, label: str, max_entries: int, within: str = "") -> tuple[Tensor, list[str]]:
    """A .npy file, header checked before the data is read; never unpickles.

    ``within`` follows "Row r, column c" in messages about values (" of the array 'W'" for a .npz).
    """
    if not data.startswith(_NPY_MAGIC):
        raise ParseError(f"{label} is not a NumPy .npy file (it does not start with the .npy signature).")
    shape, dtype = _read_npy_header(io.BytesIO(data))
    _check_array_kind(shape, dtype, label, max_entries)
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise UnsafeFileError(
                f"{label} contains Python objects (pickle); it is refused because loading it could run code."
            ) from err
        raise
    return _matrix_from_array(array, label, within=within)


def _load_npz(data: bytes, *, label: str, max_entries: int) -> tuple[Tensor, list[str]]:
    """A .npz archive holding exactly one array."""
    if not data.startswith(b"PK"):
        raise ParseError(f"{label} is not a NumPy .npz archive (it is not a zip file).")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        if not members:
            raise EmptyInputError(f"{label} is an archive with no arrays in it.")
        if len(members) > 1:
            names = [info.filename.removesuffix(".npy") for info in members]
            listed = ", ".join(quote(n) for n in names[:_MAX_LISTED_NAMES])
            more = f" and {len(names) - _MAX_LISTED_NAMES} more" if len(names) > _MAX_LISTED_NAMES else ""
            raise ParseError(
                f"{label} holds {len(names)} arrays ({listed}{more}); it must hold exactly one. "
                "Save the matrix alone, e.g. numpy.savez('m.npz', W=W)."
            )
        member = members[0]
        inner_label = f"The array {quote(member.filename)} inside {label[0].lower()}{label[1:]}"
        byte_limit = max_entries * BINARY_BYTES_PER_ENTRY + BINARY_OVERHEAD_BYTES
        _check_byte_size(member.file_size, byte_limit, inner_label)  # a zip bomb stops here
        content = archive.read(member)
    array_name = quote(member.filename.removesuffix(".npy"))
    values, notices = _load_npy(content, label=inner_label, max_entries=max_entries,
                                within=f" of the array {array_name}")
    return values, [f"Using the array {array_name} from the archive.", *notices]


def _matrix_from_array(raw: np.ndarray, label: str, *, within: str = "") -> tuple[Tensor, list[str]]:
    """(m, n) float32 tensor from a 1-D or 2-D real array (bool, int or float), checking every value.

    One full-size copy: the float32 result (never a float64 one).
    """
    notices = []
    if raw.ndim == 1:
        count = raw.shape[0]
        notices.append(f"{label} holds a list of {count} values; it is used as a single row (1×{count}).")
        raw = raw.reshape(1, -1)
    if raw.dtype.kind == "b":
        notices.append("True/False values were converted to 1/0.")
    elif raw.dtype.kind in "iu":
        notices.append(f"Whole numbers ({raw.dtype.name}) were converted to 32-bit floats.")
        if max(abs(int(raw.max())), abs(int(raw.min()))) > _INT_EXACT_IN_FLOAT32:
            notices.append("Some exceed 16,777,216, so they were rounded: float32 cannot hold them exactly.")
    values, more = _float32_matrix(raw, lambda r, c: f"Row {r}, column {c}{within}")
    return torch.from_numpy(values), [*notices, *more]


# ---------------------------------------------------------------------------------------------- .pt

def _load_pt(data: bytes, *, label: str, max_entries: int) -> tuple[Tensor, list[str]]:
    """A torch.save file (zip format) holding a tensor or a dict with exactly one tensor; never unpickles."""
    if not data.startswith(_ZIP_MAGIC):
        raise UnsupportedFormatError(
            f"{label} is not in PyTorch's zip format (torch.save since PyTorch 1.6); older or other formats "
            "are not supported."
        )
    byte_limit = max_entries * BINARY_BYTES_PER_ENTRY + BINARY_OVERHEAD_BYTES
    with zipfile.ZipFile(io.BytesIO(data)) as archive:  # refuse a zip bomb before torch inflates it
        _check_byte_size(sum(info.file_size for info in archive.infolist()), byte_limit, label)
    loaded = load_weights_only(data, label)
    tensor, notices = _pick_tensor(loaded, label)
    return _tensor_to_matrix(tensor, label, max_entries, notices)


def _pick_tensor(loaded, label: str) -> tuple[Tensor, list[str]]:
    """The tensor itself, or the only tensor value of a dict."""
    if isinstance(loaded, Tensor):
        return loaded, []
    if isinstance(loaded, Mapping):
        keys = [key for key, value in loaded.items() if isinstance(value, Tensor)]
        if len(keys) == 1:
            return loaded[keys[0]], [f"Using the tensor stored under the key {quote(keys[0])}."]
        if not keys:
            raise ParseError(f"{label} holds a dictionary with no tensor in it.")
        listed = ", ".join(quote(k) for k in keys[:_MAX_LISTED_NAMES])
        more = f" and {len(keys) - _MAX_LISTED_NAMES} more" if len(keys) > _MAX_LISTED_NAMES else ""
        raise ParseError(f"{label} holds {len(keys)} tensors ({listed}{more}); it must hold exactly one.")
    raise ParseError(
        f"{label} holds a {type(loaded).__name__}, not a tensor or a dictionary with one tensor."
    )


def _tensor_to_matrix(
    tensor: Tensor, label: str, max_entries: int, notices: list[str]
) -> tuple[Tensor, list[str]]:
    """Check a loaded tensor like a .npy header, then convert it like a .npy array."""
    if tensor.layout != torch.strided or tensor.is_quantized:
        raise UnsupportedFormatError(f"{label} holds a sparse or quantized tensor; save a dense one.")
    if tensor.is_complex():
        raise UnsupportedFormatError(f"{label} holds complex numbers; only real numbers are supported.")
    _check_matrix_shape(tuple(tensor.shape), label, max_entries, holder="tensor")
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16; float32 holds it exactly
        tensor = tensor.to(torch.float32)
    values, more = _matrix_from_array(tensor.numpy(), label)
    return values, [*notices, *more]
