"""Delimited text -> a table of float64 numbers, for ``load_matrix``: one line, and one chunk of a long line,
at a time, so memory follows the entry limit (a one-line file of millions of cells is never split whole).

Also the cells that float64 reads as 0 though they are not (``1e-400``): ``Underflows`` collects them, with
the values that float32 turns into 0 later, for one notice.
"""

from __future__ import annotations

import itertools
import re
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .._checks import plural, quote
from ..errors import EmptyInputError, ParseError, TooLargeError

__all__ = ["TextTable", "Underflows", "decode_text", "read_table"]

_NON_BLANK = re.compile(r"[^\r\n]+")
_MINUS = "\u2212"
_CHUNK_CHARS = 1 << 16  # a long line is split this many characters at a time
_SPACES = (" ", "\t", "\f", "\v")  # separators of a space-separated line (str.split() also splits on these)
_MAX_HEADER_CELLS = 64  # column names kept for the notice
_MANTISSA = re.compile(r"[^eE]*")
_NONZERO_DIGIT = re.compile(r"[1-9]")
_DELIMITERS = ("\t", ";", ",")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_SEPARATOR_NAMES = {"\t": "tabs", ";": "semicolons", ",": "commas", None: "spaces"}
_SNIFF_LINES = 20


@dataclass
class Underflows:
    """Values that became 0 because they are too close to 0 (in float64 while parsing, or in float32)."""

    count: int = 0
    first: tuple[int, int] | None = None  # (row, column), 1-based, in row-major order
    text: str = ""

    def add(self, count: int, where: tuple[int, int], value: float | str) -> None:
        """Count ``count`` more; remember ``where`` when it comes first."""
        self.count += count
        if self.first is None or where < self.first:
            self.first, self.text = where, value if isinstance(value, str) else f"{value:.3g}"

    def notices(self, place: Callable[[int, int], str]) -> list[str]:
        """The notice for the user, or nothing."""
        if not self.count:
            return []
        where = place(*self.first)
        return [f"{plural(self.count, 'value')} too close to 0 for 32-bit floats (below about 1.4e-45) "
                f"became 0; the first: {where[0].lower()}{where[1:]} ({quote(self.text)})."]


def decode_text(data: bytes, label: str) -> str:
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


def _line_cells(line: str, delimiter: str | None) -> Iterator[list[str]]:
    """The cells of a line, about ``_CHUNK_CHARS`` of text at a time: a line of millions of cells is never
    split whole, so the entry limit is checked while it is read."""
    position, size = 0, len(line)
    while size - position > _CHUNK_CHARS:
        cut = _separator_before(line, position, position + _CHUNK_CHARS, delimiter)
        if cut < 0:  # one cell longer than a chunk: it ends at the next separator
            cut = _separator_after(line, position + _CHUNK_CHARS, delimiter)
            if cut < 0:
                break
        yield _split(line[position:cut], delimiter)
        position = cut + 1
    yield _split(line[position:], delimiter)


def _separator_before(line: str, start: int, end: int, delimiter: str | None) -> int:
    """The last separator in ``line[start:end]`` (-1 when there is none)."""
    if delimiter is not None:
        return line.rfind(delimiter, start, end)
    return max(line.rfind(space, start, end) for space in _SPACES)


def _separator_after(line: str, start: int, delimiter: str | None) -> int:
    """The first separator from ``start`` on (-1 when there is none)."""
    if delimiter is not None:
        return line.find(delimiter, start)
    found = [at for at in (line.find(space, start) for space in _SPACES) if at >= 0]
    return min(found, default=-1)


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
class TextTable:
    """Parsed text.

    Attributes
    ----------
    values : ndarray of shape (m, n), float64
    line_numbers : array of m ints
        The file line of each row (1-based), for messages.
    notices : tuple of str
    underflows : Underflows
        Cells read as 0 though they are not (1e-400).
    """

    values: np.ndarray
    line_numbers: array
    notices: tuple[str, ...]
    underflows: Underflows

    def place(self, row: int, column: int) -> str:
        """'Row 7, column 2' for the 1-based ``row`` of ``values`` (its line in the file)."""
        return f"Row {self.line_numbers[row - 1]}, column {column}"


def read_table(text: str, *, max_entries: int, label: str) -> TextTable:
    """Rows of numbers from delimited text (a BOM already removed), one line and one chunk at a time.

    Any line ending; cells split by the first of tab, semicolon or comma found on most of the first lines,
    else by spaces; blank lines and lines starting with ``#`` skipped; a first row with no number at all is
    taken as column names; U+2212 is read as a minus sign. More than ``max_entries`` values is a
    TooLargeError as soon as the reading passes the limit (a line is never split whole).
    """
    notices = []
    if _MINUS in text:  # word processors and typesetting write U+2212 for a minus
        text = text.replace(_MINUS, "-")
        notices.append("Minus signs written as − (U+2212) were read as minus signs.")
    lines = _numbered_lines(text)
    sample = list(itertools.islice(lines, _SNIFF_LINES))
    delimiter = _sniff_delimiter([line for _, line in sample if not _is_comment(line)])
    table = _parse_lines(itertools.chain(sample, lines), delimiter, max_entries=max_entries, label=label)
    return TextTable(table.values, table.line_numbers, (*notices, *table.notices), table.underflows)


def _parse_lines(
    lines: Iterable[tuple[int, str]], delimiter: str | None, *, max_entries: int, label: str
) -> TextTable:
    """Rows of numbers from numbered lines: header, comments, ragged rows and bad cells handled here."""
    flat, line_numbers = array("d"), array("q")
    header: list[str] | None = None
    width = first_line = None
    comments = 0
    underflows = Underflows()
    for number, line in lines:
        if _is_comment(line):
            comments += 1
            continue
        if width is None and header is None and not _any_numeric(line, delimiter):
            _refuse_mixed_separators(number, line, delimiter)  # numbers written otherwise are no header
            header = _split(line[:_CHUNK_CHARS], delimiter)[:_MAX_HEADER_CELLS]
            continue
        count = 0
        for cells in _line_cells(line, delimiter):
            if width is not None and count + len(cells) > width:
                raise _ragged(number, line, delimiter, width, first_line)
            if len(flat) + len(cells) > max_entries:
                raise TooLargeError(
                    f"{label} has more than {max_entries:,} values (the limit) by row {number}.")
            try:
                row = list(map(float, cells))
            except ValueError:
                _refuse_mixed_separators(number, line, delimiter)  # '4 5 6' among rows split at commas
                raise _bad_cell(number, cells, count) from None
            if 0.0 in row:
                _count_underflows(row, cells, (len(line_numbers) + 1, count + 1), underflows)
            flat.extend(row)
            count += len(cells)
        if width is None:
            width, first_line = count, number
        elif count != width:
            raise _ragged(number, line, delimiter, width, first_line)
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
    return TextTable(values, line_numbers, tuple(notices), underflows)


def _any_numeric(line: str, delimiter: str | None) -> bool:
    """Whether any cell of the line is (or looks like) a number; a first row without one is a header."""
    return any(any(map(_looks_numeric, cells)) for cells in _line_cells(line, delimiter))


def _count_underflows(row: list[float], cells: list[str], start: tuple[int, int], found: Underflows) -> None:
    """Record cells read as 0 though their digits are not all 0 (1e-400 underflows even float64).

    ``start`` is (row, column) of ``cells[0]``; rows are counted among the parsed rows, as ``place`` expects.
    """
    lost = [i for i, value in enumerate(row)
            if value == 0.0 and _NONZERO_DIGIT.search(_MANTISSA.match(cells[i])[0])]
    if lost:
        found.add(len(lost), (start[0], start[1] + lost[0]), cells[lost[0]])


def _refuse_mixed_separators(line_number: int, line: str, delimiter: str | None) -> None:
    """ParseError when a row holds only numbers if split at another separator than the file's (pasted rows
    of two origins: "1 2 3" above "4,5,6"), instead of reading it as column names or a short row."""
    head = line[:_CHUNK_CHARS]
    for other in (*_DELIMITERS, None):
        cells = _split(head, other)
        if other != delimiter and len(cells) > 1 and all(map(_is_number, cells)):
            raise ParseError(
                f"Row {line_number} ({quote(head.strip())}) separates its numbers with "
                f"{_SEPARATOR_NAMES[other]}, but the other rows use {_SEPARATOR_NAMES[delimiter]}: use one "
                "separator on every row."
            )


def _ragged(number: int, line: str, delimiter: str | None, width: int, first_line: int) -> ParseError:
    """ParseError for a row whose length differs from the first row's (counted chunk by chunk)."""
    _refuse_mixed_separators(number, line, delimiter)
    count = sum(len(cells) for cells in _line_cells(line, delimiter))
    return ParseError(f"Row {number} has {plural(count, 'value')}, expected {width} (like row {first_line}).")


def _bad_cell(line_number: int, cells: list[str], offset: int = 0) -> ParseError:
    """ParseError naming the first cell of ``cells`` that is not a number (``offset`` cells precede them)."""
    index = next(i for i, cell in enumerate(cells) if not _is_number(cell))
    cell, column = cells[index], offset + index + 1
    if not cell:
        return ParseError(f"Row {line_number}, column {column} is empty; every cell must hold a number.")
    hint = " Use a dot as the decimal separator." if _DECIMAL_COMMA.fullmatch(cell) else ""
    return ParseError(f"Row {line_number}, column {column} is {quote(cell)}, not a number.{hint}")
