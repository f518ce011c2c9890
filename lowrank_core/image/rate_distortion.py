"""The SVD beside JPEG and plain downsampling on the same image: rate (bytes) against distortion (PSNR, SSIM).

Everything is measured on a working copy of at most ``RD_MAX_SIDE`` pixels a side, with Pillow's encoders
for JPEG and PNG and the core's metrics for the quality.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from .._checks import image_stack
from ..errors import LowRankError
from ..limits import RD_MAX_SIDE
from ..metrics import SSIM_WINDOW, psnr, ssim
from .codec import ImageCodec, prepare_codec
from .colour import reference_image
from .pixels import encode_image, to_pil, to_uint8, working_copy

__all__ = [
    "RD_MAX_SIDE",
    "RD_JPEG_QUALITIES",
    "RD_DOWNSAMPLE_FACTORS",
    "original_sizes",
    "jpeg_roundtrip",
    "downsample_roundtrip",
    "RatePoint",
    "RateDistortion",
    "rate_distortion",
    "rd_ranks",
    "decoded_quality",
    "CurveComparison",
    "compare_curves",
]

RD_JPEG_QUALITIES = (5, 10, 20, 30, 50, 70, 85, 95)
RD_DOWNSAMPLE_FACTORS = (1.5, 2, 3, 4, 8)


def _reference_pil(reference: Tensor) -> Image.Image:
    """The 8-bit Pillow image of a reference (RGB or grey)."""
    return to_pil(reference)


def original_sizes(pixels: Tensor, mode: str) -> dict[str, int]:
    """Bytes of the original (its 8-bit RGB, or grey luma for "luminance") as PNG, JPEG q75 and JPEG q90.

    Returns
    -------
    dict with keys "raw" (H·W·C), "png", "jpeg75", "jpeg90": Pillow's encoded lengths.
    """
    reference = reference_image(pixels, mode)
    image = _reference_pil(reference)
    return {
        "raw": reference.numel(),
        "png": len(encode_image(image, "PNG")),
        "jpeg75": len(encode_image(image, "JPEG", quality=75)),
        "jpeg90": len(encode_image(image, "JPEG", quality=90)),
    }


def _from_pil(image: Image.Image) -> Tensor:
    """(C, H, W) float32 in [0, 1] from an "RGB" or "L" Pillow image."""
    array = np.asarray(image, dtype=np.float32) / 255.0
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def jpeg_roundtrip(reference: Tensor, quality: int) -> tuple[int, Tensor]:
    """Encode the 8-bit reference as JPEG at ``quality`` with Pillow; return (bytes, decoded (C, H, W))."""
    data = encode_image(_reference_pil(reference), "JPEG", quality=quality)
    with Image.open(io.BytesIO(data), formats=["JPEG"]) as decoded:  # the JPEG just written
        return len(data), _from_pil(decoded.convert("L" if reference.shape[0] == 1 else "RGB"))


def downsample_roundtrip(reference: Tensor, factor: float) -> tuple[Image.Image, Tensor]:
    """Shrink the 8-bit reference by ``factor`` (Pillow bicubic, antialiased), then enlarge it back (bicubic).

    Returns
    -------
    (small, restored): the stored 8-bit small image and the (C, H, W) float image a viewer would see.
    """
    image = _reference_pil(reference)
    width, height = image.size
    small_size = (max(1, round(width / factor)), max(1, round(height / factor)))
    small = image.resize(small_size, Image.Resampling.BICUBIC)
    restored = small.resize((width, height), Image.Resampling.BICUBIC)
    return small, _from_pil(restored)


# ============================================================================= rate and distortion


@dataclass(frozen=True)
class RatePoint:
    """One compressed version of the working copy.

    Attributes
    ----------
    codec : str
        "svd-float16", "svd-int8", "jpeg", "downsample-raw" or "downsample-png".
    setting : str
        What was varied, e.g. "rank 12", "rank 12/3" (luma/chroma), "quality 75", "1/4 size".
    bytes : int
        Stored size.
    bits_per_pixel : float
        bytes × 8 / (H·W): comparable between image sizes.
    psnr, ssim : float
        Of the decoded 8-bit image against the working copy's reference (core metrics).
    """

    codec: str
    setting: str
    bytes: int
    bits_per_pixel: float
    psnr: float
    ssim: float


@dataclass(frozen=True)
class RateDistortion:
    """Rate–distortion points of several codecs on one working copy.

    Attributes
    ----------
    points : tuple of RatePoint
    height, width : int
        Size of the working copy the points were measured on.
    source_height, source_width : int
        Size of the image it was made from.
    mode : str
    """

    points: tuple[RatePoint, ...]
    height: int
    width: int
    source_height: int
    source_width: int
    mode: str

    @property
    def codecs(self) -> list[str]:
        """Codec names in first-seen order."""
        return list(dict.fromkeys(p.codec for p in self.points))

    def curve(self, codec: str) -> list[RatePoint]:
        """The points of one codec, sorted by bytes."""
        return sorted((p for p in self.points if p.codec == codec), key=lambda p: (p.bytes, p.psnr))

    @property
    def is_downscaled(self) -> bool:
        """True when the working copy is smaller than the image."""
        return (self.height, self.width) != (self.source_height, self.source_width)

    def combined(self, other: RateDistortion) -> RateDistortion:
        """The points of both, measured on the same working copy (e.g. the tile SVD's beside these)."""
        shape = (self.height, self.width, self.source_height, self.source_width, self.mode)
        other_shape = (other.height, other.width, other.source_height, other.source_width, other.mode)
        if shape != other_shape:
            raise LowRankError(f"rate–distortion points must come from the same working copy and mode; got "
                               f"{self.width}×{self.height} ({self.mode}) and {other.width}×{other.height} "
                               f"({other.mode})")
        return replace(self, points=self.points + other.points)


def rd_ranks(max_rank: int, *, limit_rank: int | None = None, count: int = 10) -> list[int]:
    """About ``count`` ranks spread geometrically from 1 to ``limit_rank`` (default max_rank)."""
    top = max(1, min(max_rank, limit_rank or max_rank))
    ranks = np.unique(np.round(np.geomspace(1, top, num=count)).astype(int))
    return [int(r) for r in ranks if 1 <= r <= max_rank]


def decoded_quality(reference: Tensor, decoded: Tensor) -> tuple[float, float]:
    """(PSNR, SSIM) of a decoded image, rounded to 8 bits, against the reference (SSIM NaN when the image is
    smaller than its window)."""
    test = to_uint8(decoded).float() / 255.0
    value_ssim = ssim(reference, test) if min(reference.shape[-2:]) >= SSIM_WINDOW else math.nan
    return psnr(reference, test), value_ssim


def rate_distortion(pixels: Tensor, mode: str, *, max_side: int = RD_MAX_SIDE, chroma_share: float = 0.25,
                    ranks: list[int] | None = None, jpeg_qualities=RD_JPEG_QUALITIES,
                    downsample_factors=RD_DOWNSAMPLE_FACTORS, device=None) -> RateDistortion:
    """PSNR and SSIM against bytes for SVD (float16 and int8 factors), JPEG and downsampling.

    Everything is measured on ``working_copy(pixels, max_side)`` so that it takes seconds, not minutes:
    the copy is factorized once; the SVD points rebuild the image from factors rounded through float16 or
    int8 (``budget.quantize``), so their quality is what storing them would give. JPEG points encode the
    8-bit reference with Pillow at each quality and count its bytes. Downsampling shrinks the 8-bit
    reference by each factor (bicubic) and enlarges it back; its bytes are the small image's raw 8-bit
    size ("downsample-raw") and its PNG ("downsample-png").

    Parameters
    ----------
    pixels : Tensor of shape (C, H, W) in [0, 1]
    mode : {"rgb", "luminance", "ycbcr"}
        The reference is the luma for "luminance" (JPEG and downsampling then work on the grey image).
    chroma_share : float
        For "ycbcr", the chroma rank is ``ceil(chroma_share × luma rank)``.
    ranks : list of int, optional
        SVD ranks (luma ranks for YCbCr); default ``rd_ranks`` up to where float16 factors reach the raw
        8-bit size.
    """
    pixels = image_stack(pixels).float()
    copy = working_copy(pixels, max_side=max_side)  # (C, h, w)
    reference = reference_image(copy, mode)
    h, w = copy.shape[-2:]
    pixel_count = h * w
    codec = prepare_codec(copy, mode, method="exact", device=device)
    points: list[RatePoint] = []

    def add(name: str, setting: str, size: int, decoded: Tensor) -> None:
        value_psnr, value_ssim = decoded_quality(reference, decoded.cpu())
        points.append(RatePoint(name, setting, int(size), 8 * size / pixel_count, value_psnr, value_ssim))

    if ranks is None:
        ranks = rd_ranks(codec.max_rank, limit_rank=max(1, codec.break_even_rank("float16")))
    for r in ranks:
        setting = _rank_setting(codec, r, chroma_share)
        label = f"rank {setting[0]}" if len(setting) == 1 else f"rank {setting[0]}/{setting[1]}"
        storage = codec.storage(setting)
        for dtype in ("float16", "int8"):
            add(f"svd-{dtype}", label, storage.of(dtype), codec.reconstruct(setting, dtype=dtype))
    for quality in jpeg_qualities:
        size, decoded = jpeg_roundtrip(reference, quality)
        add("jpeg", f"quality {quality}", size, decoded)
    for factor in downsample_factors:
        small, restored = downsample_roundtrip(reference, factor)
        setting = f"1/{factor:g} size"
        add("downsample-raw", setting, small.width * small.height * reference.shape[0], restored)
        same = points[-1]  # the PNG of the small image decodes to the same pixels: same quality
        png = len(encode_image(small, "PNG"))
        points.append(RatePoint("downsample-png", setting, png, 8 * png / pixel_count, same.psnr, same.ssim))
    return RateDistortion(tuple(points), h, w, pixels.shape[1], pixels.shape[2], mode)


def _rank_setting(codec: ImageCodec, rank: int, chroma_share: float) -> tuple[int, ...]:
    """(r,) or, for YCbCr, (r, ceil(chroma_share · r)) clipped to the stored rank."""
    if len(codec.groups) == 1:
        return (min(rank, codec.max_rank),)
    return (min(rank, codec.max_rank), min(math.ceil(chroma_share * rank), codec.max_rank))


@dataclass(frozen=True)
class CurveComparison:
    """Where one rate–distortion curve lies above another.

    Attributes
    ----------
    first, second : str
        Codec names.
    metric : {"psnr", "ssim"}
    low_bpp, high_bpp : float
        The bits-per-pixel range both curves cover (compared on a log grid inside it).
    wins : tuple of (float, float)
        Intervals of bits per pixel where ``first`` is higher than ``second``.
    share : float
        Fraction of the common range (in log bits per pixel) where ``first`` is higher.
    mean_gap : float
        ``first`` minus ``second`` (dB for PSNR), averaged over the common range in log bits per pixel:
        how far apart the curves are, not only which is higher.
    """

    first: str
    second: str
    metric: str
    low_bpp: float
    high_bpp: float
    wins: tuple[tuple[float, float], ...]
    share: float
    mean_gap: float


def _upper_envelope(points: list[RatePoint], metric: str) -> tuple[np.ndarray, np.ndarray]:
    """log-bpp and quality of a curve, made non-decreasing (a codec can always spend bytes it needs not)."""
    x = np.log([p.bits_per_pixel for p in points])
    y = np.maximum.accumulate(np.array([getattr(p, metric) for p in points], dtype=float))
    return x, y


def compare_curves(rd: RateDistortion, first: str, second: str, *, metric: str = "psnr",
                   samples: int = 200) -> CurveComparison | None:
    """Compare two codecs' curves on their common range of bits per pixel (log-linear interpolation).

    Returns None when the two curves do not overlap.
    """
    if metric not in ("psnr", "ssim"):
        raise LowRankError(f"metric must be 'psnr' or 'ssim'; got {metric!r}")
    a = [p for p in rd.curve(first) if math.isfinite(getattr(p, metric))]
    b = [p for p in rd.curve(second) if math.isfinite(getattr(p, metric))]
    if len(a) < 2 or len(b) < 2:
        return None
    xa, ya = _upper_envelope(a, metric)
    xb, yb = _upper_envelope(b, metric)
    low, high = max(xa[0], xb[0]), min(xa[-1], xb[-1])
    if not low < high:
        return None
    grid = np.linspace(low, high, samples)
    gap = np.interp(grid, xa, ya) - np.interp(grid, xb, yb)  # (samples,)
    ahead = gap > 0
    wins, start = [], None
    for x, flag in zip(grid, ahead, strict=True):
        if flag and start is None:
            start = x
        if not flag and start is not None:
            wins.append((float(np.exp(start)), float(np.exp(x))))
            start = None
    if start is not None:
        wins.append((float(np.exp(start)), float(np.exp(grid[-1]))))
    return CurveComparison(first, second, metric, float(np.exp(low)), float(np.exp(high)), tuple(wins),
                           float(ahead.mean()), float(gap.mean()))
