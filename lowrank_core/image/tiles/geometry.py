"""Tile geometry, validation and the constants of the tile codec and its file format."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ...errors import (
    ConvergenceError,
    LowRankError,
    NonFiniteError,
    ShapeError,
    TooLargeError,
)
from ...limits import DEFAULT_MAX_PIXELS
from .. import CHROMA_OFFSET, COLOR_MODES, from_color_space

__all__ = [
    "TILE_SIDES",
    "TILE_DTYPES",
    "RAW_RANK",
    "RAW_CODE",
    "FORMAT_MAGIC",
    "FORMAT_VERSION",
    "HEADER_BYTES",
    "MAX_PIXELS",
    "MAX_TARGET_PSNR",
    "MAX_BUDGET",
    "MIN_GAIN",
    "EXACT_MAX_CELLS",
    "EXACT_MAX_OPTIONS",
]



TILE_SIDES = (8, 16, 32, 64)
TILE_DTYPES = ("float32", "float16", "int8")
RAW_RANK = -1  # in a ranks tensor: the tile is stored as its raw 8-bit pixels
RAW_CODE = 255  # the same in the file's rank codes
FORMAT_MAGIC = b"LRT1"
FORMAT_VERSION = 1
HEADER_STRUCT = struct.Struct("<4sBBBBBII")  # magic, version, mode, dtype, tile side, channels, height, width
HEADER_BYTES = HEADER_STRUCT.size  # 17
MAX_PIXELS = DEFAULT_MAX_PIXELS  # H·W at most, for the encoder and for a header the decoder reads
MAX_TARGET_PSNR = 100.0  # dB
MAX_BUDGET = 1 << 40  # bytes; a budget above what every tile can use simply buys everything
MIN_GAIN = 1e-9  # a step removing less squared error than this (of [0, 1] pixels) is not worth bytes
MAX_PSNR_ATTEMPTS = 8  # encodes tried by the PSNR rule before it bisects
EXACT_MAX_CELLS = 8_000_000  # the exact knapsack runs when (bytes to spend + 1) × options is at most this
EXACT_MAX_OPTIONS = 20_000  # ... and the tiles have at most this many options in all (one numpy step each)
MEAN_BYTES = {"float32": 4, "float16": 2, "int8": 1}
NUMPY_DTYPE = {"float32": np.dtype("<f4"), "float16": np.dtype("<f2"), "int8": np.dtype("i1")}
SCALE_DTYPE = np.dtype("<f2")
MODE_CODES = {mode: code for code, mode in enumerate(COLOR_MODES)}  # rgb 0, luminance 1, ycbcr 2
DTYPE_CODES = {dtype: code for code, dtype in enumerate(TILE_DTYPES)}  # float32 0, float16 1, int8 2


# ========================================================================================== validation


def check_tile_side(tile_side) -> int:
    """One of TILE_SIDES."""
    if isinstance(tile_side, bool) or tile_side not in TILE_SIDES:
        raise LowRankError(f"tile side must be one of {TILE_SIDES}; got {tile_side!r}")
    return int(tile_side)


def check_dtype(dtype) -> str:
    """One of TILE_DTYPES."""
    if dtype not in TILE_DTYPES:
        raise LowRankError(f"dtype must be one of {TILE_DTYPES}; got {dtype!r}")
    return dtype


def check_mode(mode) -> str:
    """One of COLOR_MODES (the channel count is checked by ``to_color_space``)."""
    if mode not in COLOR_MODES:
        raise LowRankError(f"colour mode must be one of {COLOR_MODES}; got {mode!r}")
    return mode


def check_pixels(pixels) -> Tensor:
    """A finite (C, H, W) image in [0, 1] (uint8 is read as value / 255), C = 1 or 3, at most MAX_PIXELS."""
    if not isinstance(pixels, Tensor):
        raise ShapeError(f"pixels must be a torch.Tensor; got {type(pixels).__name__}")
    if pixels.dim() != 3 or pixels.shape[0] not in (1, 3) or pixels.shape[1] < 1 or pixels.shape[2] < 1:
        raise ShapeError(f"pixels must have shape (C, H, W) with C = 1 or 3; got {tuple(pixels.shape)}")
    height, width = int(pixels.shape[1]), int(pixels.shape[2])
    if height * width > MAX_PIXELS:
        raise TooLargeError(f"the image is {width}×{height} = {height * width:,} pixels; the tile codec "
                            f"takes at most {MAX_PIXELS:,}")
    if pixels.is_complex():
        raise ShapeError("complex pixels are not supported")
    if pixels.dtype == torch.uint8:
        return pixels.float() / 255.0
    pixels = pixels.float()
    if not torch.isfinite(pixels).all():
        raise NonFiniteError("the image contains NaN or infinite values")
    low, high = float(pixels.min()), float(pixels.max())
    if low < -1e-6 or high > 1 + 1e-6:
        raise LowRankError(f"pixel values must lie in [0, 1]; got values from {low:.4g} to {high:.4g}")
    return pixels.clamp(0.0, 1.0)


def whole_number(value, what: str) -> int:
    """An int from a whole number that is not a bool; else LowRankError naming it."""
    try:
        whole = int(value)
        valid = not isinstance(value, bool) and whole == value
    except (TypeError, ValueError, OverflowError, RuntimeError):
        valid = False
    if not valid:
        raise LowRankError(f"{what} must be a whole number; got {value!r}")
    return whole


# ============================================================================================ geometry


def _tile_counts(height: int, width: int, tile_side: int) -> tuple[int, int]:
    """(R, K): tile rows and tile columns, the last of each cut short by the image's edge."""
    return -(-height // tile_side), -(-width // tile_side)


def _tile_extents(height: int, width: int, tile_side: int) -> tuple[np.ndarray, np.ndarray]:
    """(h' per tile row (R,), w' per tile column (K,)): the real height and width of the tiles."""
    rows, cols = _tile_counts(height, width, tile_side)
    heights = np.minimum(tile_side, height - tile_side * np.arange(rows))  # (R,)
    widths = np.minimum(tile_side, width - tile_side * np.arange(cols))  # (K,)
    return heights.astype(np.int64), widths.astype(np.int64)


@dataclass(frozen=True)
class Geometry:
    """Per tile n = (c·R + row)·K + col of the flattened stack: its channel, real height and width."""

    channels: int
    rows: int
    cols: int
    tile_side: int
    channel: np.ndarray  # (N,) int64
    heights: np.ndarray  # (N,) int64, h'
    widths: np.ndarray  # (N,) int64, w'

    @property
    def count(self) -> int:
        """N = C·R·K tiles."""
        return self.channels * self.rows * self.cols

    @property
    def max_ranks(self) -> np.ndarray:
        """min(h', w') per tile, (N,)."""
        return np.minimum(self.heights, self.widths)


def tile_geometry(channels: int, height: int, width: int, tile_side: int) -> Geometry:
    """The flattened tile layout of a (C, H, W) image."""
    heights, widths = _tile_extents(height, width, tile_side)
    rows, cols = len(heights), len(widths)
    per_channel_h = np.repeat(heights, cols)  # (R·K,)
    per_channel_w = np.tile(widths, rows)  # (R·K,)
    return Geometry(channels, rows, cols, tile_side, np.repeat(np.arange(channels), rows * cols),
                     np.tile(per_channel_h, channels), np.tile(per_channel_w, channels))


def to_tiles(channels: Tensor, tile_side: int) -> Tensor:
    """(C, H, W) -> (C, R, K, s, s), zero-padded at the bottom and right edges."""
    C, H, W = channels.shape
    rows, cols = _tile_counts(H, W, tile_side)
    padded = F.pad(channels, (0, cols * tile_side - W, 0, rows * tile_side - H))  # (C, R·s, K·s)
    return padded.reshape(C, rows, tile_side, cols, tile_side).permute(0, 1, 3, 2, 4)  # (C, R, K, s, s)


def from_tiles(tiles: Tensor, height: int, width: int) -> Tensor:
    """(C, R, K, s, s) -> (C, H, W): the tiles put back, the padding cropped off."""
    C, rows, cols, s, _ = tiles.shape
    whole = tiles.permute(0, 1, 3, 2, 4).reshape(C, rows * s, cols * s)  # (C, R·s, K·s)
    return whole[:, :height, :width]


def real_mask(height: int, width: int, tile_side: int, device) -> Tensor:
    """(R, K, s, s) bool: True on the pixels of each tile that lie inside the image."""
    rows, cols = _tile_counts(height, width, tile_side)
    inside_rows = (torch.arange(rows * tile_side, device=device) < height).reshape(rows, tile_side)
    inside_cols = (torch.arange(cols * tile_side, device=device) < width).reshape(cols, tile_side)
    return inside_rows[:, None, :, None] & inside_cols[None, :, None, :]


def channel_offsets(mode: str, channels: int) -> np.ndarray:
    """What is added before 8-bit storage, per channel: 128/255 for YCbCr chroma, else 0. (C,) float64."""
    offsets = np.zeros(channels)
    if mode == "ycbcr":
        offsets[1:] = CHROMA_OFFSET
    return offsets


def error_weights(mode: str, channels: int) -> np.ndarray:
    """How much a unit of squared error in each channel adds to the squared error of the output image, (C,).

    The squared column norms of the linear map ``from_color_space`` (1 for RGB and grey; for YCbCr about
    3.0, 3.26 and 2.48), read off the map itself. Exact when the channels' errors are uncorrelated.
    """
    if mode != "ycbcr":
        return np.ones(channels)
    basis = torch.eye(3, dtype=torch.float64).reshape(3, 3, 1)  # channel c, "row" j: 1 where c == j
    matrix = from_color_space(basis, mode)[:, :, 0]  # (3, 3): RGB from (Y, Cb, Cr)
    return (matrix**2).sum(0).numpy()


def to_codes(values: Tensor) -> Tensor:
    """round(255·values) clipped to 0..255 as uint8, halves up (as ``image.to_uint8``)."""
    return values.mul(255.0).add_(0.5).clamp_(0.0, 255.0).floor_().to(torch.uint8)


# ======================================================================================= factorization


def batched_svd(stack: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``torch.linalg.svd`` of an (N, s, s) stack, with a float64 retry when LAPACK does not converge."""
    try:
        return torch.linalg.svd(stack, full_matrices=False)
    except torch.linalg.LinAlgError as err:
        try:
            U, S, Vh = torch.linalg.svd(stack.double(), full_matrices=False)
        except torch.linalg.LinAlgError:
            raise ConvergenceError(f"the SVD of the tiles did not converge ({err})") from err
        return U.float(), S.float(), Vh.float()


def stored_means(means: Tensor, channel: np.ndarray, mode: str,
                  dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """(the means as stored at ``dtype``, the values a decoder reads back as float64), both (N,)."""
    values = means.double().numpy()
    if dtype == "float32":
        stored = values.astype(NUMPY_DTYPE["float32"])
        return stored, stored.astype(np.float64)
    if dtype == "float16":
        stored = values.astype(NUMPY_DTYPE["float16"])
        return stored, stored.astype(np.float64)
    offsets = channel_offsets(mode, int(channel.max()) + 1)[channel]  # (N,)
    stored = np.clip(np.floor((values + offsets) * 255.0 + 0.5), 0, 255).astype(np.uint8)  # halves up
    return stored, stored.astype(np.float64) / 255.0 - offsets
