"""What a rank-r factorization costs: parameters, bytes and FLOPs, counted honestly.

Counting conventions (each function says what it counts):
- dense: m·n numbers per channel.
- factored: r·(m + n) numbers per channel with Σ folded into a = U_r diag(S_r), as the notebook does;
  r·(m + n + 1) when Σ is stored on its own.
- bytes: the factored numbers at float32 (4 B), float16 (2 B), or int8 (1 B) plus one float32 scale per
  factor vector (2r scales per channel: one per column of a, one per row of b), against the raw 8-bit
  pixels (m·n·C bytes).
- FLOPs of one matrix–vector product: W @ x costs 2mn, a @ (b @ x) costs 2r(m + n) (a multiply and an add
  per stored number).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .errors import LowRankError

__all__ = [
    "ParameterBudget",
    "parameter_budget",
    "StorageBytes",
    "storage_bytes",
    "break_even_rank",
    "flops",
    "quantize",
    "DTYPE_BYTES",
    "INT8_SCALE_BYTES",
    "size_ratio",
]

DTYPE_BYTES = {"float32": 4, "float16": 2, "int8": 1}
INT8_SCALE_BYTES = 4  # one float32 scale per factor vector


def _check(m: int, n: int, rank: int, channels: int = 1) -> None:
    """Positive sizes and 0 <= rank <= min(m, n)."""
    for name, value in (("m", m), ("n", n), ("channels", channels), ("rank", rank)):
        try:
            whole = not isinstance(value, bool | str) and float(value).is_integer()
        except (TypeError, ValueError):  # None, an array...
            whole = False
        if not whole:
            raise LowRankError(f"{name} must be a whole number; got {value!r}")
    if m < 1 or n < 1 or channels < 1:
        raise LowRankError(f"sizes must be positive; got m={m}, n={n}, channels={channels}")
    if not 0 <= rank <= min(m, n):
        raise LowRankError(f"rank must be between 0 and min(m, n) = {min(m, n)}; got {rank}")


@dataclass(frozen=True)
class ParameterBudget:
    """Number of stored values, dense against factored, over all channels.

    Attributes
    ----------
    dense : int
        m·n·C.
    factored : int
        r·(m + n)·C, Σ folded into a.
    factored_with_sigma : int
        r·(m + n + 1)·C, Σ stored separately.
    ratio : float
        dense / factored (how many times smaller the factors are; inf at rank 0).
    break_even_rank : float
        mn / (m + n): factoring saves numbers only below it.
    """

    dense: int
    factored: int
    factored_with_sigma: int
    ratio: float
    break_even_rank: float

    @property
    def saves(self) -> bool:
        """True when the factors hold fewer numbers than the dense matrix."""
        return self.factored < self.dense


def break_even_rank(m: int, n: int) -> float:
    """Rank mn / (m + n) at which r(m + n) equals mn; factoring pays strictly below it."""
    _check(m, n, 0)
    return m * n / (m + n)


def parameter_budget(m: int, n: int, rank: int, *, channels: int = 1) -> ParameterBudget:
    """Count the numbers stored by an m×n matrix (per channel) and by its rank-r factors."""
    _check(m, n, rank, channels)
    dense = m * n * channels
    factored = rank * (m + n) * channels
    return ParameterBudget(
        dense=dense,
        factored=factored,
        factored_with_sigma=rank * (m + n + 1) * channels,
        ratio=dense / factored if factored else float("inf"),
        break_even_rank=break_even_rank(m, n),
    )


@dataclass(frozen=True)
class StorageBytes:
    """Bytes of the rank-r factors by dtype, against the raw 8-bit pixels.

    Attributes
    ----------
    float32, float16, int8 : int
        Bytes of a and b at that dtype (int8 includes its 2r float32 scales per channel).
    raw : int
        m·n·C bytes: one byte per pixel and channel.
    """

    float32: int
    float16: int
    int8: int
    raw: int

    def ratio(self, dtype: str) -> float:
        """raw / factor bytes at ``dtype`` (above 1 means the factors are smaller than the pixels)."""
        size = self.of(dtype)
        return self.raw / size if size else float("inf")

    def of(self, dtype: str) -> int:
        """Bytes at ``dtype`` ("float32", "float16" or "int8")."""
        if dtype not in DTYPE_BYTES:
            raise LowRankError(f"dtype must be one of {tuple(DTYPE_BYTES)}; got {dtype!r}")
        return getattr(self, dtype)


def storage_bytes(m: int, n: int, rank: int, *, channels: int = 1) -> StorageBytes:
    """Bytes needed to store rank-r factors of C channels of an m×n matrix, and the raw 8-bit size."""
    _check(m, n, rank, channels)
    numbers = rank * (m + n) * channels
    return StorageBytes(
        float32=numbers * DTYPE_BYTES["float32"],
        float16=numbers * DTYPE_BYTES["float16"],
        int8=numbers * DTYPE_BYTES["int8"] + 2 * rank * channels * INT8_SCALE_BYTES,
        raw=m * n * channels,
    )


def flops(m: int, n: int, rank: int, *, batch: int = 1) -> tuple[int, int]:
    """FLOPs of ``W @ x`` (2mn·batch) and of ``a @ (b @ x)`` (2r(m + n)·batch) for x of shape (n, batch)."""
    _check(m, n, rank)
    return 2 * m * n * batch, 2 * rank * (m + n) * batch


def quantize(values: Tensor, dtype: str, *, dim: int = -1) -> Tensor:
    """Round ``values`` through ``dtype`` and back to float32, as storing them would.

    float16 is a cast. int8 is symmetric with one float32 scale per slice along ``dim`` (max|v| / 127),
    the scheme ``storage_bytes`` counts: use dim=-2 for the columns of a and dim=-1 for the rows of b.
    """
    if dtype == "float32":
        return values.float()
    if dtype == "float16":
        return values.half().float()
    if dtype != "int8":
        raise LowRankError(f"dtype must be one of {tuple(DTYPE_BYTES)}; got {dtype!r}")
    scale = values.abs().amax(dim=dim, keepdim=True).float() / 127
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return (torch.round(values / scale).clamp(-127, 127) * scale).float()


def size_ratio(size: int, other: int, other_name: str) -> str | None:
    """How ``size`` bytes compare with ``other``: '4.2× smaller than the PNG', '1.3× larger than JPEG q90'.

    None when either size is 0 (nothing to compare).
    """
    if size <= 0 or other <= 0:
        return None
    if size <= other:
        return f"{other / size:.1f}× smaller than {other_name}"
    return f"{size / other:.1f}× larger than {other_name}"
