"""Rank rules that meet their target as measured on the 8-bit image, not only as Eckart–Young predicts.

``ImageCodec.rank_for_psnr`` is exact for the truncated channels in the mode's colour space, before the
factors are rounded to their precision and the image to 8 bits. What a viewer (and the PSNR card, and the
written file) sees differs: YCbCr errors change size when turned back into RGB, int8 factors add their own
error, and clipping and 8-bit rounding move it a little more. These rules start from the prediction and
search the ranks, measuring each candidate exactly as the page's card does (``metrics.image_error`` of
``to_uint8(codec.reconstruct(ranks, dtype=...))`` against the reference), so the rank they give meets the
target on the result; when even the largest stored rank does not (an int8 floor, a preview's cap), they say
so (``met`` is False) and give the largest.

Two targets: a PSNR in dB, and an energy share measured as ``1 − (‖x − x̂‖ / ‖x‖)²``. One group of channels
(RGB, luminance) searches its rank directly; YCbCr raises both groups' predicted targets together, in steps
of a tenth of a dB, so luma and chroma keep the balance the prediction gives them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from ..errors import LowRankError
from ..metrics import image_error
from ..rank import rank_for_psnr
from .codec import ImageCodec
from .pixels import to_uint8

__all__ = ["Encoder", "MeasuredRule", "ranks_for_psnr", "ranks_for_energy", "measure"]

_MAX_EXTRA_DB = 40.0  # YCbCr: how far above the target the per-group prediction may be pushed
_STEP_DB = 0.1


@dataclass(frozen=True)
class MeasuredRule:
    """The ranks a measured rule chose.

    Attributes
    ----------
    ranks : tuple of int
        One per channel group ((r,) or (r_luma, r_chroma)).
    value : float
        What was measured at ``ranks``: PSNR in dB, or the energy share.
    met : bool
        True when ``value`` reaches the target; False when even the largest ranks do not.
    predicted : tuple of int
        Eckart–Young's ranks for the target in the mode's colour space (before rounding).
    measurements : int
        Reconstructions measured to find ``ranks``.
    """

    ranks: tuple[int, ...]
    value: float
    met: bool
    predicted: tuple[int, ...]
    measurements: int


Encoder = Callable[[Tensor], Tensor]  # 8-bit (C, H, W) -> what a file of it decodes to, 8-bit (C', H, W)


def measure(codec: ImageCodec, reference: Tensor, ranks, *, dtype: str,
            encode: Encoder | None = None) -> tuple[float, float]:
    """(PSNR dB, energy share) of the 8-bit rank-r image at ``dtype`` against ``reference``, as the card.

    ``encode`` (optional) maps the 8-bit image to what a written file of it decodes to (a JPEG's loss), so
    a rule can meet its target on the file itself.
    """
    shown = to_uint8(codec.reconstruct(ranks, dtype=dtype))  # (C, H, W) uint8
    if encode is not None:
        shown = encode(shown)
    error = image_error(reference, shown)
    return error.psnr, 1.0 - error.relative ** 2


def _predicted_for_psnr(codec: ImageCodec, target_db: float) -> tuple[int, ...]:
    """Per group, Eckart–Young's smallest rank for ``target_db`` in the mode's colour space."""
    out = []
    for group in codec.groups:
        S, total = codec._group_S(group)
        shape = (len(group), codec.height, codec.width)
        out.append(max(1, min(rank_for_psnr(S, shape, target_db, total_energy=total), codec.max_rank)))
    return tuple(out)


def _search_one(top: int, start: int, meets: Callable[[tuple[int, ...]], bool]) -> int:
    """The smallest rank r in 1..top with ``meets((r,))`` (assumed to hold from some rank on), searched by
    galloping from ``start`` and then bisecting; ``top`` when no rank meets it."""
    if meets((start,)):
        low, high, step = 0, start, 1  # invariant: low fails (0 stands for "none below"), high meets
        while high - step >= 1:
            if not meets((high - step,)):
                low = high - step
                break
            high -= step
            step *= 2
    else:
        low, high, step = start, None, 1
        while high is None:
            candidate = min(low + step, top)
            if meets((candidate,)):
                high = candidate
            elif candidate == top:
                return top
            else:
                low, step = candidate, step * 2
    while high - low > 1:
        middle = (low + high) // 2
        if meets((middle,)):
            high = middle
        else:
            low = middle
    return high


def _search(codec: ImageCodec, reference: Tensor, target: float, *, dtype: str, which: int,
            predicted: tuple[int, ...], predict: Callable[[float], tuple[int, ...]],
            encode: Encoder | None) -> MeasuredRule:
    """The smallest ranks whose measured quality (``which``: 0 PSNR, 1 energy) reaches ``target``."""
    cache: dict[tuple[int, ...], float] = {}

    def value(ranks: tuple[int, ...]) -> float:
        if ranks not in cache:
            cache[ranks] = measure(codec, reference, ranks, dtype=dtype, encode=encode)[which]
        return cache[ranks]

    def meets(ranks: tuple[int, ...]) -> bool:
        return value(ranks) >= target

    if len(codec.groups) == 1:
        ranks = (_search_one(codec.max_rank, predicted[0], meets),)
    else:  # YCbCr: push both groups' predicted target up (or down) together until the RGB result meets it
        steps = int(_MAX_EXTRA_DB / _STEP_DB)
        memo: dict[int, tuple[int, ...]] = {}

        def candidate(k: int) -> tuple[int, ...]:  # the prediction for target + k steps, k in -steps..steps
            if k not in memo:
                memo[k] = predict(k * _STEP_DB)
            return memo[k]

        if meets(candidate(0)):
            high = 0
            while high > -steps and meets(candidate(high - 1)):  # the prediction may overshoot a little
                high -= 1
        else:
            low, high = 0, steps
            if not meets(candidate(high)):
                ranks = (codec.max_rank,) * len(codec.groups)
                return MeasuredRule(ranks, value(ranks), meets(ranks), predicted, len(cache))
            while high - low > 1:
                middle = (low + high) // 2
                if meets(candidate(middle)):
                    high = middle
                else:
                    low = middle
        ranks = candidate(high)
    return MeasuredRule(ranks, value(ranks), meets(ranks), predicted, len(cache))


def ranks_for_psnr(codec: ImageCodec, reference: Tensor, target_db: float, *, dtype: str = "float32",
                   encode: Encoder | None = None) -> MeasuredRule:
    """The smallest ranks whose 8-bit image at ``dtype`` has at least ``target_db`` of PSNR.

    Parameters
    ----------
    codec : ImageCodec
    reference : Tensor of shape (C, H, W)
        ``reference_image(pixels, codec.mode)``: what the PSNR is measured against.
    target_db : float
        > 0.
    dtype : {"float32", "float16", "int8"}
    encode : callable, optional
        8-bit image -> its written file decoded (see ``measure``); default the 8-bit image itself.
    """
    if not target_db > 0 or not math.isfinite(target_db):
        raise LowRankError(f"target PSNR must be a positive number of dB; got {target_db}")
    predicted = _predicted_for_psnr(codec, target_db)
    return _search(codec, reference, target_db, dtype=dtype, which=0, predicted=predicted,
                   predict=lambda extra: _predicted_for_psnr(codec, max(target_db + extra, _STEP_DB)),
                   encode=encode)


def ranks_for_energy(codec: ImageCodec, reference: Tensor, fraction: float, *, dtype: str = "float32",
                     encode: Encoder | None = None) -> MeasuredRule:
    """The smallest ranks whose 8-bit image keeps ``fraction`` of ‖x‖², measured: 1 − (‖x − x̂‖/‖x‖)².

    The prediction is ``ImageCodec.rank_for_energy`` (per group, in the mode's colour space); YCbCr pushes
    the target as a PSNR would (the measured share is 1 − MSE·N/‖x‖², so a dB step is the same step).
    """
    if not 0.0 < fraction <= 1.0:
        raise LowRankError(f"energy fraction must be in (0, 1]; got {fraction}")
    predicted = tuple(max(1, r) for r in codec.rank_for_energy(fraction))
    energy = float((reference.double() ** 2).sum())
    pixels = reference.numel()

    def predict(extra_db: float) -> tuple[int, ...]:
        lost = max(1.0 - fraction, 1e-12) * energy / pixels  # the MSE this share allows
        return _predicted_for_psnr(codec, max(10 * math.log10(1.0 / lost) + extra_db, _STEP_DB))

    return _search(codec, reference, fraction, dtype=dtype, which=1, predicted=predicted, predict=predict,
                   encode=encode)
