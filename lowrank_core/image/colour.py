"""Colour spaces of the image codec: RGB, BT.601 luminance and JPEG's full-range YCbCr.

An image of C channels is factorized channel by channel in one of three colour modes:

- "rgb": the red, green and blue channels, one rank shared by the three.
- "luminance": only BT.601 luma ``Y = 0.299 R + 0.587 G + 0.114 B`` (one channel; the result is grey).
- "ycbcr": JPEG's full-range BT.601 YCbCr (the same transform as Pillow's ``convert("YCbCr")``), with one
  rank for luma (Y) and one for chroma (Cb and Cr). Chroma is factorized centred on zero (JPEG's +128/255
  offset removed), so chroma rank 0 gives a grey image instead of a green one.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._checks import image_stack
from ..errors import LowRankError, ShapeError

__all__ = [
    "COLOR_MODES",
    "CHROMA_OFFSET",
    "YCBCR_FROM_RGB",
    "RGB_FROM_YCBCR",
    "LUMA_WEIGHTS",
    "rgb_to_ycbcr",
    "ycbcr_to_rgb",
    "rgb_to_luminance",
    "to_color_space",
    "from_color_space",
    "reference_image",
    "channel_groups",
]

COLOR_MODES = ("rgb", "luminance", "ycbcr")
CHROMA_OFFSET = 128 / 255  # JPEG stores Cb and Cr with +128 on the 0..255 scale
LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # BT.601, as JPEG (JFIF) and Pillow's "L" conversion
YCBCR_FROM_RGB = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=torch.float64
)  # JFIF (ITU-T T.871) full range; add CHROMA_OFFSET to rows 2 and 3
RGB_FROM_YCBCR = torch.linalg.inv(YCBCR_FROM_RGB)  # exact inverse: 1.402, -0.344136, -0.714136, 1.772


def _mix(matrix: Tensor, x: Tensor) -> Tensor:
    """Apply a 3×3 colour matrix to a (3, H, W) stack: out_i = Σ_j matrix[i, j] x_j."""
    m = matrix.to(device=x.device, dtype=x.dtype)
    return torch.einsum("ij,jhw->ihw", m, x)  # (3, H, W)


def rgb_to_ycbcr(rgb: Tensor) -> Tensor:
    """JPEG's full-range BT.601 YCbCr of RGB values in [0, 1], as Pillow's ``convert("YCbCr")`` / 255.

    Parameters
    ----------
    rgb : Tensor of shape (3, H, W), values in [0, 1]

    Returns
    -------
    Tensor of shape (3, H, W): Y in [0, 1]; Cb and Cr in [0, 1] with neutral grey at 128/255.
    """
    rgb = image_stack(rgb, "rgb")
    if rgb.shape[0] != 3:
        raise ShapeError(f"rgb_to_ycbcr needs 3 channels; got {rgb.shape[0]}")
    ycbcr = _mix(YCBCR_FROM_RGB, rgb)  # (3, H, W)
    offset = torch.tensor([0.0, CHROMA_OFFSET, CHROMA_OFFSET], dtype=ycbcr.dtype, device=ycbcr.device)
    return ycbcr + offset[:, None, None]


def ycbcr_to_rgb(ycbcr: Tensor) -> Tensor:
    """Inverse of ``rgb_to_ycbcr`` (no clipping): (3, H, W) Y, Cb, Cr -> (3, H, W) R, G, B."""
    ycbcr = image_stack(ycbcr, "ycbcr")
    if ycbcr.shape[0] != 3:
        raise ShapeError(f"ycbcr_to_rgb needs 3 channels; got {ycbcr.shape[0]}")
    offset = torch.tensor([0.0, CHROMA_OFFSET, CHROMA_OFFSET], dtype=ycbcr.dtype, device=ycbcr.device)
    return _mix(RGB_FROM_YCBCR, ycbcr - offset[:, None, None])


def rgb_to_luminance(rgb: Tensor) -> Tensor:
    """BT.601 luma ``0.299 R + 0.587 G + 0.114 B``: (3, H, W) -> (1, H, W). A grey (1, H, W) input is kept."""
    rgb = image_stack(rgb, "rgb")
    if rgb.shape[0] == 1:
        return rgb
    weights = torch.tensor(LUMA_WEIGHTS, dtype=rgb.dtype, device=rgb.device)
    return torch.einsum("c,chw->hw", weights, rgb)[None]  # (1, H, W)


def _check_mode(mode: str, channels: int) -> str:
    """A known colour mode that the number of channels allows."""
    if mode not in COLOR_MODES:
        raise LowRankError(f"colour mode must be one of {COLOR_MODES}; got {mode!r}")
    if mode == "ycbcr" and channels != 3:
        raise ShapeError("the YCbCr mode needs a colour image; this one has a single (grey) channel")
    return mode


def to_color_space(pixels: Tensor, mode: str) -> Tensor:
    """The channels that ``mode`` factorizes.

    Parameters
    ----------
    pixels : Tensor of shape (C, H, W), C = 1 (grey) or 3 (RGB), values in [0, 1]
    mode : {"rgb", "luminance", "ycbcr"}

    Returns
    -------
    Tensor of shape (C', H, W), float32
        "rgb": the pixels; "luminance": (1, H, W) luma (a grey image as it is); "ycbcr": Y, Cb - 128/255,
        Cr - 128/255 (chroma centred on zero).
    """
    pixels = image_stack(pixels).float()
    mode = _check_mode(mode, pixels.shape[0])
    if mode == "rgb":
        return pixels
    if mode == "luminance":
        return rgb_to_luminance(pixels)
    return _mix(YCBCR_FROM_RGB, pixels)  # (3, H, W), chroma centred


def from_color_space(channels: Tensor, mode: str) -> Tensor:
    """Inverse of ``to_color_space``, without clipping: RGB (3, H, W), or grey (1, H, W)."""
    channels = image_stack(channels, "channels")
    mode = _check_mode(mode, channels.shape[0])
    if mode == "ycbcr":
        return _mix(RGB_FROM_YCBCR, channels)
    return channels


def reference_image(pixels: Tensor, mode: str) -> Tensor:
    """What a reconstruction in ``mode`` is compared with: the pixels, or their luma for "luminance"."""
    pixels = image_stack(pixels).float()
    mode = _check_mode(mode, pixels.shape[0])
    return rgb_to_luminance(pixels) if mode == "luminance" else pixels


def channel_groups(mode: str, channels: int) -> tuple[tuple[int, ...], ...]:
    """Channels sharing one rank: ((0, 1, 2),) for RGB, ((0,),) for one channel, ((0,), (1, 2)) for YCbCr."""
    mode = _check_mode(mode, channels)
    if mode == "ycbcr":
        return ((0,), (1, 2))
    if mode == "luminance" or channels == 1:
        return ((0,),)
    return ((0, 1, 2),)

