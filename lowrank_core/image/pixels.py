"""Pixels in and out of the codec: 8-bit rounding, Pillow images and encodings, sizes and resizing.

Torch, Pillow and numpy only. ``resize`` is linear and separable, which the codec relies on to resize
factors instead of images; enlarging by a whole factor repeats pixels (``pixel_zoom``), so a small image is
shown with square, sharp pixels.
"""

from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from .._checks import image_stack
from ..errors import LowRankError
from ..limits import RD_MAX_SIDE

__all__ = [
    "to_uint8",
    "to_hwc_uint8",
    "to_pil",
    "encode_image",
    "fit_size",
    "pixel_zoom",
    "shown_size",
    "resize",
    "working_copy",
    "normalize_signed",
]


def to_uint8(x: Tensor) -> Tensor:
    """Round to 8 bits: ``round(clip(x, 0, 1) · 255)`` as uint8, same shape, on the CPU.

    Halves round up (x·255 + 0.5, truncated), as Pillow and libjpeg do.
    """
    if x.dtype == torch.uint8:
        return x.cpu()
    # clip(x, 0, 1)·255 + 0.5 == clip(x·255 + 0.5, 0.5, 255.5): one new float tensor, then in place
    return x.detach().float().mul(255.0).add_(0.5).clamp_(0.5, 255.5).to(torch.uint8).cpu()


def to_hwc_uint8(x: Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] (or uint8) -> numpy uint8 of shape (H, W, C), or (H, W) for one channel."""
    x = image_stack(x, "image") if x.dtype != torch.uint8 else x
    pixels = to_uint8(x)
    if pixels.shape[0] == 1:
        return pixels[0].numpy()
    return pixels.permute(1, 2, 0).contiguous().numpy()


def to_pil(x: Tensor) -> Image.Image:
    """A Pillow image ("RGB" or "L") of a (C, H, W) tensor in [0, 1] or uint8."""
    array = to_hwc_uint8(x)
    return Image.fromarray(array, mode="L" if array.ndim == 2 else "RGB")


def encode_image(x: Tensor | Image.Image, image_format: str = "PNG", *, quality: int | None = None) -> bytes:
    """Encode an image with Pillow: PNG (lossless), JPEG or WebP (``quality`` 1..100).

    Measured at 1920×1080 on 2 CPU cores (benchmarks/slider.py prints it): PNG ~600 ms (level 6), JPEG
    quality 90 ~5 ms, WebP quality 90 ~150 ms. The image page therefore sends JPEG to the browser and keeps
    PNG for the lossless download.
    """
    image = x if isinstance(x, Image.Image) else to_pil(x)
    fmt = image_format.upper()
    options: dict = {}
    if fmt in ("JPEG", "WEBP"):
        quality = 90 if quality is None else int(quality)
        if not 1 <= quality <= 100:
            raise LowRankError(f"quality must be between 1 and 100; got {quality}")
        options["quality"] = quality
    elif fmt == "PNG":
        options["compress_level"] = 6
    else:
        raise LowRankError(f"image format must be PNG, JPEG or WEBP; got {image_format!r}")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def fit_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(h, w) with the same aspect ratio and both sides at most ``max_side`` (never enlarged)."""
    if max_side < 1:
        raise LowRankError(f"max_side must be >= 1; got {max_side}")
    scale = min(1.0, max_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def pixel_zoom(height: int, width: int, min_side: int) -> int:
    """The whole factor k >= 1 that shows a small image with square pixels: the largest k with
    max(height, width)·k <= min_side, rounded down to a multiple of 16 (else of 8) when it is that large, so
    that each enlarged pixel covers whole JPEG blocks (8×8; 16×16 with 4:2:0 chroma) and a JPEG of it keeps
    its edges sharp. 1 for an image whose larger side is already above min_side / 2.
    """
    if min(height, width, min_side) < 1:
        raise LowRankError(f"sizes must be positive; got {height}×{width}, min_side={min_side}")
    zoom = max(1, min_side // max(height, width))
    for block in (16, 8):
        if zoom >= block:
            return zoom - zoom % block
    return zoom


def shown_size(height: int, width: int, max_side: int, *, sharp_side: int) -> tuple[int, int]:
    """(h, w) to show an image at: fitted inside ``max_side`` (``fit_size``), or, for an image at most half
    of ``sharp_side`` a side, enlarged by ``pixel_zoom`` (resizing to it repeats pixels: square and sharp,
    where a browser or a viewer would smooth what it stretches)."""
    zoom = pixel_zoom(height, width, sharp_side)
    if zoom > 1:
        return height * zoom, width * zoom
    return fit_size(height, width, max_side)


def resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize a (C, H, W) stack to ``size`` = (h, w): bilinear with antialiasing (a linear map per axis),
    or, when (h, w) is a whole multiple of (H, W) (an enlargement, ``pixel_zoom``), each pixel repeated as
    a k × k square, so enlarged pixels stay sharp.

    Both are linear and separable, so resizing the factors a (H -> h) and b (W -> w) of a product gives
    exactly the resized product: resize(a @ b) = resize_rows(a) @ resize_cols(b).
    """
    h, w = int(size[0]), int(size[1])
    if tuple(x.shape[-2:]) == (h, w):
        return x
    if min(x.shape[-2:]) > 0 and h % x.shape[-2] == 0 and w % x.shape[-1] == 0:  # whole-factor enlargement
        return x.repeat_interleave(h // x.shape[-2], dim=-2).repeat_interleave(w // x.shape[-1], dim=-1)
    antialias = h < x.shape[-2] or w < x.shape[-1]
    return F.interpolate(x[None].float(), size=(h, w), mode="bilinear", antialias=antialias,
                         align_corners=False)[0]


def working_copy(pixels: Tensor, *, max_side: int = RD_MAX_SIDE) -> Tensor:
    """The image itself when both sides are at most ``max_side``; else an antialiased downscale of it."""
    pixels = image_stack(pixels).float()
    return resize(pixels, fit_size(pixels.shape[1], pixels.shape[2], max_side)).clamp(0.0, 1.0)


def normalize_signed(x: Tensor) -> Tensor:
    """Map a signed image to [0, 1] for display: 0.5 + x / (2 max|x|), so mid-grey is zero.

    The scale is the largest magnitude over the whole tensor (all channels together); an all-zero input
    gives mid-grey everywhere.
    """
    peak = float(x.abs().max()) if x.numel() else 0.0
    if peak == 0.0:
        return torch.full_like(x, 0.5)
    return (0.5 + x / (2 * peak)).clamp(0.0, 1.0)
