"""The matrix loader: CSV / TSV / text, pasted text, and .npy, .npz and .pt files -> an (m, n) float32 tensor.

``load_matrix`` never unpickles (``allow_pickle=False``, ``weights_only=True``), checks an array's header
(shape, dtype) and a file's byte size before reading its data, bounds the entries, and raises nothing but
``InputError`` subclasses whose message names the row and column (or the array) of the problem.
"""

from __future__ import annotations

import io
import itertools
import math
import pickle
import re
import zipfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .._checks import file_bytes, file_label, megabytes, plural, quote, whole_number
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
_FLOAT32_MAX = float(np.finfo(np.float32).max)
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


def _check_finite(values: np.ndarray, place: Callable[[int, int], str]) -> None:
    """NonFiniteError naming the first NaN, infinity, or value beyond float32, found in row-major order.

    ``place(row, column)`` (1-based) says where it is for the user, e.g. "Row 3, column 2".
    """
    bad = ~np.isfinite(values) | (np.abs(values) > _FLOAT32_MAX)
    if not bad.any():
        return
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


# ---------------------------------------------------------------------------------------------- text

_NON_BLANK = re.compile(r"[^\r\n]+")
_DELIMITERS = ("\t", ";", ",")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_SEPARATOR_NAMES = {"\t": "tabs", ";": "semicolons", ",": "commas", None: "spaces"}
_SNIFF_LINES = 20


def _load_text(data: bytes | str, *, label: str, max_entries: int, source: str | None) -> LoadedMatrix:
    """Parse delimited text into a matrix, one line at a time (memory stays within ``max_entries``)."""
    _check_byte_size(len(data), max_entries * TEXT_BYTES_PER_ENTRY, label)
    text = _decode_text(data, label) if isinstance(data, bytes) else data.removeprefix("\ufeff")
    lines = _numbered_lines(text)
    sample = list(itertools.islice(lines, _SNIFF_LINES))
    delimiter = _sniff_delimiter([line for _, line in sample if not _is_comment(line)])
    table = _parse_lines(itertools.chain(sample, lines), delimiter, max_entries=max_entries, label=label)
    _check_finite(table.values, lambda r, c: f"Row {table.line_numbers[r - 1]}, column {c}")
    values = torch.from_numpy(table.values.astype(np.float32))  # (m, n)
    return LoadedMatrix(values, table.notices, source or "text")


def _decode_text(data: bytes, label: str) -> str:
    """UTF-8 (BOM skipped) or ParseError naming the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ParseError(
            f"{label} is not UTF-8 text (byte 0x{data[err.start]:02x} at position {err.start} is not valid). "
            "Save it as UTF-8 CSV, or upload a .npy file."
        ) from err


def _numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) of each non-blank line; \\n, \\r\\n and \\r all end a line."""
    number, position = 1, 0
    for match in _NON_BLANK.finditer(text):
        gap = text[position : match.start()]  # only line breaks
        number += gap.count("\n") + gap.count("\r") - gap.count("\r\n")
        position = match.end()
        if not match.group().isspace():
            yield number, match.group()


def _is_comment(line: str) -> bool:
    """Whether a line starts with '#' (after spaces)."""
    return line.lstrip().startswith("#")


def _sniff_delimiter(sample: list[str]) -> str | None:
    """The delimiter on the most sample lines (tab, then semicolon, then comma on ties); None: spaces."""
    counts = [sum(delimiter in line for line in sample) for delimiter in _DELIMITERS]
    best = max(counts)
    return _DELIMITERS[counts.index(best)] if best else None


def _split(line: str, delimiter: str | None) -> list[str]:
    """The cells of a line, without surrounding spaces or double quotes."""
    cells = line.split() if delimiter is None else line.split(delimiter)
    return [cell.strip().strip('"').strip() for cell in cells]


def _is_number(cell: str) -> bool:
    """Whether ``float(cell)`` succeeds."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _looks_numeric(cell: str) -> bool:
    """A number, or one written with a decimal comma (so such a first row is not taken for a header)."""
    return _is_number(cell) or _DECIMAL_COMMA.fullmatch(cell) is not None


@dataclass(frozen=True)
class _Table:
    """Parsed text: values (m, n) float64, the file line of each row (m,), notices."""

    values: np.ndarray
    line_numbers: array
    notices: tuple[str, ...]


def _parse_lines(
    lines: Iterable[tuple[int, str]], delimiter: str | None, *, max_entries: int, label: str
) -> _Table:
    """Rows of numbers from numbered lines: header, comments, ragged rows and bad cells handled here."""
    flat, line_numbers = array("d"), array("q")
    header: list[str] | None = None
    width = first_line = None
    comments = 0
    for number, line in lines:
        if _is_comment(line):
            comments += 1
            continue
        cells = _split(line, delimiter)
        if width is None and header is None and not any(map(_looks_numeric, cells)):
            _refuse_mixed_separators(number, line, delimiter)  # numbers written otherwise are no header
            header = cells
            continue
        if width is None:
            width, first_line = len(cells), number
        elif len(cells) != width:
            _refuse_mixed_separators(number, line, delimiter)
            raise ParseError(
                f"Row {number} has {plural(len(cells), 'value')}, expected {width} (like row {first_line})."
            )
        if len(flat) + width > max_entries:
            raise TooLargeError(f"{label} has more than {max_entries:,} values (the limit) by row {number}.")
        try:
            flat.extend(map(float, cells))
        except ValueError:
            raise _bad_cell(number, cells) from None
        line_numbers.append(number)
    if width is None:
        if header is not None:
            raise EmptyInputError(f"{label} has a row of column names but no numbers below it.")
        raise EmptyInputError(f"{label} contains no numbers.")
    notices = []
    if header is not None:
        notices.append(f"The first row ({quote(', '.join(header))}) was read as column names, not numbers.")
    if comments:
        notices.append(f"Skipped {plural(comments, 'comment line')} starting with #.")
    values = np.frombuffer(flat, dtype=np.float64).reshape(len(line_numbers), width)  # (m, n)
    return _Table(values, line_numbers, tuple(notices))


def _refuse_mixed_separators(line_number: int, line: str, delimiter: str | None) -> None:
    """ParseError when a row holds only numbers if split at another separator than the file's (pasted rows
    of two origins: "1 2 3" above "4,5,6"), instead of reading it as column names or a short row."""
    for other in (*_DELIMITERS, None):
        cells = _split(line, other)
        if other != delimiter and len(cells) > 1 and all(map(_is_number, cells)):
            raise ParseError(
                f"Row {line_number} ({quote(line.strip())}) separates its numbers with "
                f"{_SEPARATOR_NAMES[other]}, but the other rows use {_SEPARATOR_NAMES[delimiter]}: use one "
                "separator on every row."
            )


def _bad_cell(line_number: int, cells: list[str]) -> ParseError:
    """ParseError naming the first cell of a row that is not a number."""
    column = next(i for i, cell in enumerate(cells, start=1) if not _is_number(cell))
    cell = cells[column - 1]
    if not cell:
        return ParseError(f"Row {line_number}, column {column} is empty; every cell must hold a number.")
    hint = " Use a dot as the decimal separator." if _DECIMAL_COMMA.fullmatch(cell) else ""
    return ParseError(f"Row {line_number}, column {column} is {quote(cell)}, not a number.{hint}")


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
    """(m, n) float32 tensor from a 1-D or 2-D real array (bool, int or float), checking every value."""
    notices = []
    if raw.ndim == 1:
        count = raw.shape[0]
        notices.append(f"{label} holds a list of {count} values; it is used as a single row (1×{count}).")
        raw = raw.reshape(1, -1)
    values = raw.astype(np.float64)  # native byte order, a copy
    if raw.dtype.kind == "b":
        notices.append("True/False values were converted to 1/0.")
    elif raw.dtype.kind in "iu":
        notices.append(f"Whole numbers ({raw.dtype.name}) were converted to 32-bit floats.")
        if float(np.abs(values).max()) > _INT_EXACT_IN_FLOAT32:
            notices.append("Some exceed 16,777,216, so they were rounded: float32 cannot hold them exactly.")
    _check_finite(values, lambda r, c: f"Row {r}, column {c}{within}")
    return torch.from_numpy(values.astype(np.float32)), notices


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
    try:
        loaded = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as err:
        raise UnsafeFileError(
            f"{label} contains Python objects other than tensors; it is refused because loading it could run "
            "code."
        ) from err
    except RuntimeError as err:
        if "weights_only" in str(err).lower() or "weights only" in str(err).lower():
            raise UnsafeFileError(f"{label} needs full unpickling to load; it is refused.") from err
        raise
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
    if tensor.is_floating_point():
        tensor = tensor.to(torch.float64)
    values, more = _matrix_from_array(tensor.numpy(), label)
    return values, [*notices, *more]
