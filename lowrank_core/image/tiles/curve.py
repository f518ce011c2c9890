"""The tile SVD's rate–distortion curve, measured on the same working copy as ``image.rate_distortion``, so
that it can be drawn beside the global SVD, JPEG and downsampling (``RateDistortion.combined``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import Tensor

from ..._checks import image_stack
from ...errors import LowRankError
from ...limits import RD_MAX_SIDE
from ..pixels import working_copy
from ..rate_distortion import RateDistortion, RatePoint, decoded_quality
from .codec import factorize_tiles
from .geometry import check_dtype, whole_number

__all__ = ["TILE_CURVE_DTYPES", "tile_curve_name", "tile_rate_distortion"]

TILE_CURVE_DTYPES = ("float16", "int8")  # the precisions the curve takes the better of, as the global SVD's
MAX_CURVE_POINTS = 40  # budgets measured at most (each is one allocation, encode and decode per dtype)


def tile_curve_name(tile_side: int) -> str:
    """The codec name of the tile SVD's points: "tiles-16" for 16 × 16 tiles."""
    return f"tiles-{tile_side}"


def tile_rate_distortion(pixels: Tensor, mode: str, *, tile_side: int, max_side: int = RD_MAX_SIDE,
                         dtypes: tuple[str, ...] = TILE_CURVE_DTYPES, count: int = 12,
                         budgets: Sequence[int] | None = None, device=None) -> RateDistortion:
    """PSNR and SSIM against bytes of the tile SVD at ``count`` byte budgets, on the working copy.

    The copy is ``working_copy(pixels, max_side)``, as in ``rate_distortion``, and is factored in tiles
    once. The budgets are spread geometrically from the smallest tile file (at the cheapest of ``dtypes``)
    to the raw 8-bit size of the copy (or less, when every tile is at its most accurate option sooner), or
    given. At each budget the file is written at every dtype that fits and the one with the higher measured
    PSNR is kept: one point per budget, whose bytes are the whole file's (header, rank codes, means,
    factors, scales, raw tiles) and whose quality is measured on its 8-bit decode.

    Parameters
    ----------
    pixels : Tensor of shape (C, H, W) in [0, 1]
    mode : {"rgb", "luminance", "ycbcr"}
    tile_side : {8, 16, 32, 64}
    dtypes : tuple of {"float32", "float16", "int8"}
    count : int
        Budgets to measure, 2 .. MAX_CURVE_POINTS.
    budgets : sequence of int, optional
        The byte budgets instead (1 .. MAX_CURVE_POINTS of them, each at least the smallest file at one of
        ``dtypes``); ``count`` is then ignored.

    Returns
    -------
    RateDistortion
        Its points have codec ``tile_curve_name(tile_side)`` and settings like "16×16 tiles, int8".
    """
    count = whole_number(count, "count")
    if budgets is None and not 2 <= count <= MAX_CURVE_POINTS:
        raise LowRankError(f"count must be between 2 and {MAX_CURVE_POINTS}; got {count}")
    if budgets is not None and not 1 <= len(budgets) <= MAX_CURVE_POINTS:
        raise LowRankError(f"budgets must hold 1 to {MAX_CURVE_POINTS} byte counts; got {len(budgets)}")
    if not dtypes:
        raise LowRankError("dtypes must name at least one precision; got none")
    dtypes = tuple(check_dtype(dtype) for dtype in dtypes)
    pixels = image_stack(pixels).float()
    copy = working_copy(pixels, max_side=max_side)  # (C, h, w)
    factorization = factorize_tiles(copy, mode=mode, tile_side=tile_side, device=device)
    reference = factorization.reference  # (C_out, h, w), as rate_distortion's
    h, w = copy.shape[-2:]
    smallest = {dtype: factorization.minimum_bytes(dtype) for dtype in dtypes}
    low = min(smallest.values())
    if budgets is None:
        high = max(low + 1, min(max(factorization.maximum_bytes(d) for d in dtypes), reference.numel()))
        budgets = np.unique(np.round(np.geomspace(low, high, count)).astype(np.int64))
    budgets = [whole_number(budget, "byte budget") for budget in budgets]
    if min(budgets) < low:
        raise LowRankError(f"every byte budget must be at least {low:,} (the smallest tile file of this "
                           f"working copy in {tile_side}×{tile_side} tiles); got {min(budgets):,}")
    name, points = tile_curve_name(factorization.tile_side), []
    for budget in budgets:
        results = [factorization.compress(budget=budget, dtype=dtype) for dtype in dtypes
                   if smallest[dtype] <= budget]
        best = max(results, key=lambda result: result.measured_psnr)
        value_psnr, value_ssim = decoded_quality(reference, best.image.float() / 255.0)
        points.append(RatePoint(name, f"{tile_side}×{tile_side} tiles, {best.dtype}", best.total_bytes,
                                8 * best.total_bytes / (h * w), value_psnr, value_ssim))
    return RateDistortion(tuple(points), h, w, pixels.shape[1], pixels.shape[2], factorization.mode)
