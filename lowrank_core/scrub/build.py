"""Display factors from an image codec (``scrub_factors``) or a matrix's factorization
(``matrix_scrub_factors``), with the rank cap fitted to a byte budget."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from ..budget import DTYPE_BYTES, quantize
from ..errors import LowRankError, RankError, ShapeError, TooLargeError
from ..factorize import Factorization
from ..image import ImageCodec, reference_image, resize, to_uint8
from .blob import HEADER_BYTES, SECTION_BYTES, aligned, deflate_planes
from .factors import ResizeMap, ScrubFactors

__all__ = ["MAX_PAYLOAD_BYTES", "MAX_DISPLAY_SIDE", "MAX_MATRIX_SIDE", "scrub_factors",
           "matrix_scrub_factors"]

MAX_PAYLOAD_BYTES = 4_000_000  # default budget of one blob; the rank cap is the most ranks that fit
MAX_DISPLAY_SIDE = 2048  # display sizes above this are refused (the page shows at most 1024)
MAX_MATRIX_SIDE = 1024  # shown rows or columns of a matrix
_TORCH_WIRE = {"float32": torch.float32, "float16": torch.float16, "int8": torch.int8}


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
    fixed = (HEADER_BYTES + 12 * SECTION_BYTES + 8 * 12 + 4 * C * codec.max_rank
             + len(deflate_planes(original)) + _map_bytes(row_map) + _map_bytes(col_map))
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
    return aligned(4 * resize_map.size_out) + aligned(4 * resize_map.weights.numel())


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
    fixed = (HEADER_BYTES + 12 * SECTION_BYTES + 8 * 12 + 4 * factorization.max_rank + 4 * p * q
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


