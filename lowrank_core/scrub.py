"""What a browser needs to draw every rank of an image (or a matrix) itself: display factors in one blob.

The rank scrubber (``ui/components/scrubber``) draws the rank-r reconstruction in a canvas by adding and
removing rank-one terms ``a[:, t] b[t, :]`` at the display size. This module computes those factors once
per (image, colour mode, precision, display size, rank cap) from an ``ImageCodec`` (or, for the matrix
explorer's heatmaps, from a ``Factorization`` at the shown rows and columns) and packs them into ONE
little-endian binary blob: a fixed header, a section table and typed arrays (no JSON lists). ``unpack``
reads a blob back and ``ScrubFactors.image_at`` rebuilds a rank exactly as ``scrubber.js`` does, so the
format is tested in Python against ``ImageCodec.reconstruct(ranks, dtype=dtype, size=size)``.

What is sent, per precision (k = the rank cap, C channels, display h × w, source H × W):

- float32: ``a`` at the display rows (C, k, h) and ``b`` at the display columns (C, k, w), float32: the
  very values ``ImageCodec.reconstruct(..., size=(h, w))`` multiplies.
- float16: the same factors rounded to float16. The codec rounds its full-size factors through float16 and
  then resizes them; the resized values are rounded to float16 once more for the wire. Measured against
  the codec's display image this moves < 3 % of the 8-bit pixels by one grey level and none by more.
- int8: the codec's own int8 values and float32 scales (one per column of a and per row of b), at the
  SOURCE rows and columns, plus the resize as a sparse map (for each display row: the first source row and
  its weights). Re-quantizing the resized factors to int8 at display size would be half the bytes but
  misses the precision bound (0.3-6 % of the pixels off by 2-4 grey levels, measured on the samples and a
  1080p photo), so the browser resizes the int8 factors itself (a few multiply-adds per entry, once).
  Without a resize (an image at most the display size) the int8 values are sent as they are.

Also in the blob: the codec's singular values (C, codec ranks) for a kept marker, the original at the
display size as 8-bit planes (deflate of PNG's "Up" filter; the browser's DecompressionStream undoes it),
and the constants of the colour conversion, so the browser converts exactly as ``from_color_space`` and
``to_uint8`` do: RGB = M · (Y, Cb − 128/255, Cr − 128/255) with M = ``RGB_FROM_YCBCR`` rounded to float32,
then clip to [0, 1], then ``x·255 + 0.5`` truncated (in float32).

Payload size at the default budget (``MAX_PAYLOAD_BYTES`` = 4,000,000 bytes; the rank cap is the most
ranks that fit, at most the codec's stored rank), measured by ``tests/core/test_scrub.py`` and
``benchmarks/scrub.py``:

=====================  =========  =========  ===========  ========  ===========================
image (source)         display    precision  bytes        rank cap  bytes a rank
=====================  =========  =========  ===========  ========  ===========================
1920×1080 RGB photo    1024×576   float16    3,990,616    320       9,600 (+ 0.9 MB original)
1920×1080 RGB photo    1024×576   int8       3,991,808    337       9,024 (source-size int8)
1920×1080 RGB photo    1024×576   float32    3,990,616    160       19,200
1920×1080 luminance    1024×576   float16    3,757,248    1080      3,200 (the full rank)
512×512 RGB sample     512×512    float16    3,580,464    512       6,144 (the full rank)
512×512 RGB sample     512×512    int8       2,019,920    512       3,096 (the full rank)
=====================  =========  =========  ===========  ========  ===========================

(``sources.sample_photo_1080p()`` and the "astronaut" sample; the original's share depends on the image.)

Why fill the budget by default: every shipped sample then goes whole (its full rank), and at 1080p the
float16 cap of 320 is where the display picture stops changing: rank 320 is within 2 grey levels of the
full rank 1080 on every pixel (mean 0.13 levels, PSNR 56.8 dB against it; rank 160 still differs by 2.1
levels on average). Ranks above the cap are shown by the page's server path (the scrubber says so).

Bytes a rank: C · (h + w) · 2 for float16, C · (h + w) · 4 for float32, C · (H' + W' + 8) for int8 with
H' = H and W' = W when resized (h and w otherwise).

Blob layout (all little-endian; offsets in bytes):

- Header, ``HEADER_BYTES`` = 256: ``magic`` 4s b"LRSB" @0, ``version`` u16 @4, ``header_bytes`` u16 @6,
  ``payload_id`` 16 bytes @8 (BLAKE2b-128 of everything after the header), ``kind`` u8 @24 (0 image,
  1 matrix), ``mode`` u8 @25 (0 rgb, 1 luminance or grey, 2 ycbcr, 3 matrix), ``dtype`` u8 @26 (0 float32,
  1 float16, 2 int8), ``channels`` C u8 @27, ``output_channels`` u8 @28 (3 or 1), ``groups`` u8 @29,
  ``channel_group`` 4×u8 @30 (the rank group of channel c), ``sections`` u16 @34, ``height`` h u32 @36,
  ``width`` w u32 @40, ``ranks`` k u32 @44 (the rank cap), ``codec_ranks`` u32 @48 (ranks the server
  holds: an exact SVD's min(H, W), or a randomized preview's cap), ``full_rank`` u32 @52 (min(H, W)),
  ``source_height`` u32 @56, ``source_width`` u32 @60, ``method`` u8 @64 (0 exact, 1 randomized),
  ``rgb_from_ycbcr`` 9×f64 @72 (row-major), ``chroma_offset`` f64 @144, ``luma_weights`` 3×f64 @152,
  ``clip_low`` f64 @176, ``clip_high`` f64 @184, ``scale`` f64 @192 (255), ``round_offset`` f64 @200
  (0.5), ``error_gain`` f64 @208, ``limit`` f64 @216 (matrix colour scale: ±limit), zeros to 256.
- Section table at 256: ``sections`` entries of 16 bytes: ``tag`` 4s, ``dtype`` u8 (0 f32, 1 f16, 2 i8,
  3 u8, 4 i32), ``encoding`` u8 (0 raw, 1 deflate of "Up"-filtered bytes), 2 zero bytes, ``offset`` u32,
  ``length`` u32 (bytes as stored).
- Sections, each at an offset that is a multiple of 8, shapes implied by the header: ``SIGM`` f32
  (C, codec_ranks); ``AFAC`` (C, k, h or H) rank-major (column t of a is contiguous); ``BFAC`` (C, k, w or
  W); ``ASCL``, ``BSCL`` f32 (C, k) for int8; ``RIDX`` i32 (h,) and ``RWGT`` f32 (h, T) when the rows are
  resized in the browser (display row i = Σ_j RWGT[i, j] · source row RIDX[i] + j); ``CIDX``, ``CWGT``
  likewise for the columns; ``ORIG`` u8 (output channels, h, w), encoding 1. Matrices: ``AFAC``, ``BFAC``
  f32, ``WMAT`` f32 (p, q) (the shown entries of W), ``CLUT`` u8 (L, 3) (the colour scale, index
  ``rint(clip((v / limit + 1) / 2, 0, 1) · (L − 1))``), ``ROWS`` i32 (p,), ``COLS`` i32 (q,).
"""

from __future__ import annotations

import hashlib
import math
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .budget import DTYPE_BYTES, quantize
from .errors import LowRankError, ParseError, RankError, ShapeError, TooLargeError
from .factorize import Factorization
from .image import (
    CHROMA_OFFSET,
    LUMA_WEIGHTS,
    RGB_FROM_YCBCR,
    ImageCodec,
    reference_image,
    resize,
    to_uint8,
)

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "MAX_DISPLAY_SIDE",
    "MAX_MATRIX_SIDE",
    "HEADER_BYTES",
    "ERROR_GAIN",
    "ResizeMap",
    "ScrubFactors",
    "scrub_factors",
    "matrix_scrub_factors",
    "pack",
    "unpack",
    "payload_id",
    "PayloadHeader",
    "read_header",
]

MAX_PAYLOAD_BYTES = 4_000_000  # default budget of one blob; the rank cap is the most ranks that fit
MAX_DISPLAY_SIDE = 2048  # display sizes above this are refused (the page shows at most 1024)
MAX_MATRIX_SIDE = 1024  # shown rows or columns of a matrix
HEADER_BYTES = 256
ERROR_GAIN = 8  # the error view shows |original − reconstruction| × this
MAGIC = b"LRSB"
VERSION = 1
_SECTION_BYTES = 16
_KINDS = ("image", "matrix")
_MODES = ("rgb", "luminance", "ycbcr", "matrix")
_WIRE_DTYPES = ("float32", "float16", "int8")
_ARRAY_DTYPES = {0: np.dtype("<f4"), 1: np.dtype("<f2"), 2: np.dtype("i1"), 3: np.dtype("u1"),
                 4: np.dtype("<i4")}
_TORCH_WIRE = {"float32": torch.float32, "float16": torch.float16, "int8": torch.int8}
_HEADER = struct.Struct("<4sHH16sBBBBBB4sHIIIIIIIB7x9dd3d6d32x")
assert _HEADER.size == HEADER_BYTES


@dataclass(frozen=True)
class ResizeMap:
    """A resize along one axis as a sparse matrix: output i = Σ_j weights[i, j] · input[start[i] + j].

    Attributes
    ----------
    start : Tensor of shape (n_out,), int32
        First input index each output reads (``start[i] + taps <= n_in``).
    weights : Tensor of shape (n_out, taps), float32
        The resize's weights, zero where an output needs fewer taps.
    size_in : int
    """

    start: Tensor
    weights: Tensor
    size_in: int

    @property
    def size_out(self) -> int:
        """Number of outputs."""
        return int(self.start.shape[0])

    def apply(self, x: Tensor) -> Tensor:
        """Resize the last axis of ``x`` (..., size_in) -> (..., size_out), as the browser does (float32)."""
        taps = self.weights.shape[1]
        index = self.start[:, None].long() + torch.arange(taps)[None, :]  # (n_out, taps)
        gathered = x.float()[..., index]  # (..., n_out, taps)
        return (gathered * self.weights).sum(-1)  # (..., n_out)


@dataclass(frozen=True)
class ScrubFactors:
    """Everything the browser draws every rank from, as it travels (see the module docstring).

    Attributes
    ----------
    kind : {"image", "matrix"}
    mode : {"rgb", "luminance", "ycbcr", "matrix"}
        "luminance" also stands for a grey image in the RGB mode (one channel, drawn grey).
    dtype : {"float32", "float16", "int8"}
        The precision of ``a`` and ``b`` on the wire (matrices: float32).
    groups : tuple of tuples of int
        Channels that share one rank (``ImageCodec.groups``); ((0,),) for a matrix.
    height, width : int
        Display size h × w (matrices: the shown rows p and columns q).
    source_height, source_width : int
        H × W of the factorized image (or matrix).
    a : Tensor of shape (C, k, h) or (C, k, H)
        Rank-major: ``a[c, t]`` is column t of the codec's a = U diag(S), at the display rows (or at the
        source rows when ``row_map`` is set). torch.float32, torch.float16 or torch.int8.
    b : Tensor of shape (C, k, w) or (C, k, W)
        ``b[c, t]`` is row t of Vh, at the display columns (or the source columns with ``col_map``).
    a_scale, b_scale : Tensor of shape (C, k), float32, or None
        int8 scales: the value of ``a[c, t, i]`` is ``a_scale[c, t] · a[c, t, i]``.
    row_map, col_map : ResizeMap or None
        The resize the browser applies to int8 factors sent at the source size.
    S : Tensor of shape (C, n), float32
        The codec's singular values (every one it holds), for a spectrum's kept marker.
    codec_ranks : int
        Ranks the server holds (``ImageCodec.max_rank``); a randomized preview holds fewer than full_rank.
    full_rank : int
        min(H, W): the slider's range.
    method : {"exact", "randomized"}
    original : Tensor
        Images: (output channels, h, w) uint8, the original (its luma for "luminance") at the display size.
        Matrices: (p, q) float32, the shown entries of W.
    limit : float
        Matrices: the colour scale runs from −limit to +limit. 0 for images.
    colours : Tensor of shape (L, 3), uint8, or None
        Matrices: the diverging colour scale.
    rows, cols : Tensor of int64, or None
        Matrices: the original indices of the shown rows (p,) and columns (q,).
    """

    kind: str
    mode: str
    dtype: str
    groups: tuple[tuple[int, ...], ...]
    height: int
    width: int
    source_height: int
    source_width: int
    a: Tensor
    b: Tensor
    a_scale: Tensor | None
    b_scale: Tensor | None
    row_map: ResizeMap | None
    col_map: ResizeMap | None
    S: Tensor
    codec_ranks: int
    full_rank: int
    method: str
    original: Tensor
    limit: float = 0.0
    colours: Tensor | None = None
    rows: Tensor | None = None
    cols: Tensor | None = None

    # ------------------------------------------------------------------------------------ shape
    @property
    def channels(self) -> int:
        """C: factor channels (3 for RGB and YCbCr, 1 for luminance, grey or a matrix)."""
        return int(self.a.shape[0])

    @property
    def rank_cap(self) -> int:
        """k: ranks the blob holds; the browser draws ranks 0..k."""
        return int(self.a.shape[1])

    @property
    def output_channels(self) -> int:
        """3 (colour) or 1 (grey, or a matrix)."""
        return 3 if self.mode in ("rgb", "ycbcr") and self.channels == 3 else 1

    def ranks(self, ranks) -> tuple[int, ...]:
        """Validate a rank setting against the cap: an int (every group) or one int per group."""
        if isinstance(ranks, int | np.integer) and not isinstance(ranks, bool):
            ranks = (int(ranks),) * len(self.groups)
        ranks = tuple(ranks)
        if len(ranks) != len(self.groups):
            raise RankError(f"expected {len(self.groups)} rank(s) for the {self.mode} mode; got {ranks}")
        for r in ranks:
            if isinstance(r, bool) or not isinstance(r, int | np.integer) or not 0 <= r <= self.rank_cap:
                raise RankError(f"rank must be a whole number between 0 and {self.rank_cap}; got {r!r}")
        return tuple(int(r) for r in ranks)

    # ------------------------------------------------------------------------------------ as the browser
    def display_factors(self) -> tuple[Tensor, Tensor]:
        """The float32 factors the browser accumulates: a (C, k, h) and b (C, k, w).

        float16 is widened, int8 is multiplied by its scales and then resized by ``row_map``/``col_map``.
        """
        a, b = self.a.float(), self.b.float()
        if self.a_scale is not None:
            a = a * self.a_scale[:, :, None]
            b = b * self.b_scale[:, :, None]
        if self.row_map is not None:
            a = self.row_map.apply(a)  # (C, k, h)
        if self.col_map is not None:
            b = self.col_map.apply(b)  # (C, k, w)
        return a, b

    def channels_at(self, ranks) -> Tensor:
        """Σ_{t < r} a[c, t] ⊗ b[c, t] per channel, float32: (C, h, w) (matrices: (1, p, q))."""
        ranks = self.ranks(ranks)
        a, b = self.display_factors()
        out = torch.zeros(self.channels, self.height, self.width)
        for group, r in zip(self.groups, ranks, strict=True):
            for c in group:
                if r:
                    out[c] = a[c, :r].T @ b[c, :r]  # (h, w)
        return out

    def image_at(self, ranks) -> Tensor:
        """The 8-bit image the browser shows at a rank setting: (3 or 1, h, w) uint8.

        The colour conversion uses ``RGB_FROM_YCBCR`` rounded to float32, then clip and round as
        ``to_uint8`` (the browser does the same in float32, term order aside).
        """
        if self.kind != "image":
            raise LowRankError("image_at needs an image payload; this one is a matrix")
        channels = self.channels_at(ranks)  # (C, h, w)
        if self.mode == "ycbcr":
            matrix = RGB_FROM_YCBCR.float()
            channels = torch.einsum("ij,jhw->ihw", matrix, channels)  # (3, h, w)
        return to_uint8(channels)

    def error_at(self, ranks) -> Tensor:
        """The error view: min(|original − image_at(ranks)| · ERROR_GAIN, 255), uint8 of the same shape."""
        shown = self.image_at(ranks).int()
        return ((self.original.int() - shown).abs() * ERROR_GAIN).clamp(max=255).to(torch.uint8)

    def heatmaps_at(self, rank: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The matrix mode's three pictures at a rank: W, W_r, W − W_r, each (p, q, 3) uint8.

        Values are mapped as ``colours[rint(clip((v / limit + 1) / 2, 0, 1) · (L − 1))]``, in float64.
        """
        if self.kind != "matrix":
            raise LowRankError("heatmaps_at needs a matrix payload; this one is an image")
        (r,) = self.ranks(rank)
        a, b = self.display_factors()
        a64, b64 = a[0, :r].double().numpy(), b[0, :r].double().numpy()  # (r, p), (r, q)
        low_rank = a64.T @ b64  # (p, q)
        shown = self.original.double().numpy()
        return tuple(_colour_index_map(values, self.limit, self.colours.numpy())
                     for values in (shown, low_rank, shown - low_rank))


def _colour_index_map(values: np.ndarray, limit: float, colours: np.ndarray) -> np.ndarray:
    """(p, q) -> (p, q, 3) uint8 through a colour table, as scrubber.js maps a heatmap."""
    position = np.clip((values / limit + 1.0) / 2.0, 0.0, 1.0)
    return colours[np.rint(position * (len(colours) - 1)).astype(np.int64)]


# ================================================================================================ build


def _check_dtype(dtype: str) -> str:
    """A precision the codec knows."""
    if dtype not in DTYPE_BYTES:
        raise LowRankError(f"dtype must be one of {tuple(DTYPE_BYTES)}; got {dtype!r}")
    return dtype


def _check_budget(max_bytes) -> int:
    """A positive whole number of bytes."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int | np.integer) or max_bytes < 1:
        raise LowRankError(f"max_bytes must be a positive whole number; got {max_bytes!r}")
    return int(max_bytes)


def _check_rank_cap(rank_cap, limit: int) -> int | None:
    """None, or a whole number in 1..limit."""
    if rank_cap is None:
        return None
    if isinstance(rank_cap, bool) or not isinstance(rank_cap, int | np.integer):
        raise RankError(f"rank_cap must be a whole number; got {rank_cap!r}")
    if not 1 <= rank_cap <= limit:
        raise RankError(f"rank_cap must be between 1 and {limit} (the ranks held); got {rank_cap}")
    return int(rank_cap)


def _check_size(size, height: int, width: int) -> tuple[int, int]:
    """A display size (h, w): positive, at most the source size and MAX_DISPLAY_SIDE."""
    if size is None:
        size = (height, width)
    try:
        h, w = (int(v) for v in size)
        whole = all(int(v) == v and not isinstance(v, bool) for v in size)
    except (TypeError, ValueError):
        raise ShapeError(f"size must be a pair (height, width) of whole numbers; got {size!r}") from None
    if not whole or not (1 <= h <= height and 1 <= w <= width):
        raise ShapeError(f"size must be between (1, 1) and the image's ({height}, {width}); got {size!r}")
    if max(h, w) > MAX_DISPLAY_SIDE:
        raise TooLargeError(f"the display size may be at most {MAX_DISPLAY_SIDE} pixels a side; got {h}×{w}")
    return h, w


def _resize_axis(x: Tensor, size: int, axis: int) -> Tensor:
    """Resize axis -2 (rows) or -1 (columns) of a (C, m, n) stack with ``image.resize``.

    ``image.resize`` is torch's antialiased bilinear interpolation; with a single column (or row) along the
    other axis torch 2.13 returns wrong values (``F.interpolate`` of a (1, 1, 8, 1) ramp to (4, 1) gives
    0.71 four times), so a single line is doubled first and the copy dropped after.
    """
    other = -1 if axis == -2 else -2
    if x.shape[axis] == size:
        return x.float()
    single = x.shape[other] == 1
    if single:
        x = torch.cat([x, x], dim=other)
    target = (size, x.shape[-1]) if axis == -2 else (x.shape[-2], size)
    out = resize(x.float(), target)
    return out.narrow(other, 0, 1) if single else out


def _resize_map(size_in: int, size_out: int) -> ResizeMap:
    """The weights ``image.resize`` uses from ``size_in`` to ``size_out`` points, as a sparse map."""
    chunks = []
    for start in range(0, size_in, 512):  # resize identity columns in chunks: never an n_in² tensor
        stop = min(size_in, start + 512)
        eye = torch.zeros(1, size_in, stop - start)
        eye[0, torch.arange(start, stop), torch.arange(stop - start)] = 1.0
        chunks.append(_resize_axis(eye, size_out, -2)[0])  # (n_out, chunk)
    dense = torch.cat(chunks, dim=1)  # (n_out, n_in): output i = Σ_j dense[i, j] · input j
    nonzero = dense != 0
    first = torch.where(nonzero.any(1), nonzero.float().argmax(1), torch.zeros(size_out, dtype=torch.long))
    last = size_in - 1 - nonzero.flip(1).float().argmax(1)
    taps = int((last - first + 1).max())
    first = first.clamp(max=size_in - taps)
    index = first[:, None] + torch.arange(taps)[None, :]  # (n_out, taps)
    weights = torch.gather(dense, 1, index)
    return ResizeMap(first.to(torch.int32), weights.contiguous(), size_in)


def _int8_wire(values: Tensor, *, dim: int) -> tuple[Tensor, Tensor]:
    """int8 values and float32 scales of ``budget.quantize(values, "int8", dim=dim)``: scale · q == it."""
    scale = values.abs().amax(dim=dim).float() / 127  # one per slice
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.round(values / scale.unsqueeze(dim)).clamp(-127, 127).to(torch.int8)
    return q, scale


def _rank_bytes(dtype: str, channels: int, a_len: int, b_len: int) -> int:
    """Bytes one more rank adds to the blob."""
    per = DTYPE_BYTES[dtype]
    return channels * ((a_len + b_len) * per + (8 if dtype == "int8" else 0))


def _fit_cap(fixed: int, per_rank: int, held: int, rank_cap: int | None, max_bytes: int) -> int:
    """The rank cap: ``rank_cap`` when given (and it fits), else the most ranks that fit in max_bytes."""
    room = max_bytes - fixed
    fits = room // per_rank if room > 0 else 0
    if rank_cap is not None:
        if rank_cap > fits:
            raise TooLargeError(f"{rank_cap} ranks take {fixed + rank_cap * per_rank:,} bytes; the budget is "
                                f"max_bytes = {max_bytes:,}")
        return rank_cap
    if fits < 1:
        raise TooLargeError(f"not even one rank fits in max_bytes = {max_bytes:,} "
                            f"(fixed part {fixed:,} bytes, {per_rank:,} bytes a rank)")
    return min(held, int(fits))


def _original_planes(pixels: Tensor, mode: str, size: tuple[int, int]) -> Tensor:
    """The original (its luma for "luminance") at the display size, 8-bit: (C_out, h, w) uint8."""
    reference = reference_image(pixels, mode)  # (C_out, H, W)
    return to_uint8(resize(reference, size).clamp(0.0, 1.0))


def scrub_factors(codec: ImageCodec, pixels: Tensor, *, dtype: str = "float16",
                  size: tuple[int, int] | None = None, rank_cap: int | None = None,
                  max_bytes: int = MAX_PAYLOAD_BYTES) -> ScrubFactors:
    """The display factors of an image codec: what the browser needs to draw ranks 0..cap at ``size``.

    Parameters
    ----------
    codec : ImageCodec
        The factorization (exact, or a randomized preview: then the cap is at most its rank).
    pixels : Tensor of shape (C, H, W), values in [0, 1]
        The image the codec was made from (for the original at the display size).
    dtype : {"float32", "float16", "int8"}
        The precision the page rebuilds from (``ImageCodec.reconstruct(..., dtype=dtype)``).
    size : (h, w), optional
        Display size, at most the image's and ``MAX_DISPLAY_SIDE``; default the full size.
    rank_cap : int, optional
        Ranks to send. Default: as many as fit in ``max_bytes`` (at most the codec's stored rank).
    max_bytes : int
        Budget of the packed blob (``pack``); a ``rank_cap`` that does not fit raises TooLargeError.

    Returns
    -------
    ScrubFactors
        On the CPU; ``pack`` turns it into bytes.
    """
    if not isinstance(codec, ImageCodec):
        raise LowRankError(f"codec must be an ImageCodec; got {type(codec).__name__}")
    dtype = _check_dtype(dtype)
    max_bytes = _check_budget(max_bytes)
    if not isinstance(pixels, Tensor) or pixels.dim() != 3 or tuple(pixels.shape[1:]) != (codec.height,
                                                                                          codec.width):
        shape = tuple(pixels.shape) if isinstance(pixels, Tensor) else type(pixels).__name__
        raise ShapeError(f"pixels must be the codec's image, (C, {codec.height}, {codec.width}); got {shape}")
    H, W = codec.height, codec.width
    h, w = _check_size(size, H, W)
    rank_cap = _check_rank_cap(rank_cap, codec.max_rank)
    C = codec.channels
    mode = "luminance" if codec.mode == "luminance" or (codec.mode == "rgb" and C == 1) else codec.mode
    original = _original_planes(pixels, codec.mode, (h, w))  # (C_out, h, w) uint8
    resized_int8 = dtype == "int8"
    row_map = _resize_map(H, h) if resized_int8 and h != H else None
    col_map = _resize_map(W, w) if resized_int8 and w != W else None
    a_len = H if row_map is not None else h
    b_len = W if col_map is not None else w
    fixed = (HEADER_BYTES + 12 * _SECTION_BYTES + 8 * 12 + 4 * C * codec.max_rank
             + len(_deflate_planes(original)) + _map_bytes(row_map) + _map_bytes(col_map))
    cap = _fit_cap(fixed, _rank_bytes(dtype, C, a_len, b_len), codec.max_rank, rank_cap, max_bytes)

    a_raw = codec.a[:, :, :cap].float().cpu()  # (C, H, k) = U diag(S)
    b_raw = codec.b[:, :cap, :].float().cpu()  # (C, k, W) = Vh
    a_scale = b_scale = None
    if dtype == "int8":
        # the codec's own int8 values (budget.quantize's scheme) at the source size; when the display is
        # smaller the browser resizes them with row_map / col_map
        a_wire, a_scale = _int8_wire(a_raw, dim=-2)  # (C, H, k) int8, (C, k)
        b_wire, b_scale = _int8_wire(b_raw, dim=-1)  # (C, k, W) int8, (C, k)
        a_wire = a_wire.transpose(1, 2)  # (C, k, H)
    else:
        if dtype == "float16":  # as ImageCodec.factors reads them back, before resizing
            a_raw, b_raw = quantize(a_raw, dtype, dim=-2), quantize(b_raw, dtype, dim=-1)
        a_wire = _resize_axis(a_raw, h, -2).transpose(1, 2).to(_TORCH_WIRE[dtype])  # (C, k, h)
        b_wire = _resize_axis(b_raw, w, -1).to(_TORCH_WIRE[dtype])  # (C, k, w)
    return ScrubFactors(
        kind="image", mode=mode, dtype=dtype, groups=tuple(codec.groups), height=h, width=w,
        source_height=H, source_width=W, a=a_wire.contiguous().cpu(), b=b_wire.contiguous().cpu(),
        a_scale=None if a_scale is None else a_scale.contiguous().cpu(),
        b_scale=None if b_scale is None else b_scale.contiguous().cpu(),
        row_map=row_map, col_map=col_map, S=codec.factorization.S.float().cpu().contiguous(),
        codec_ranks=codec.max_rank, full_rank=min(H, W), method=codec.method, original=original,
    )


def _map_bytes(resize_map: ResizeMap | None) -> int:
    """Bytes of a resize map's two sections (with alignment)."""
    if resize_map is None:
        return 0
    return _aligned(4 * resize_map.size_out) + _aligned(4 * resize_map.weights.numel())


def matrix_scrub_factors(W: Tensor, factorization: Factorization, *, colours, rows=None, cols=None,
                         limit: float | None = None, rank_cap: int | None = None,
                         max_bytes: int = MAX_PAYLOAD_BYTES) -> ScrubFactors:
    """The matrix explorer's heatmaps as display factors: a and b at the shown rows and columns, float32.

    Parameters
    ----------
    W : Tensor of shape (m, n)
        The matrix (the residual W − W_r needs it; the factorization alone does not hold it).
    factorization : Factorization
        Of W: U (m, k), S (k,), Vh (k, n).
    colours : array of shape (L, 3), uint8
        The diverging colour scale, blue (−limit) to red (+limit); L odd so that 0 is its middle entry.
    rows, cols : int arrays, optional
        The shown rows (p,) and columns (q,), at most ``MAX_MATRIX_SIDE`` each; default all.
    limit : float, optional
        Half-width of the colour scale; default max |W| over the shown entries (1 if all zero).
    rank_cap, max_bytes : see ``scrub_factors``

    Returns
    -------
    ScrubFactors
        kind "matrix": a (1, k, p), b (1, k, q) float32, original = W at the shown entries (p, q).
    """
    if not isinstance(factorization, Factorization) or factorization.S.dim() != 1:
        raise LowRankError("factorization must be the Factorization of one (m, n) matrix")
    if not isinstance(W, Tensor) or W.dim() != 2 or tuple(W.shape) != tuple(factorization.shape):
        shape = tuple(W.shape) if isinstance(W, Tensor) else type(W).__name__
        raise ShapeError(f"W must be the factorized matrix, {tuple(factorization.shape)}; got {shape}")
    max_bytes = _check_budget(max_bytes)
    m, n = W.shape
    rows = _check_indices(rows, m, "rows")
    cols = _check_indices(cols, n, "cols")
    table = np.asarray(colours)
    if table.ndim != 2 or table.shape[1] != 3 or not 2 <= table.shape[0] <= 4096 or table.dtype != np.uint8:
        raise LowRankError(f"colours must be a uint8 array of shape (L, 3), 2 <= L <= 4096; got "
                           f"{table.dtype} {table.shape}")
    shown = W.detach().float().cpu()[rows][:, cols].contiguous()  # (p, q)
    if limit is None:
        finite = shown[torch.isfinite(shown)].abs()
        limit = float(finite.max()) if finite.numel() else 1.0
        limit = limit if limit > 0 else 1.0
    if not (isinstance(limit, int | float) and math.isfinite(limit) and limit > 0):
        raise LowRankError(f"limit must be a positive finite number; got {limit!r}")
    rank_cap = _check_rank_cap(rank_cap, factorization.max_rank)
    p, q = len(rows), len(cols)
    fixed = (HEADER_BYTES + 12 * _SECTION_BYTES + 8 * 12 + 4 * factorization.max_rank + 4 * p * q
             + 3 * len(table) + 4 * (p + q))
    cap = _fit_cap(fixed, _rank_bytes("float32", 1, p, q), factorization.max_rank, rank_cap, max_bytes)
    a, b = factorization.factors(cap)  # (m, k), (k, n)
    a = a.detach().float().cpu()[rows].T.contiguous()[None]  # (1, k, p)
    b = b.detach().float().cpu()[:, cols].contiguous()[None]  # (1, k, q)
    return ScrubFactors(
        kind="matrix", mode="matrix", dtype="float32", groups=((0,),), height=p, width=q,
        source_height=m, source_width=n, a=a, b=b, a_scale=None, b_scale=None, row_map=None, col_map=None,
        S=factorization.S.detach().float().cpu()[None].contiguous(), codec_ranks=factorization.max_rank,
        full_rank=min(m, n), method=factorization.method, original=shown, limit=float(limit),
        colours=torch.from_numpy(table.copy()), rows=torch.as_tensor(rows), cols=torch.as_tensor(cols),
    )


def _check_indices(indices, size: int, name: str) -> np.ndarray:
    """Shown indices: increasing, in 0..size-1, at most MAX_MATRIX_SIDE of them."""
    if indices is None:
        if size > MAX_MATRIX_SIDE:
            raise TooLargeError(f"a matrix with {size} {name} needs {name}= (at most {MAX_MATRIX_SIDE})")
        return np.arange(size)
    out = np.asarray(indices)
    if out.ndim != 1 or out.size == 0 or not np.issubdtype(out.dtype, np.integer):
        raise ShapeError(f"{name} must be a non-empty 1-D array of whole numbers; got {out.dtype} "
                         f"{out.shape}")
    if out.size > MAX_MATRIX_SIDE:
        raise TooLargeError(f"at most {MAX_MATRIX_SIDE} {name} can be shown; got {out.size}")
    if out.min() < 0 or out.max() >= size or np.any(np.diff(out) <= 0):
        raise ShapeError(f"{name} must increase strictly within 0..{size - 1}")
    return out.astype(np.int64)


# ================================================================================================= pack


def _aligned(length: int) -> int:
    """``length`` rounded up to a multiple of 8."""
    return (length + 7) // 8 * 8


def _up_filter(planes: np.ndarray) -> np.ndarray:
    """PNG's "Up" filter per plane: each row minus the row above, modulo 256 (the first row as it is)."""
    out = planes.copy()
    out[:, 1:, :] = planes[:, 1:, :] - planes[:, :-1, :]  # uint8 arithmetic wraps modulo 256
    return out


def _deflate_planes(planes: Tensor) -> bytes:
    """zlib (deflate) of the Up-filtered (C, h, w) uint8 planes."""
    return zlib.compress(_up_filter(planes.numpy()).tobytes(), 6)


def _inflate_planes(data: bytes, shape: tuple[int, int, int]) -> np.ndarray:
    """Undo ``_deflate_planes``: a cumulative sum down each column, modulo 256."""
    expected = shape[0] * shape[1] * shape[2]
    try:
        raw = zlib.decompress(data, bufsize=expected)
    except zlib.error as err:
        raise ParseError(f"the original's planes do not inflate: {err}") from None
    if len(raw) != expected:
        raise ParseError(f"the original's planes hold {len(raw)} bytes; the header says {expected}")
    filtered = np.frombuffer(raw, dtype=np.uint8).reshape(shape)
    return np.cumsum(filtered, axis=1, dtype=np.uint8)  # wraps modulo 256: the inverse of the Up filter


def _array_section(tag: str, values, code: int) -> tuple[str, int, int, bytes]:
    """(tag, dtype code, encoding, bytes) of a raw little-endian array."""
    array = np.ascontiguousarray(values.numpy() if isinstance(values, Tensor) else values,
                                 dtype=_ARRAY_DTYPES[code])
    return tag, code, 0, array.tobytes()


_DTYPE_CODE = {"float32": 0, "float16": 1, "int8": 2}


def pack(factors: ScrubFactors) -> bytes:
    """The blob ``scrubber.js`` reads (layout in the module docstring). Deterministic: same input, same bytes.

    Returns
    -------
    bytes
        The header's ``payload_id`` is the BLAKE2b-128 of everything after the header, so a page can name
        a blob (``payload_id``) without hashing megabytes on every rerun.
    """
    if not isinstance(factors, ScrubFactors):
        raise LowRankError(f"pack needs ScrubFactors; got {type(factors).__name__}")
    f = factors
    code = _DTYPE_CODE[f.dtype]
    sections = [_array_section("SIGM", f.S, 0), _array_section("AFAC", f.a, code),
                _array_section("BFAC", f.b, code)]
    if f.a_scale is not None:
        sections += [_array_section("ASCL", f.a_scale, 0), _array_section("BSCL", f.b_scale, 0)]
    for prefix, resize_map in (("R", f.row_map), ("C", f.col_map)):
        if resize_map is not None:
            sections += [_array_section(f"{prefix}IDX", resize_map.start, 4),
                         _array_section(f"{prefix}WGT", resize_map.weights, 0)]
    if f.kind == "image":
        sections.append(("ORIG", 3, 1, _deflate_planes(f.original)))
    else:
        sections += [_array_section("WMAT", f.original, 0), _array_section("CLUT", f.colours, 3),
                     _array_section("ROWS", f.rows.to(torch.int32), 4),
                     _array_section("COLS", f.cols.to(torch.int32), 4)]
    table_bytes = _aligned(len(sections) * _SECTION_BYTES)
    offset = HEADER_BYTES + table_bytes
    table, body = bytearray(), bytearray()
    for tag, dtype_code, encoding, data in sections:
        table += struct.pack("<4sBB2xII", tag.encode(), dtype_code, encoding, offset, len(data))
        padded = data + b"\0" * (_aligned(len(data)) - len(data))
        body += padded
        offset += len(padded)
    after_header = bytes(table.ljust(table_bytes, b"\0")) + bytes(body)
    digest = hashlib.blake2b(after_header, digest_size=16).digest()
    group_of = [0, 0, 0, 0]
    for g, group in enumerate(f.groups):
        for c in group:
            group_of[c] = g
    matrix = RGB_FROM_YCBCR.tolist()
    header = _HEADER.pack(
        MAGIC, VERSION, HEADER_BYTES, digest, _KINDS.index(f.kind), _MODES.index(f.mode), code,
        f.channels, f.output_channels, len(f.groups), bytes(group_of), len(sections), f.height, f.width,
        f.rank_cap, f.codec_ranks, f.full_rank, f.source_height, f.source_width,
        0 if f.method == "exact" else 1, *(v for row in matrix for v in row), CHROMA_OFFSET, *LUMA_WEIGHTS,
        0.0, 1.0, 255.0, 0.5, float(ERROR_GAIN), float(f.limit),
    )
    return header + after_header


def payload_id(blob: bytes) -> str:
    """The blob's id (hex of the header's BLAKE2b-128 of its body): what names it in the browser."""
    if not isinstance(blob, bytes | bytearray | memoryview) or len(blob) < HEADER_BYTES or blob[:4] != MAGIC:
        raise ParseError("not a scrubber payload (no LRSB header)")
    return bytes(blob[8:24]).hex()


@dataclass(frozen=True)
class PayloadHeader:
    """The header fields a page needs to mount a blob, read without touching (or hashing) the body.

    Attributes
    ----------
    payload_id : str
        Hex of the body's BLAKE2b-128 (``payload_id``).
    kind, mode, dtype, method : str
    channels, groups : int
    height, width : int
        Display size (matrices: shown rows and columns).
    rank_cap, codec_ranks, full_rank : int
        Ranks in the blob, ranks the server holds, min(H, W).
    size : int
        Bytes of the blob.
    """

    payload_id: str
    kind: str
    mode: str
    dtype: str
    method: str
    channels: int
    groups: int
    height: int
    width: int
    rank_cap: int
    codec_ranks: int
    full_rank: int
    size: int


def read_header(blob: bytes) -> PayloadHeader:
    """The header of a blob made by ``pack`` (ParseError when it is not one)."""
    if not isinstance(blob, bytes | bytearray | memoryview) or len(blob) < HEADER_BYTES:
        raise ParseError("not a scrubber payload (shorter than its header)")
    fields = _HEADER.unpack_from(blob, 0)
    (magic, version, header_bytes, digest, kind, mode, code, channels, _out, groups, _group_of, _count,
     h, w, k, codec_ranks, full_rank, _source_h, _source_w, method) = fields[:20]
    if magic != MAGIC or version != VERSION or header_bytes != HEADER_BYTES:
        raise ParseError(f"not a version-{VERSION} scrubber payload (magic {magic!r}, version {version})")
    if kind >= len(_KINDS) or mode >= len(_MODES) or code >= len(_WIRE_DTYPES):
        raise ParseError(f"unknown kind {kind}, mode {mode} or dtype {code}")
    return PayloadHeader(digest.hex(), _KINDS[kind], _MODES[mode], _WIRE_DTYPES[code],
                         "exact" if method == 0 else "randomized", channels, groups, h, w, k, codec_ranks,
                         full_rank, len(blob))


def unpack(blob: bytes) -> ScrubFactors:
    """Read a blob back (the inverse of ``pack``), checking its header, table and id.

    Raises
    ------
    ParseError
        When the bytes are not a version-1 blob, a section is missing, or a length disagrees with the
        header.
    """
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise ParseError(f"a scrubber payload is bytes; got {type(blob).__name__}")
    blob = bytes(blob)
    if len(blob) < HEADER_BYTES:
        raise ParseError(f"a scrubber payload starts with a {HEADER_BYTES}-byte header; got {len(blob)} "
                         "bytes")
    fields = _HEADER.unpack_from(blob, 0)
    (magic, version, header_bytes, digest, kind, mode, code, channels, _out, groups, group_of, count,
     h, w, k, codec_ranks, full_rank, source_h, source_w, method) = fields[:20]
    limit = fields[-1]
    if magic != MAGIC or version != VERSION or header_bytes != HEADER_BYTES:
        raise ParseError(f"not a version-{VERSION} scrubber payload (magic {magic!r}, version {version})")
    if hashlib.blake2b(blob[HEADER_BYTES:], digest_size=16).digest() != digest:
        raise ParseError("the payload's id does not match its bytes (truncated or altered)")
    if kind >= len(_KINDS) or mode >= len(_MODES) or code >= len(_WIRE_DTYPES) or not 1 <= channels <= 3:
        raise ParseError(f"unknown kind {kind}, mode {mode}, dtype {code} or channels {channels}")
    sections = {}
    for i in range(count):
        tag, dtype_code, encoding, offset, length = struct.unpack_from(
            "<4sBB2xII", blob, HEADER_BYTES + i * _SECTION_BYTES)
        if offset + length > len(blob) or dtype_code not in _ARRAY_DTYPES:
            raise ParseError(f"section {tag!r} runs past the end of the payload")
        sections[tag.decode("ascii", "replace")] = (dtype_code, encoding, blob[offset:offset + length])

    def array(tag: str, shape: tuple[int, ...]) -> Tensor:
        if tag not in sections:
            raise ParseError(f"the payload has no {tag} section")
        dtype_code, _, data = sections[tag]
        values = np.frombuffer(data, dtype=_ARRAY_DTYPES[dtype_code])
        if values.size != math.prod(shape):
            raise ParseError(f"section {tag} holds {values.size} values; the header says {shape}")
        return torch.from_numpy(values.reshape(shape).copy())

    group_list = [[] for _ in range(groups)]
    for c in range(channels):
        group_list[group_of[c]].append(c)
    row_map = col_map = None
    if "RIDX" in sections:
        start = array("RIDX", (h,))
        row_map = ResizeMap(start, array("RWGT", (h, len(sections["RWGT"][2]) // 4 // h)), source_h)
    if "CIDX" in sections:
        start = array("CIDX", (w,))
        col_map = ResizeMap(start, array("CWGT", (w, len(sections["CWGT"][2]) // 4 // w)), source_w)
    a = array("AFAC", (channels, k, source_h if row_map else h))
    b = array("BFAC", (channels, k, source_w if col_map else w))
    scaled = _WIRE_DTYPES[code] == "int8"
    common = dict(
        dtype=_WIRE_DTYPES[code], groups=tuple(tuple(g) for g in group_list), height=h, width=w,
        source_height=source_h, source_width=source_w, a=a, b=b,
        a_scale=array("ASCL", (channels, k)) if scaled else None,
        b_scale=array("BSCL", (channels, k)) if scaled else None, row_map=row_map, col_map=col_map,
        S=array("SIGM", (channels, codec_ranks)), codec_ranks=codec_ranks, full_rank=full_rank,
        method="exact" if method == 0 else "randomized",
    )
    if _KINDS[kind] == "image":
        out_channels = 3 if _MODES[mode] in ("rgb", "ycbcr") and channels == 3 else 1
        dtype_code, encoding, data = sections.get("ORIG", (3, 1, b""))
        original = torch.from_numpy(_inflate_planes(data, (out_channels, h, w)).copy())
        return ScrubFactors(kind="image", mode=_MODES[mode], original=original, **common)
    colours = array("CLUT", (len(sections.get("CLUT", (0, 0, b""))[2]) // 3, 3))
    return ScrubFactors(kind="matrix", mode="matrix", original=array("WMAT", (h, w)), limit=float(limit),
                        colours=colours, rows=array("ROWS", (h,)).long(), cols=array("COLS", (w,)).long(),
                        **common)
