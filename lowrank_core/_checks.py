"""Validators and message helpers shared by the core's modules (private to the package).

Each number validator takes the error class to raise, so every caller keeps the exact type and message it
had when it wrote its own. The three whole-number checks accept different things on purpose:

- ``whole_number``: a setting a person typed (a generator's size, a seed, a pixel budget): an ``int`` (or
  NumPy integer), or a float with no fraction; bounded; the message quotes the value.
- ``whole_value``: a rank or an index given to the engine: anything ``int()`` reads exactly (3, 3.0, a NumPy
  or 0-d torch integer), never a bool.
- ``is_whole``: a yes/no test for a finite real with no fraction (the layer module's sizes and ranks).
"""

from __future__ import annotations

import math
import numbers

from torch import Tensor

from .errors import EmptyInputError, InputError, RankError, ShapeError

__all__ = [
    "MAX_ECHO_CHARS",
    "quote",
    "plural",
    "megabytes",
    "whole_number",
    "real_number",
    "whole_value",
    "is_whole",
    "layer_sizes",
    "layer_rank",
    "image_stack",
    "file_label",
    "file_bytes",
]

MAX_ECHO_CHARS = 40  # never quote more of the user's text than this in a message


# ============================================================================================= messages


def quote(value, limit: int = MAX_ECHO_CHARS) -> str:
    """``repr`` of a value, shortened to about ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plural(count: int, word: str) -> str:
    """'1 value', '3 values'."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def megabytes(size: int) -> str:
    """A byte count for people: '12.3 MB'."""
    return f"{size / 1e6:.1f} MB"


# ============================================================================================== numbers


def whole_number(name: str, value, *, minimum: int, maximum: int, error: type[Exception]) -> int:
    """``value`` as an int in [minimum, maximum], or ``error`` naming ``name`` and the value."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise error(f"{name} must be a whole number; got {quote(value)}.")
    value = int(value)
    if not minimum <= value <= maximum:
        raise error(f"{name} must be between {minimum} and {maximum}; got {value}.")
    return value


def real_number(name: str, value, *, minimum: float, maximum: float, error: type[Exception]) -> float:
    """``value`` as a finite float in [minimum, maximum], or ``error`` naming ``name`` and the value."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise error(f"{name} must be a number; got {quote(value)}.")
    value = float(value)
    if not math.isfinite(value) or not minimum <= value <= maximum:
        raise error(f"{name} must be between {minimum:g} and {maximum:g}; got {value:g}.")
    return value


def whole_value(value, what: str, *, error: type[Exception]) -> int:
    """``value`` as an int when it is a whole number (not a bool); else ``error`` naming it."""
    try:
        whole = int(value)
        valid = not isinstance(value, bool) and whole == value
    except (TypeError, ValueError, OverflowError, RuntimeError):  # None, "abc", nan, inf, a long tensor
        valid = False
    if not valid:
        raise error(f"{what} must be a whole number; got {value!r}")
    return whole


def rank_setting(ranks, *, groups: int, mode: str, top: int) -> tuple[int, ...]:
    """A rank setting checked: an int (the same rank for every group) or one whole number in 0..top per
    group (``groups`` of the colour ``mode``: 1, or 2 for YCbCr's luma and chroma)."""
    if is_whole(ranks):
        ranks = (int(ranks),) * groups
    ranks = tuple(ranks)
    if len(ranks) != groups:
        raise RankError(f"expected {groups} rank(s) for the {mode} mode; got {ranks}")
    for r in ranks:
        if not is_whole(r):
            raise RankError(f"rank must be a whole number; got {r!r}")
        if not 0 <= int(r) <= top:
            raise RankError(f"rank must be between 0 and {top}; got {r}")
    return tuple(int(r) for r in ranks)


def is_whole(value) -> bool:
    """True for a finite whole number (an int, or a float/NumPy scalar with no fraction), not a bool."""
    return (not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
            and int(value) == value)


# =============================================================================================== layers


def layer_sizes(in_features: int, out_features: int) -> None:
    """Positive whole-number sizes of a linear layer, else ShapeError."""
    for label, value in (("in_features", in_features), ("out_features", out_features)):
        if not is_whole(value) or value < 1:
            raise ShapeError(f"{label} must be a whole number >= 1; got {value!r}")


def layer_rank(rank, in_features: int, out_features: int) -> int:
    """A rank in 1..min(in, out) for an (out, in) weight, else RankError naming the bad value."""
    limit = min(in_features, out_features)
    if not is_whole(rank):
        raise RankError(f"rank must be a whole number; got {rank!r}")
    rank = int(rank)
    if not 1 <= rank <= limit:
        raise RankError(
            f"rank must be between 1 and min(out_features, in_features) = {limit} for a "
            f"{out_features}×{in_features} weight; got {rank}"
        )
    return rank


# =============================================================================================== images


def image_stack(x: Tensor, name: str = "pixels") -> Tensor:
    """A (C, H, W) float tensor with C in {1, 3} (an integer one is made float32), else ShapeError."""
    if not isinstance(x, Tensor):
        raise ShapeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    if x.dim() != 3 or x.shape[0] not in (1, 3) or x.shape[1] < 1 or x.shape[2] < 1:
        raise ShapeError(f"{name} must have shape (C, H, W) with C = 1 or 3; got {tuple(x.shape)}")
    return x if x.is_floating_point() else x.float()


# ================================================================================================ files


def file_label(name) -> str:
    """How messages name the file: 'The file 'x.png''."""
    return f"The file {quote(str(name))}"


def file_bytes(data, label: str) -> bytes:
    """``data`` as non-empty bytes, else InputError (not bytes) or EmptyInputError (0 bytes)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InputError(f"{label} must be given as bytes; got {type(data).__name__}.")
    payload = bytes(data)
    if not payload:
        raise EmptyInputError(f"{label} is empty (0 bytes).")
    return payload
