"""Tile-wise SVD: the image cut into s × s tiles, each factored, with ranks spent where the detail is.

A global SVD spends the same rank on the sky and on the leaves; JPEG works on 8 × 8 blocks and spends its bits
where the detail is. This module does the SVD the same way:

1. **Tiles.** Each channel of the image in a colour mode (``image.to_color_space``: RGB, luminance, or
   YCbCr with chroma centred on zero) is cut into s × s tiles, s in ``TILE_SIDES``, row by row. The last row
   and column of tiles are cut short by the image's edge: their real part is h' × w' (h', w' <= s). Each
   tile's mean over its real pixels is removed, and the edge tiles are **padded with zeros after the mean is
   removed**, so a padded tile is [[A - μ, 0], [0, 0]]: its SVD is exactly that of A - μ (the zero rows and
   columns add nothing), its best rank-r approximation is [[(A - μ)_r, 0], [0, 0]], and only the h' real
   rows of U and the w' real columns of Vh are stored. Cropping back is therefore exact and costs nothing.
2. **One batched SVD.** All tiles of all channels form one (C·T, s, s) stack, factored by a single
   ``torch.linalg.svd`` call on the device ``choose_device`` picks, signs fixed by ``sign_flip``.
3. **Options per tile.** Rank 0 (the mean only), rank r = 1 .. min(h', w') (the mean plus r factor pairs
   of the mean-removed tile, Σ folded into a = U_r diag(S_r), b = Vh_r), or raw (the tile's 8-bit values;
   cheaper than high ranks). Each option has an exact byte count (below) and a predicted squared error:
   Eckart–Young's discarded Σ σᵢ² plus the error of the stored (rounded) mean, or the 8-bit rounding error
   of the raw tile. In YCbCr mode a channel's error is weighted by how much it moves RGB (the squared column
   norms of the YCbCr -> RGB matrix: 3.0 for Y, 3.26 for Cb, 2.48 for Cr), so the allocation aims at the RGB
   error that PSNR measures.
4. **Allocation.** Each tile's options are reduced to their lower convex hull in (bytes, error); the hull
   segments of all tiles are taken in order of squared error removed per byte. Every prefix of that order is
   optimal for total squared error at its own byte count (it minimises error + λ·bytes; Lagrangian /
   Shoham–Gersho). Under a byte budget the greedy stops at the first segment that does not fit, then spends
   what is left on the steps that still fit (best error per byte first); so it is at least as good as any
   allocation of at most (budget − one hull segment) bytes. Tiles differ in cost (edge tiles are smaller,
   raw is a jump), so at exactly the same bytes a greedy can lose a little to another allocation (a uniform
   rank, say) on an image of a few tiles; where the problem is small (``EXACT_MAX_CELLS``) the budget rule
   therefore solves the knapsack exactly by dynamic programming instead. For a target PSNR the smallest
   prefix whose prediction meets the target is encoded, **decoded from its bytes, rounded to 8 bits and
   measured** with ``metrics.psnr`` against ``image.reference_image``; if the measurement misses
   (float16/int8 rounding, 8-bit rounding, YCbCr), more segments are taken until it does.
5. **Bytes.** ``TileCompression.to_bytes()`` is a real file and ``decode_tiles`` rebuilds the image from
   it alone; ``total_bytes == len(to_bytes())``. Layout (little-endian), section by section:

   ========================  ==============================================================================
   header (17 bytes)         b"LRT1", then version 1, mode, dtype, tile side, channels (uint8), H, W (uint32)
   rank codes                one uint8 per tile (channel, tile row, tile column): the rank, or 255 for raw
   means                     one per non-raw tile: float32 (dtype float32), float16 (float16), or uint8 of
                             round(255·(μ + offset)) (int8; offset 128/255 for chroma, else 0)
   raw pixels                h'·w' uint8 per raw tile, round(255·(x + offset)), row-major
   a                         h'·r values per tile of rank r >= 1 (row-major (h', r)), at the dtype
   b                         r·w' values per tile of rank r >= 1 (row-major (r, w')), at the dtype
   int8 only: a scales       r float16 per tile of rank r >= 1: max|a column| / 127 (a = int8 × scale)
   int8 only: b scales       one float16 per tile of rank r >= 1: max|b| / 127 over the tile's b
   ========================  ==============================================================================

   So a tile costs 1 (rank code) + mean + r(h' + w')·(4 | 2 | 1) + (int8: 2r + 2), or 1 + h'·w' raw.

Pure torch (and numpy for the bookkeeping of the allocation); no Streamlit, no plotly.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .budget import DTYPE_BYTES
from .errors import (
    ConvergenceError,
    LowRankError,
    NonFiniteError,
    ParseError,
    RankError,
    ShapeError,
    TooLargeError,
)
from .factorize import choose_device, sign_flip
from .image import CHROMA_OFFSET, COLOR_MODES, from_color_space, reference_image, to_color_space, to_uint8
from .metrics import psnr
from .sources import DEFAULT_MAX_PIXELS

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
    "TileFactorization",
    "TileCompression",
    "factorize_tiles",
    "compress_tiles",
    "decode_tiles",
]

TILE_SIDES = (8, 16, 32, 64)
TILE_DTYPES = ("float32", "float16", "int8")
RAW_RANK = -1  # in a ranks tensor: the tile is stored as its raw 8-bit pixels
RAW_CODE = 255  # the same in the file's rank codes
FORMAT_MAGIC = b"LRT1"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<4sBBBBBII")  # magic, version, mode, dtype, tile side, channels, height, width
HEADER_BYTES = _HEADER.size  # 17
MAX_PIXELS = DEFAULT_MAX_PIXELS  # H·W at most, for the encoder and for a header the decoder reads
MAX_TARGET_PSNR = 100.0  # dB
MAX_BUDGET = 1 << 40  # bytes; a budget above what every tile can use simply buys everything
MIN_GAIN = 1e-9  # a step removing less squared error than this (of [0, 1] pixels) is not worth bytes
_MAX_PSNR_ATTEMPTS = 8  # encodes tried by the PSNR rule before it bisects
EXACT_MAX_CELLS = 8_000_000  # the exact knapsack runs when (bytes to spend + 1) × options is at most this
EXACT_MAX_OPTIONS = 20_000  # ... and the tiles have at most this many options in all (one numpy step each)
_MEAN_BYTES = {"float32": 4, "float16": 2, "int8": 1}
_NUMPY_DTYPE = {"float32": np.dtype("<f4"), "float16": np.dtype("<f2"), "int8": np.dtype("i1")}
_SCALE_DTYPE = np.dtype("<f2")
_MODE_CODES = {mode: code for code, mode in enumerate(COLOR_MODES)}  # rgb 0, luminance 1, ycbcr 2
_DTYPE_CODES = {dtype: code for code, dtype in enumerate(TILE_DTYPES)}  # float32 0, float16 1, int8 2


# ========================================================================================== validation


def _check_tile_side(tile_side) -> int:
    """One of TILE_SIDES."""
    if isinstance(tile_side, bool) or tile_side not in TILE_SIDES:
        raise LowRankError(f"tile side must be one of {TILE_SIDES}; got {tile_side!r}")
    return int(tile_side)


def _check_dtype(dtype) -> str:
    """One of TILE_DTYPES."""
    if dtype not in TILE_DTYPES:
        raise LowRankError(f"dtype must be one of {TILE_DTYPES}; got {dtype!r}")
    return dtype


def _check_mode(mode) -> str:
    """One of COLOR_MODES (the channel count is checked by ``to_color_space``)."""
    if mode not in COLOR_MODES:
        raise LowRankError(f"colour mode must be one of {COLOR_MODES}; got {mode!r}")
    return mode


def _check_pixels(pixels) -> Tensor:
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


def _whole_number(value, what: str) -> int:
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
class _Geometry:
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


def _geometry(channels: int, height: int, width: int, tile_side: int) -> _Geometry:
    """The flattened tile layout of a (C, H, W) image."""
    heights, widths = _tile_extents(height, width, tile_side)
    rows, cols = len(heights), len(widths)
    per_channel_h = np.repeat(heights, cols)  # (R·K,)
    per_channel_w = np.tile(widths, rows)  # (R·K,)
    return _Geometry(channels, rows, cols, tile_side, np.repeat(np.arange(channels), rows * cols),
                     np.tile(per_channel_h, channels), np.tile(per_channel_w, channels))


def _to_tiles(channels: Tensor, tile_side: int) -> Tensor:
    """(C, H, W) -> (C, R, K, s, s), zero-padded at the bottom and right edges."""
    C, H, W = channels.shape
    rows, cols = _tile_counts(H, W, tile_side)
    padded = F.pad(channels, (0, cols * tile_side - W, 0, rows * tile_side - H))  # (C, R·s, K·s)
    return padded.reshape(C, rows, tile_side, cols, tile_side).permute(0, 1, 3, 2, 4)  # (C, R, K, s, s)


def _from_tiles(tiles: Tensor, height: int, width: int) -> Tensor:
    """(C, R, K, s, s) -> (C, H, W): the tiles put back, the padding cropped off."""
    C, rows, cols, s, _ = tiles.shape
    whole = tiles.permute(0, 1, 3, 2, 4).reshape(C, rows * s, cols * s)  # (C, R·s, K·s)
    return whole[:, :height, :width]


def _real_mask(height: int, width: int, tile_side: int, device) -> Tensor:
    """(R, K, s, s) bool: True on the pixels of each tile that lie inside the image."""
    rows, cols = _tile_counts(height, width, tile_side)
    inside_rows = (torch.arange(rows * tile_side, device=device) < height).reshape(rows, tile_side)
    inside_cols = (torch.arange(cols * tile_side, device=device) < width).reshape(cols, tile_side)
    return inside_rows[:, None, :, None] & inside_cols[None, :, None, :]


def _channel_offsets(mode: str, channels: int) -> np.ndarray:
    """What is added before 8-bit storage, per channel: 128/255 for YCbCr chroma, else 0. (C,) float64."""
    offsets = np.zeros(channels)
    if mode == "ycbcr":
        offsets[1:] = CHROMA_OFFSET
    return offsets


def _error_weights(mode: str, channels: int) -> np.ndarray:
    """How much a unit of squared error in each channel adds to the squared error of the output image, (C,).

    The squared column norms of the linear map ``from_color_space`` (1 for RGB and grey; for YCbCr about
    3.0, 3.26 and 2.48), read off the map itself. Exact when the channels' errors are uncorrelated.
    """
    if mode != "ycbcr":
        return np.ones(channels)
    basis = torch.eye(3, dtype=torch.float64).reshape(3, 3, 1)  # channel c, "row" j: 1 where c == j
    matrix = from_color_space(basis, mode)[:, :, 0]  # (3, 3): RGB from (Y, Cb, Cr)
    return (matrix**2).sum(0).numpy()


def _to_codes(values: Tensor) -> Tensor:
    """round(255·values) clipped to 0..255 as uint8, halves up (as ``image.to_uint8``)."""
    return values.mul(255.0).add_(0.5).clamp_(0.0, 255.0).floor_().to(torch.uint8)


# ======================================================================================= factorization


def _batched_svd(stack: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``torch.linalg.svd`` of an (N, s, s) stack, with a float64 retry when LAPACK does not converge."""
    try:
        return torch.linalg.svd(stack, full_matrices=False)
    except torch.linalg.LinAlgError as err:
        try:
            U, S, Vh = torch.linalg.svd(stack.double(), full_matrices=False)
        except torch.linalg.LinAlgError:
            raise ConvergenceError(f"the SVD of the tiles did not converge ({err})") from err
        return U.float(), S.float(), Vh.float()


@dataclass(frozen=True, eq=False)
class TileFactorization:
    """The SVD of every tile of an image in a colour mode: the one expensive step of the tile codec.

    Build it with ``factorize_tiles``; ``compress`` then chooses ranks (given, under a byte budget, or for a
    target PSNR) and encodes them, which only slices the stored factors.

    Attributes
    ----------
    mode : {"rgb", "luminance", "ycbcr"}
    tile_side : int
        s, one of ``TILE_SIDES``.
    reference : Tensor of shape (C_out, H, W)
        The reference a decode is measured against (``image.reference_image``), float32 in [0, 1], CPU.
    channels : Tensor of shape (C, H, W)
        The image in the mode's colour space (``image.to_color_space``), float32, CPU.
    means : Tensor of shape (C, R, K)
        Each tile's mean over its real pixels, float64, CPU (rounded to the dtype only when stored).
    U : Tensor of shape (C, R, K, s, s)
        Left singular vectors of the mean-removed, zero-padded tiles, on the device of the SVD.
    S : Tensor of shape (C, R, K, s)
        Their singular values, descending (those past min(h', w') are zero up to rounding).
    Vh : Tensor of shape (C, R, K, s, s)
        Right singular vectors as rows; signs fixed with ``sign_flip``.
    raw_codes : Tensor of shape (C, R, K, s, s), uint8
        round(255·(x + offset)) of each tile (offset 128/255 for chroma): what a raw tile stores. CPU.
    raw_error : Tensor of shape (C, R, K), float64
        Squared error of each tile stored raw (its 8-bit rounding), in the colour space. CPU.
    truncation_sums : Tensor of shape (C, R, K, s + 1), float64
        The sum of the entries of each tile's rank-r truncation, r = 0 .. s: Σ_{i<r} σᵢ (1ᵀuᵢ)(vᵢᵀ1). A
        zero-mean tile's truncation need not sum to zero, so a rounded mean (error δ) adds 2δ·(0 − this)
        to the squared error besides h'w'δ²; the prediction counts both. CPU.
    """

    mode: str
    tile_side: int
    reference: Tensor
    channels: Tensor
    means: Tensor
    U: Tensor
    S: Tensor
    Vh: Tensor
    raw_codes: Tensor
    raw_error: Tensor
    truncation_sums: Tensor

    # --------------------------------------------------------------------------------------- shape
    @property
    def height(self) -> int:
        """H."""
        return int(self.channels.shape[1])

    @property
    def width(self) -> int:
        """W."""
        return int(self.channels.shape[2])

    @property
    def channel_count(self) -> int:
        """C: channels factored (3 for RGB and YCbCr, 1 for luminance or a grey image)."""
        return int(self.channels.shape[0])

    @property
    def tile_rows(self) -> int:
        """R = ceil(H / s)."""
        return int(self.means.shape[1])

    @property
    def tile_cols(self) -> int:
        """K = ceil(W / s)."""
        return int(self.means.shape[2])

    @property
    def max_ranks(self) -> Tensor:
        """min(h', w') per tile: (C, R, K) int64 (s inside the image, less on its bottom and right edges)."""
        return torch.from_numpy(self._geometry().max_ranks.reshape(self.means.shape).copy())

    def _geometry(self) -> _Geometry:
        """The flattened tile layout."""
        return _geometry(self.channel_count, self.height, self.width, self.tile_side)

    # --------------------------------------------------------------------------------------- options
    def _options(self, dtype: str) -> tuple[np.ndarray, np.ndarray]:
        """(bytes, weighted squared error) of every option of every tile: two (N, s + 2) arrays.

        Column r (0 <= r <= s) is rank r (impossible above min(h', w'): error inf), column s + 1 is raw.
        """
        geometry = self._geometry()
        s, h, w = self.tile_side, geometry.heights, geometry.widths
        ranks = np.arange(s + 1)  # (s + 1,)
        factor_bytes = ranks[None, :] * (h + w)[:, None] * DTYPE_BYTES[dtype]  # (N, s + 1)
        if dtype == "int8":
            factor_bytes = factor_bytes + np.where(ranks > 0, 2 * ranks + 2, 0)[None, :]  # the scales
        rank_bytes = 1 + _MEAN_BYTES[dtype] + factor_bytes  # (N, s + 1)
        raw_bytes = 1 + h * w  # (N,)
        size = np.concatenate([rank_bytes, raw_bytes[:, None]], axis=1)  # (N, s + 2)

        squared = self.S.reshape(-1, s).double().cpu().numpy() ** 2  # (N, s)
        tail = np.concatenate([np.cumsum(squared[:, ::-1], axis=1)[:, ::-1], np.zeros((len(h), 1))], 1)
        _, restored = _stored_means(self.means.reshape(-1), geometry.channel, self.mode, dtype)
        delta = self.means.reshape(-1).numpy() - restored  # (N,): true mean - stored mean
        sums = self.truncation_sums.reshape(-1, s + 1).numpy()  # (N, s + 1)
        # ‖X - X_r + δ‖² = ‖X - X_r‖² + 2δ·Σ(X - X_r) + h'w'δ², with ΣX = 0 for the mean-removed tile X
        error = tail - 2 * delta[:, None] * sums + ((h * w) * delta**2)[:, None]  # (N, s + 1)
        error[ranks[None, :] > geometry.max_ranks[:, None]] = np.inf
        error = np.concatenate([error, self.raw_error.reshape(-1, 1).numpy()], axis=1)  # (N, s + 2)
        weights = _error_weights(self.mode, self.channel_count)[geometry.channel]  # (N,)
        return size.astype(np.int64), error * weights[:, None]

    def minimum_bytes(self, dtype: str = "float16") -> int:
        """The smallest file the codec can write for this image: the header and every tile's cheapest option
        (its rank code and mean, or its raw pixels when fewer)."""
        size, _ = self._options(_check_dtype(dtype))
        return HEADER_BYTES + int(size.min(axis=1).sum())

    def maximum_bytes(self, dtype: str = "float16") -> int:
        """The bytes at which every tile is at its most accurate option; a larger budget buys nothing."""
        size, error = self._options(_check_dtype(dtype))
        hull = _Hull.build(size, error)
        return HEADER_BYTES + int(size[np.arange(len(size)), hull.final].sum())

    # --------------------------------------------------------------------------------------- compress
    def compress(self, *, budget: int | None = None, target_psnr: float | None = None,
                 ranks: Tensor | None = None, dtype: str = "float16") -> TileCompression:
        """Choose a rank for every tile, encode, decode the bytes and measure; exactly one rule.

        Parameters
        ----------
        budget : int, optional
            Bytes of the whole file (header included), at least ``minimum_bytes(dtype)``. The greedy spends
            them in order of squared error removed per byte (see the module's docstring).
        target_psnr : float, optional
            dB, in (0, MAX_TARGET_PSNR]. The result's 8-bit decode reaches it, measured with
            ``metrics.psnr`` against ``reference``; LowRankError when this mode and precision cannot.
        ranks : Tensor of shape (C, R, K), optional
            The rank of each tile (0 .. min(h', w'), or ``RAW_RANK`` for raw), e.g. a uniform rank.
        dtype : {"float32", "float16", "int8"}
            Precision of the stored factors (and means; see the module's docstring).

        Returns
        -------
        TileCompression
        """
        dtype = _check_dtype(dtype)
        given = [name for name, value in (("budget", budget), ("target_psnr", target_psnr), ("ranks", ranks))
                 if value is not None]
        if len(given) != 1:
            raise LowRankError(f"give exactly one of budget, target_psnr or ranks; got {given or 'none'}")
        size, error = self._options(dtype)
        if ranks is not None:
            return self._encode(self._options_of(ranks), dtype, size, error, "ranks", None)
        if budget is not None:
            budget = self._check_budget(budget, dtype, size)
            options = _exact_for_budget(size, error, budget - HEADER_BYTES)
            if options is None:  # too large for the exact knapsack: the greedy and its fill
                options = _Hull.build(size, error).for_budget(size, error, budget - HEADER_BYTES)
            return self._encode(options, dtype, size, error, "bytes", float(budget))
        target = _check_target(target_psnr)
        return self._compress_for_psnr(target, dtype, size, error, _Hull.build(size, error))

    def _check_budget(self, budget, dtype: str, size: np.ndarray) -> int:
        """A whole number of bytes between the smallest file and MAX_BUDGET."""
        budget = _whole_number(budget, "byte budget")
        smallest = HEADER_BYTES + int(size.min(axis=1).sum())
        if budget < smallest:
            raise LowRankError(
                f"byte budget must be at least {smallest:,} bytes for this image in "
                f"{self.tile_side}×{self.tile_side} tiles at {dtype} (a {HEADER_BYTES}-byte header, then a "
                f"rank byte and a mean per tile); got {budget:,}. Larger tiles need fewer bytes.")
        if budget > MAX_BUDGET:
            raise LowRankError(f"byte budget must be at most {MAX_BUDGET:,}; got {budget:,}")
        return budget

    def _options_of(self, ranks) -> np.ndarray:
        """Option index per tile (N,) from a (C, R, K) ranks tensor, validated."""
        expected = tuple(self.means.shape)
        if not isinstance(ranks, Tensor) or tuple(ranks.shape) != expected:
            shape = tuple(ranks.shape) if isinstance(ranks, Tensor) else type(ranks).__name__
            raise ShapeError(f"ranks must be a tensor of shape (C, R, K) = {expected}; got {shape}")
        if ranks.is_floating_point() or ranks.is_complex() or ranks.dtype == torch.bool:
            raise RankError(f"ranks must be whole numbers (an integer tensor); got {ranks.dtype}")
        flat = ranks.reshape(-1).cpu().numpy().astype(np.int64)  # (N,)
        limit = self._geometry().max_ranks
        bad = np.nonzero((flat != RAW_RANK) & ((flat < 0) | (flat > limit)))[0]
        if len(bad):
            n = int(bad[0])
            c, rest = divmod(n, self.tile_rows * self.tile_cols)
            row, col = divmod(rest, self.tile_cols)
            raise RankError(f"the rank of tile (channel {c}, row {row}, column {col}) must be between 0 and "
                            f"{int(limit[n])} or {RAW_RANK} (raw); got {int(flat[n])}")
        return np.where(flat == RAW_RANK, self.tile_side + 1, flat)

    def _compress_for_psnr(self, target: float, dtype: str, size: np.ndarray, error: np.ndarray,
                           hull: _Hull) -> TileCompression:
        """The smallest prefix of the greedy whose measured 8-bit PSNR reaches ``target``."""
        count = self.reference.numel()
        needed = 10 ** (-target / 10) * count  # squared error allowed, over every value of the output
        last = hull.segments

        def attempt(k: int) -> TileCompression:
            return self._encode(hull.prefix_options(k), dtype, size, error, "psnr", target)

        passing: TileCompression | None = None
        failing_k, goal, k = -1, needed, hull.prefix_for_error(needed)
        for _ in range(_MAX_PSNR_ATTEMPTS):
            result = attempt(k)
            if result.measured_psnr >= target:
                return result
            failing_k = k
            if k == last:
                break
            goal *= 0.9 * min(1.0, needed / max(result.measured_mse * count, 1e-300))
            k = max(hull.prefix_for_error(goal), k + 1)
        if failing_k != last:
            passing = attempt(last)
        if passing is None or passing.measured_psnr < target:
            best = (passing or result).measured_psnr
            raise LowRankError(
                f"target PSNR must be at most {best:.2f} dB for this image in {self.mode} mode at {dtype} "
                f"(that is what every tile at its most accurate option reaches); got {target:g} dB")
        low, high = failing_k, last  # low fails, high passes: bisect for the smallest passing prefix
        while high - low > 1 and high - low > hull.segments // 4096:
            middle = (low + high) // 2
            result = attempt(middle)
            if result.measured_psnr >= target:
                high, passing = middle, result
            else:
                low = middle
        return passing

    def _encode(self, options: np.ndarray, dtype: str, size: np.ndarray, error: np.ndarray, rule: str,
                target: float | None) -> TileCompression:
        """Write the file for one option per tile, decode it, and measure."""
        geometry = self._geometry()
        data = _encode(self, geometry, options, dtype)
        rows = np.arange(geometry.count)
        tile_bytes = size[rows, options]  # (N,)
        assert len(data) == HEADER_BYTES + int(tile_bytes.sum()), "byte model and file disagree"
        image = to_uint8(decode_tiles(data))  # (C_out, H, W) uint8
        measured = psnr(self.reference, image.float() / 255.0)  # as the 8-bit image is read everywhere
        predicted_mse = float(error[rows, options].sum()) / self.reference.numel()
        ranks = np.where(options == self.tile_side + 1, RAW_RANK, options)
        shape = tuple(self.means.shape)
        histogram = np.bincount(ranks[ranks >= 0], minlength=self.tile_side + 1)
        return TileCompression(
            mode=self.mode, tile_side=self.tile_side, dtype=dtype, rule=rule, target=target,
            ranks=torch.from_numpy(ranks.reshape(shape).copy()),
            tile_bytes=torch.from_numpy(tile_bytes.reshape(shape).copy()),
            header_bytes=HEADER_BYTES, total_bytes=len(data),
            rank_histogram=tuple(int(n) for n in histogram), raw_tiles=int((ranks == RAW_RANK).sum()),
            predicted_mse=predicted_mse, predicted_psnr=_psnr_of(predicted_mse),
            measured_mse=0.0 if math.isinf(measured) else 10 ** (-measured / 10), measured_psnr=measured,
            image=image, data=data,
        )


def _psnr_of(mse: float) -> float:
    """10 log10(1 / mse), inf for 0."""
    return math.inf if mse <= 0 else 10 * math.log10(1.0 / mse)


def _check_target(target) -> float:
    """A target PSNR in (0, MAX_TARGET_PSNR] dB."""
    try:
        value = float(target)
        valid = not isinstance(target, bool) and 0 < value <= MAX_TARGET_PSNR
    except (TypeError, ValueError, OverflowError):
        valid = False
    if not valid:
        raise LowRankError(f"target PSNR must be a number of dB above 0 and at most {MAX_TARGET_PSNR:g}; "
                           f"got {target!r}")
    return value


def _stored_means(means: Tensor, channel: np.ndarray, mode: str, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """(the means as stored at ``dtype``, the values a decoder reads back as float64), both (N,)."""
    values = means.double().numpy()
    if dtype == "float32":
        stored = values.astype(_NUMPY_DTYPE["float32"])
        return stored, stored.astype(np.float64)
    if dtype == "float16":
        stored = values.astype(_NUMPY_DTYPE["float16"])
        return stored, stored.astype(np.float64)
    offsets = _channel_offsets(mode, int(channel.max()) + 1)[channel]  # (N,)
    stored = np.clip(np.floor((values + offsets) * 255.0 + 0.5), 0, 255).astype(np.uint8)  # halves up
    return stored, stored.astype(np.float64) / 255.0 - offsets


def factorize_tiles(pixels: Tensor, *, mode: str = "rgb", tile_side: int = 16,
                    device=None) -> TileFactorization:
    """Cut an image into tiles in a colour mode and factor every tile by one batched SVD.

    Parameters
    ----------
    pixels : Tensor of shape (C, H, W), C = 1 or 3
        Values in [0, 1] (uint8 is read as value / 255); at most ``MAX_PIXELS`` pixels.
    mode : {"rgb", "luminance", "ycbcr"}
        As ``image.to_color_space``; "ycbcr" needs a colour image.
    tile_side : {8, 16, 32, 64}
    device : optional
        Where the SVD runs (``choose_device``: CUDA when present); U, S and Vh stay there.

    Returns
    -------
    TileFactorization
        Tiles are mean-removed, then zero-padded at the image's bottom and right edges (see the module's
        docstring for why that keeps each tile's SVD exact).
    """
    pixels = _check_pixels(pixels).cpu()
    mode = _check_mode(mode)
    tile_side = _check_tile_side(tile_side)
    channels = to_color_space(pixels, mode).contiguous()  # (C, H, W), float32
    reference = reference_image(pixels, mode).contiguous()  # (C_out, H, W)
    target = choose_device(device)
    C, H, W = channels.shape
    tiles = _to_tiles(channels.to(target), tile_side)  # (C, R, K, s, s)
    mask = _real_mask(H, W, tile_side, target)  # (R, K, s, s)
    real = mask.sum((-2, -1)).to(torch.float64)  # (R, K): h'·w'
    means = tiles.double().sum((-2, -1)) / real  # (C, R, K), float64
    centred = (tiles - means.float()[..., None, None]) * mask  # (C, R, K, s, s), zero outside the image
    rows, cols = int(means.shape[1]), int(means.shape[2])
    U, S, Vh = _batched_svd(centred.reshape(-1, tile_side, tile_side))  # (N, s, s), (N, s), (N, s, s)
    U, Vh = sign_flip(U, Vh)
    offsets = torch.from_numpy(_channel_offsets(mode, C)).float().to(target)[:, None, None, None, None]
    raw_codes = _to_codes(tiles + offsets) * mask  # (C, R, K, s, s) uint8
    restored = raw_codes.float() / 255.0 - offsets  # (C, R, K, s, s)
    raw_error = ((restored - tiles) * mask).square().sum((-2, -1)).double()  # (C, R, K)
    terms = S.double() * U.sum(-2).double() * Vh.sum(-1).double()  # (N, s): σᵢ (1ᵀuᵢ)(vᵢᵀ1)
    sums = torch.cat([torch.zeros_like(terms[:, :1]), terms.cumsum(-1)], dim=-1)  # (N, s + 1)
    shape = (C, rows, cols)
    return TileFactorization(
        mode=mode, tile_side=tile_side, reference=reference, channels=channels, means=means.cpu(),
        U=U.reshape(*shape, tile_side, tile_side).contiguous(), S=S.reshape(*shape, tile_side).contiguous(),
        Vh=Vh.reshape(*shape, tile_side, tile_side).contiguous(), raw_codes=raw_codes.cpu().contiguous(),
        raw_error=raw_error.cpu(), truncation_sums=sums.reshape(*shape, tile_side + 1).cpu(),
    )


def compress_tiles(pixels: Tensor, *, mode: str = "rgb", tile_side: int = 16, dtype: str = "float16",
                   budget: int | None = None, target_psnr: float | None = None,
                   device=None) -> TileCompression:
    """``factorize_tiles(pixels, ...).compress(budget=..., target_psnr=..., dtype=...)`` in one call.

    Parameters and result as ``factorize_tiles`` and ``TileFactorization.compress`` (give exactly one of
    ``budget`` and ``target_psnr``).
    """
    _check_dtype(dtype)
    factorization = factorize_tiles(pixels, mode=mode, tile_side=tile_side, device=device)
    return factorization.compress(budget=budget, target_psnr=target_psnr, dtype=dtype)


# ========================================================================================== allocation


@dataclass(frozen=True)
class _Hull:
    """Each tile's lower convex hull of (bytes, error) from its cheapest option, and all segments sorted.

    ``options[n, l]`` is tile n's option after l hull steps (repeating the last one); segment i of the
    global order ``order`` moves tile ``tile[i]`` to level ``level[i]`` for ``added[i]`` bytes and
    ``removed[i]`` less squared error.
    """

    start: np.ndarray  # (N,) cheapest option per tile
    final: np.ndarray  # (N,) most accurate hull option per tile
    options: np.ndarray  # (N, L + 1)
    tile: np.ndarray  # (M,) segments in greedy order: error removed per byte, descending
    added: np.ndarray  # (M,) int64 bytes
    removed: np.ndarray  # (M,) float64 squared error
    start_error: float

    @property
    def segments(self) -> int:
        """M, the number of hull segments over all tiles."""
        return len(self.tile)

    @classmethod
    def build(cls, size: np.ndarray, error: np.ndarray) -> _Hull:
        """The hulls of an (N, O) bytes table and its (N, O) error table."""
        count = len(size)
        rows = np.arange(count)
        order_key = np.lexsort((error, size), axis=1)[:, 0]  # fewest bytes, then least error
        current = order_key.copy()
        levels = [current.copy()]
        tiles, steps, added, removed, ratios = [], [], [], [], []
        previous = np.full(count, np.inf)
        active = rows
        step = 0
        while len(active):
            step += 1
            base_size = size[active, current[active]]  # (n,)
            base_error = error[active, current[active]]
            more = size[active] - base_size[:, None]  # (n, O)
            less = base_error[:, None] - error[active]  # (n, O)
            valid = (more > 0) & (less > MIN_GAIN)
            ratio = np.where(valid, less / np.where(valid, more, 1), -np.inf)
            best = ratio.argmax(axis=1)  # the steepest; ties go to the fewer bytes
            moves = valid.any(axis=1)
            active, best = active[moves], best[moves]
            if not len(active):
                break
            index = np.arange(len(moves))[moves]
            slope = np.minimum(ratio[index, best], previous[active])  # non-increasing along a tile
            tiles.append(active)
            steps.append(np.full(len(active), step))
            added.append(more[index, best])
            removed.append(less[index, best])
            ratios.append(slope)
            previous[active] = slope
            current = current.copy()
            current[active] = best
            levels.append(current.copy())
        options = np.stack(levels, axis=1)  # (N, L + 1)
        if tiles:
            tile, level = np.concatenate(tiles), np.concatenate(steps)
            added_all, removed_all, ratio_all = map(np.concatenate, (added, removed, ratios))
            order = np.lexsort((level, tile, -ratio_all))
            tile, added_all, removed_all = tile[order], added_all[order], removed_all[order]
        else:
            tile = np.zeros(0, np.int64)
            added_all, removed_all = np.zeros(0, np.int64), np.zeros(0)
        start_error = float(error[rows, order_key].sum())
        return cls(order_key, options[:, -1].copy(), options, tile, added_all.astype(np.int64), removed_all,
                   start_error)

    def prefix_options(self, k: int) -> np.ndarray:
        """Option per tile (N,) after the first ``k`` segments of the greedy order."""
        levels = np.bincount(self.tile[:k], minlength=len(self.start))  # segments of a tile come in order
        return self.options[np.arange(len(self.start)), levels]

    def prefix_for_error(self, allowed: float) -> int:
        """The fewest segments after which the predicted squared error is at most ``allowed``."""
        need = self.start_error - allowed
        if need <= 0:
            return 0
        cumulative = np.cumsum(self.removed)
        return min(int(np.searchsorted(cumulative, need, side="left")) + 1, self.segments)

    def for_budget(self, size: np.ndarray, error: np.ndarray, budget: int) -> np.ndarray:
        """Option per tile whose bytes (without the header) fit in ``budget``: the greedy, then a fill."""
        rows = np.arange(len(self.start))
        left = budget - int(size[rows, self.start].sum())
        cumulative = np.cumsum(self.added)
        k = int(np.searchsorted(cumulative, left, side="right"))  # segments that fit, in order
        options = self.prefix_options(k)
        left -= int(cumulative[k - 1]) if k else 0
        # Fill: the first segment that did not fit is skipped; spend what is left on the steps (hull or
        # not) that still fit, best error removed per byte first, until none does.
        pool = rows
        while left > 0 and len(pool):
            base_size = size[pool, options[pool]]
            base_error = error[pool, options[pool]]
            more = size[pool] - base_size[:, None]  # (n, O)
            less = base_error[:, None] - error[pool]
            valid = (more > 0) & (more <= left) & (less > MIN_GAIN)
            keep = valid.any(axis=1)
            pool, more, less, valid = pool[keep], more[keep], less[keep], valid[keep]
            if not len(pool):
                break
            ratio = np.where(valid, less / np.where(valid, more, 1), -np.inf)
            flat = int(ratio.argmax())
            n, option = divmod(flat, ratio.shape[1])
            options[pool[n]] = option
            left -= int(more[n, option])
        return options


def _exact_for_budget(size: np.ndarray, error: np.ndarray, budget: int) -> np.ndarray | None:
    """The optimal option per tile within ``budget`` bytes (without the header), or None when too large.

    A multiple-choice knapsack solved by dynamic programming over bytes: ``best[b]`` is the least total
    error of the tiles so far within b bytes above their cheapest options. It costs (bytes to spend + 1) ×
    (valid options) steps, so it runs only up to ``EXACT_MAX_CELLS`` and ``EXACT_MAX_OPTIONS`` (images of
    a few dozen tiles).
    """
    rows = np.arange(len(size))
    start = np.lexsort((error, size), axis=1)[:, 0]
    extra = size - size[rows, start][:, None]  # (N, O) bytes above the cheapest option
    valid = np.isfinite(error)
    spend = budget - int(size[rows, start].sum())
    spend = min(spend, int(np.where(valid, extra, 0).max(axis=1).sum()))  # more than this buys nothing
    if int(valid.sum()) > EXACT_MAX_OPTIONS or (spend + 1) * int(valid.sum()) > EXACT_MAX_CELLS:
        return None
    best = np.zeros(spend + 1)  # no tile yet: no error, whatever the bytes
    choice = np.zeros((len(size), spend + 1), np.int16)
    for n in rows:
        current = np.full(spend + 1, np.inf)
        pick = choice[n]
        for option in np.nonzero(valid[n] & (extra[n] <= spend))[0]:
            c = int(extra[n, option])
            candidate = best[:spend + 1 - c] + error[n, option]  # (spend + 1 - c,)
            better = candidate < current[c:]
            current[c:][better] = candidate[better]
            pick[c:][better] = option
        best = current
    options = np.empty(len(size), np.int64)
    left = spend
    for n in rows[::-1]:
        options[n] = choice[n, left]
        left -= int(extra[n, options[n]])
    return options


# ============================================================================================ the file


def _prefix_offsets(lengths: np.ndarray) -> np.ndarray:
    """Exclusive cumulative sum: where each piece starts in its section."""
    return np.cumsum(lengths) - lengths


def _groups(geometry: _Geometry, ranks: np.ndarray, mask: np.ndarray):
    """(h', w', r, tile indices) for the tiles in ``mask``, grouped by shape and rank (few groups)."""
    keys = np.stack([geometry.heights, geometry.widths, ranks], axis=1)[mask]
    index = np.nonzero(mask)[0]
    if not len(index):
        return
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    for g, (h, w, r) in enumerate(unique):
        yield int(h), int(w), int(r), index[inverse == g]


def _scatter(section: np.ndarray, starts: np.ndarray, values: np.ndarray) -> None:
    """Write (n, L) ``values`` into ``section`` at ``starts[i] .. starts[i] + L``."""
    section[starts[:, None] + np.arange(values.shape[1])[None, :]] = values


def _gather(section: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """(n, length) values of ``section`` from ``starts``."""
    return section[starts[:, None] + np.arange(length)[None, :]]


def _int8_scale(values: Tensor, dims) -> Tensor:
    """max|v| / 127 over ``dims``, rounded through float16 (as stored); 1 where that is 0."""
    scale = (values.abs().amax(dim=dims) / 127).half().float()
    return torch.where(scale > 0, scale, torch.ones_like(scale))


def _encode(factorization: TileFactorization, geometry: _Geometry, options: np.ndarray, dtype: str) -> bytes:
    """The file of ``factorization`` with option ``options[n]`` for tile n (the layout: module docstring)."""
    s = factorization.tile_side
    h, w = geometry.heights, geometry.widths
    is_raw = options == s + 1
    ranks = np.where(is_raw, 0, options)
    factored = ranks > 0
    codes = np.where(is_raw, RAW_CODE, ranks).astype(np.uint8)
    means, _ = _stored_means(factorization.means.reshape(-1), geometry.channel, factorization.mode, dtype)
    means = means[~is_raw]

    raw_lengths = np.where(is_raw, h * w, 0)
    raw = np.empty(int(raw_lengths.sum()), np.uint8)
    raw_starts = _prefix_offsets(raw_lengths)
    raw_codes = factorization.raw_codes.reshape(-1, s, s)
    for hh, ww, _, index in _groups(geometry, ranks, is_raw):
        _scatter(raw, raw_starts[index], raw_codes[index, :hh, :ww].reshape(len(index), -1).numpy())

    a_lengths, b_lengths = np.where(factored, h * ranks, 0), np.where(factored, ranks * w, 0)
    a_starts, b_starts = _prefix_offsets(a_lengths), _prefix_offsets(b_lengths)
    a = np.empty(int(a_lengths.sum()), _NUMPY_DTYPE[dtype])
    b = np.empty(int(b_lengths.sum()), _NUMPY_DTYPE[dtype])
    a_scale_starts = _prefix_offsets(np.where(factored, ranks, 0))
    a_scales = np.empty(int(ranks[factored].sum()), _SCALE_DTYPE)
    b_scales = np.empty(int(factored.sum()), _SCALE_DTYPE)
    b_scale_index = np.cumsum(factored) - 1
    U = factorization.U.reshape(-1, s, s)
    S = factorization.S.reshape(-1, s)
    Vh = factorization.Vh.reshape(-1, s, s)
    for hh, ww, r, index in _groups(geometry, ranks, factored):
        at = torch.from_numpy(index).to(U.device)
        a_block = U[at, :hh, :r] * S[at, None, :r]  # (n, h', r)
        b_block = Vh[at, :r, :ww]  # (n, r, w')
        if dtype == "int8":
            a_scale = _int8_scale(a_block, 1)  # (n, r): one per column of a
            b_scale = _int8_scale(b_block, (1, 2))  # (n,): one per tile
            a_block = torch.round(a_block / a_scale[:, None, :]).clamp_(-127, 127)
            b_block = torch.round(b_block / b_scale[:, None, None]).clamp_(-127, 127)
            _scatter(a_scales, a_scale_starts[index], a_scale.cpu().numpy().astype(_SCALE_DTYPE))
            b_scales[b_scale_index[index]] = b_scale.cpu().numpy().astype(_SCALE_DTYPE)
        a_values = a_block.reshape(len(index), -1).cpu().numpy().astype(_NUMPY_DTYPE[dtype])
        b_values = b_block.reshape(len(index), -1).cpu().numpy().astype(_NUMPY_DTYPE[dtype])
        _scatter(a, a_starts[index], a_values)
        _scatter(b, b_starts[index], b_values)

    header = _HEADER.pack(FORMAT_MAGIC, FORMAT_VERSION, _MODE_CODES[factorization.mode], _DTYPE_CODES[dtype],
                          s, geometry.channels, factorization.height, factorization.width)
    pieces = [header, codes.tobytes(), means.tobytes(), raw.tobytes(), a.tobytes(), b.tobytes()]
    if dtype == "int8":
        pieces += [a_scales.tobytes(), b_scales.tobytes()]
    return b"".join(pieces)


def _read_header(data: bytes) -> tuple[str, str, int, int, int, int]:
    """(mode, dtype, tile side, channels, H, W) from a file's header, validated."""
    if len(data) < HEADER_BYTES:
        raise ParseError(f"a tile file starts with a {HEADER_BYTES}-byte header; got {len(data)} bytes")
    magic, version, mode_code, dtype_code, side, channels, height, width = _HEADER.unpack_from(data)
    if magic != FORMAT_MAGIC:
        raise ParseError(f"not a tile file: it starts with {magic!r}, not {FORMAT_MAGIC!r}")
    if version != FORMAT_VERSION:
        raise ParseError(f"tile file version {version} is not supported (only {FORMAT_VERSION})")
    if mode_code >= len(COLOR_MODES) or dtype_code >= len(TILE_DTYPES):
        raise ParseError(f"unknown colour mode {mode_code} or dtype {dtype_code} in the header")
    mode, dtype = COLOR_MODES[mode_code], TILE_DTYPES[dtype_code]
    if side not in TILE_SIDES:
        raise ParseError(f"tile side {side} in the header is not one of {TILE_SIDES}")
    allowed = {"rgb": (1, 3), "luminance": (1,), "ycbcr": (3,)}[mode]
    if channels not in allowed:
        raise ParseError(f"{channels} channels in the header do not fit the {mode} mode")
    if height < 1 or width < 1:
        raise ParseError(f"the header's image size {width}×{height} is empty")
    if height * width > MAX_PIXELS:
        raise TooLargeError(f"the header claims {width}×{height} = {height * width:,} pixels; the limit is "
                            f"{MAX_PIXELS:,}")
    return mode, dtype, side, channels, height, width


def _take(data: bytes, start: int, count: int, dtype: np.dtype, what: str) -> tuple[np.ndarray, int]:
    """``count`` values of ``dtype`` from ``start``; ParseError when the file is shorter."""
    end = start + count * dtype.itemsize
    if end > len(data):
        raise ParseError(f"the tile file is truncated: its {what} need bytes {start}..{end}; "
                         f"it has {len(data)}")
    return np.frombuffer(data, dtype=dtype, count=count, offset=start), end


def decode_tiles(data: bytes) -> Tensor:
    """Rebuild the image from a tile file (``TileCompression.to_bytes()``) alone.

    Parameters
    ----------
    data : bytes
        The whole file; nothing else is read.

    Returns
    -------
    Tensor of shape (C_out, H, W), float32 in [0, 1], CPU
        RGB (3, H, W) or grey (1, H, W), clipped, not yet rounded to 8 bits (``image.to_uint8`` does that).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ParseError(f"a tile file must be bytes; got {type(data).__name__}")
    data = bytes(data)
    mode, dtype, s, channels, height, width = _read_header(data)
    geometry = _geometry(channels, height, width, s)
    h, w = geometry.heights, geometry.widths
    codes, at = _take(data, HEADER_BYTES, geometry.count, np.dtype("u1"), "rank codes")
    codes = codes.astype(np.int64)
    is_raw = codes == RAW_CODE
    ranks = np.where(is_raw, 0, codes)
    bad = np.nonzero(~is_raw & (ranks > geometry.max_ranks))[0]
    if len(bad):
        n = int(bad[0])
        raise ParseError(f"tile {n} has rank {int(codes[n])}, above its largest possible "
                         f"{int(geometry.max_ranks[n])}")
    factored = ranks > 0
    value_dtype = _NUMPY_DTYPE[dtype]
    mean_dtype = np.dtype("u1") if dtype == "int8" else value_dtype
    means, at = _take(data, at, int((~is_raw).sum()), mean_dtype, "means")
    raw_lengths = np.where(is_raw, h * w, 0)
    raw, at = _take(data, at, int(raw_lengths.sum()), np.dtype("u1"), "raw pixels")
    a_lengths, b_lengths = np.where(factored, h * ranks, 0), np.where(factored, ranks * w, 0)
    a, at = _take(data, at, int(a_lengths.sum()), value_dtype, "factors a")
    b, at = _take(data, at, int(b_lengths.sum()), value_dtype, "factors b")
    if dtype == "int8":
        a_scales, at = _take(data, at, int(ranks[factored].sum()), _SCALE_DTYPE, "scales of a")
        b_scales, at = _take(data, at, int(factored.sum()), _SCALE_DTYPE, "scales of b")
    if at != len(data):
        raise ParseError(f"the tile file has {len(data) - at} bytes after its last section")
    for values, what in ((means, "means"), (a, "factors"), (b, "factors")):
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            raise NonFiniteError(f"the tile file's {what} contain NaN or infinite values")
    if dtype == "int8" and not (np.isfinite(a_scales).all() and np.isfinite(b_scales).all()):
        raise NonFiniteError("the tile file's scales contain NaN or infinite values")

    offsets = _channel_offsets(mode, channels)[geometry.channel]  # (N,)
    mean_values = np.zeros(geometry.count)
    mean_values[~is_raw] = means / 255.0 - offsets[~is_raw] if dtype == "int8" else means
    tiles = torch.zeros(geometry.count, s, s)  # (N, s, s)
    tiles += torch.from_numpy(mean_values).float()[:, None, None]
    raw_starts = _prefix_offsets(raw_lengths)
    for hh, ww, _, index in _groups(geometry, ranks, is_raw):
        values = _gather(raw, raw_starts[index], hh * ww).astype(np.float32) / 255.0 - offsets[index, None]
        tiles[index, :hh, :ww] = torch.from_numpy(values.astype(np.float32)).reshape(-1, hh, ww)
    a_starts, b_starts = _prefix_offsets(a_lengths), _prefix_offsets(b_lengths)
    a_scale_starts = _prefix_offsets(np.where(factored, ranks, 0))
    b_scale_index = np.cumsum(factored) - 1
    for hh, ww, r, index in _groups(geometry, ranks, factored):
        a_block = torch.from_numpy(_gather(a, a_starts[index], hh * r).astype(np.float32)).reshape(-1, hh, r)
        b_block = torch.from_numpy(_gather(b, b_starts[index], r * ww).astype(np.float32)).reshape(-1, r, ww)
        if dtype == "int8":
            a_scale = _gather(a_scales, a_scale_starts[index], r).astype(np.float32)  # (n, r)
            b_scale = b_scales[b_scale_index[index]].astype(np.float32)  # (n,)
            a_block = a_block * torch.from_numpy(a_scale)[:, None, :]
            b_block = b_block * torch.from_numpy(b_scale)[:, None, None]
        tiles[index, :hh, :ww] += torch.bmm(a_block, b_block)  # (n, h', w')
    planes = _from_tiles(tiles.reshape(channels, geometry.rows, geometry.cols, s, s), height, width)
    return from_color_space(planes.contiguous(), mode).clamp_(0.0, 1.0)


# ============================================================================================= results


@dataclass(frozen=True, eq=False)
class TileCompression:
    """A tile-coded image: the ranks chosen, the file, and its quality measured on the 8-bit decode.

    Attributes
    ----------
    mode : str
    tile_side : int
    dtype : {"float32", "float16", "int8"}
    rule : {"ranks", "bytes", "psnr"}
        How the ranks were chosen.
    target : float or None
        The byte budget or the target PSNR (dB) asked for; None for given ranks.
    ranks : Tensor of shape (C, R, K), int64
        Each tile's rank (0 = its mean only), or ``RAW_RANK`` (-1) for a tile stored as raw 8-bit pixels.
    tile_bytes : Tensor of shape (C, R, K), int64
        Bytes each tile takes in the file (rank code, mean, factors and scales, or raw pixels): where the
        bytes went. Their sum plus ``header_bytes`` is ``total_bytes``.
    header_bytes : int
    total_bytes : int
        ``len(to_bytes())``: everything stored.
    rank_histogram : tuple of int
        Tiles (over all channels) at rank 0, 1, ..., tile_side; raw tiles are counted in ``raw_tiles``.
    raw_tiles : int
    predicted_mse, predicted_psnr : float
        From the singular values and the stored means (the allocation's model; exact in the colour space
        before factor rounding, clipping and 8 bits; YCbCr errors weighted into RGB).
    measured_mse, measured_psnr : float
        Of ``image`` against the reference (``metrics.psnr``): what a PSNR card beside it shows.
    image : Tensor of shape (C_out, H, W), uint8
        ``image.to_uint8(decode_tiles(data))``.
    data : bytes
        The file.
    """

    mode: str
    tile_side: int
    dtype: str
    rule: str
    target: float | None
    ranks: Tensor
    tile_bytes: Tensor
    header_bytes: int
    total_bytes: int
    rank_histogram: tuple[int, ...]
    raw_tiles: int
    predicted_mse: float
    predicted_psnr: float
    measured_mse: float
    measured_psnr: float
    image: Tensor
    data: bytes

    def to_bytes(self) -> bytes:
        """The file: ``decode_tiles`` rebuilds ``image`` from it alone."""
        return self.data

    @property
    def height(self) -> int:
        """H."""
        return int(self.image.shape[1])

    @property
    def width(self) -> int:
        """W."""
        return int(self.image.shape[2])

    @property
    def bits_per_pixel(self) -> float:
        """8 · total_bytes / (H·W)."""
        return 8 * self.total_bytes / (self.height * self.width)

    def histogram(self) -> dict[str, int]:
        """The rank histogram for JSON: {"0": n0, "1": n1, ..., "raw": n_raw}, ranks with no tile left out."""
        out = {str(r): n for r, n in enumerate(self.rank_histogram) if n}
        out["raw"] = self.raw_tiles
        return out
