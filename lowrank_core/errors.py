"""Typed exceptions of the core.

Every error the user can cause is a ``LowRankError`` (a ``ValueError``), so a page can catch one type and
show its message. Messages are written for a person, not a programmer, and name the bad value.
"""

__all__ = [
    "LowRankError",
    "RankError",
    "InputError",
    "EmptyInputError",
    "ParseError",
    "UnsupportedFormatError",
    "NonFiniteError",
    "ShapeError",
    "TooLargeError",
    "DecompressionBombError",
    "DecodeLimitError",
    "UnsafeFileError",
    "DataFileError",
    "ConvergenceError",
]


class LowRankError(ValueError):
    """Base class of every error raised on purpose by ``lowrank_core``."""


class RankError(LowRankError):
    """A rank outside what the matrix allows (negative, or above min(m, n))."""


class ConvergenceError(LowRankError):
    """The SVD did not converge, even after the fallback."""


class InputError(LowRankError):
    """Data the user supplied (an upload, pasted text, a generator setting) cannot be used."""


class EmptyInputError(InputError):
    """The file or text holds no data."""


class ParseError(InputError):
    """The content is not in the format its name or content claims (text in a CSV cell, a ragged row...)."""


class UnsupportedFormatError(InputError):
    """A file type or pixel mode that is not accepted."""


class NonFiniteError(InputError):
    """NaN or infinity in the data, or values that overflow float32."""


class ShapeError(InputError):
    """The data has the wrong number of dimensions or an unusable shape."""


class TooLargeError(InputError):
    """The data exceeds a size limit."""


class DecompressionBombError(TooLargeError):
    """An image whose header claims far more pixels than allowed; refused before decoding."""


class DecodeLimitError(TooLargeError):
    """Decoding needed more processor time or memory than allowed, and was stopped."""


class UnsafeFileError(InputError):
    """A file that would need pickle (code execution) to load."""


class DataFileError(LowRankError):
    """A file shipped with the package (a sample photograph, the digits) is missing or unreadable."""
