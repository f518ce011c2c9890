"""The tile codec's file: the encoder of chosen ranks into bytes, and the decoder that needs nothing else."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ...errors import (
    NonFiniteError,
    ParseError,
    TooLargeError,
)
from .. import COLOR_MODES, from_color_space
from .geometry import (
    DTYPE_CODES,
    FORMAT_MAGIC,
    FORMAT_VERSION,
    HEADER_BYTES,
    HEADER_STRUCT,
    MAX_PIXELS,
    MODE_CODES,
    NUMPY_DTYPE,
    RAW_CODE,
    SCALE_DTYPE,
    TILE_DTYPES,
    TILE_SIDES,
    Geometry,
    channel_offsets,
    from_tiles,
    stored_means,
    tile_geometry,
)

__all__ = ["encode_tiles", "decode_tiles"]


# ============================================================================================ the file


def _prefix_offsets(lengths: np.ndarray) -> np.ndarray:
    """Exclusive cumulative sum: where each piece starts in its section."""
    return np.cumsum(lengths) - lengths


def _groups(geometry: Geometry, ranks: np.ndarray, mask: np.ndarray):
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


def encode_tiles(factorization, geometry: Geometry, options: np.ndarray, dtype: str) -> bytes:
    """The file of ``factorization`` (a ``TileFactorization``), option ``options[n]`` for tile n (layout: the
    module docstring)."""
    s = factorization.tile_side
    h, w = geometry.heights, geometry.widths
    is_raw = options == s + 1
    ranks = np.where(is_raw, 0, options)
    factored = ranks > 0
    codes = np.where(is_raw, RAW_CODE, ranks).astype(np.uint8)
    means, _ = stored_means(factorization.means.reshape(-1), geometry.channel, factorization.mode, dtype)
    means = means[~is_raw]

    raw_lengths = np.where(is_raw, h * w, 0)
    raw = np.empty(int(raw_lengths.sum()), np.uint8)
    raw_starts = _prefix_offsets(raw_lengths)
    raw_codes = factorization.raw_codes.reshape(-1, s, s)
    for hh, ww, _, index in _groups(geometry, ranks, is_raw):
        _scatter(raw, raw_starts[index], raw_codes[index, :hh, :ww].reshape(len(index), -1).numpy())

    a_lengths, b_lengths = np.where(factored, h * ranks, 0), np.where(factored, ranks * w, 0)
    a_starts, b_starts = _prefix_offsets(a_lengths), _prefix_offsets(b_lengths)
    a = np.empty(int(a_lengths.sum()), NUMPY_DTYPE[dtype])
    b = np.empty(int(b_lengths.sum()), NUMPY_DTYPE[dtype])
    a_scale_starts = _prefix_offsets(np.where(factored, ranks, 0))
    a_scales = np.empty(int(ranks[factored].sum()), SCALE_DTYPE)
    b_scales = np.empty(int(factored.sum()), SCALE_DTYPE)
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
            _scatter(a_scales, a_scale_starts[index], a_scale.cpu().numpy().astype(SCALE_DTYPE))
            b_scales[b_scale_index[index]] = b_scale.cpu().numpy().astype(SCALE_DTYPE)
        a_values = a_block.reshape(len(index), -1).cpu().numpy().astype(NUMPY_DTYPE[dtype])
        b_values = b_block.reshape(len(index), -1).cpu().numpy().astype(NUMPY_DTYPE[dtype])
        _scatter(a, a_starts[index], a_values)
        _scatter(b, b_starts[index], b_values)

    header = HEADER_STRUCT.pack(FORMAT_MAGIC, FORMAT_VERSION, MODE_CODES[factorization.mode],
                                DTYPE_CODES[dtype], s, geometry.channels, factorization.height,
                                factorization.width)
    pieces = [header, codes.tobytes(), means.tobytes(), raw.tobytes(), a.tobytes(), b.tobytes()]
    if dtype == "int8":
        pieces += [a_scales.tobytes(), b_scales.tobytes()]
    return b"".join(pieces)


def _read_header(data: bytes) -> tuple[str, str, int, int, int, int]:
    """(mode, dtype, tile side, channels, H, W) from a file's header, validated."""
    if len(data) < HEADER_BYTES:
        raise ParseError(f"a tile file starts with a {HEADER_BYTES}-byte header; got {len(data)} bytes")
    magic, version, mode_code, dtype_code, side, channels, height, width = HEADER_STRUCT.unpack_from(data)
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
    geometry = tile_geometry(channels, height, width, s)
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
    value_dtype = NUMPY_DTYPE[dtype]
    mean_dtype = np.dtype("u1") if dtype == "int8" else value_dtype
    means, at = _take(data, at, int((~is_raw).sum()), mean_dtype, "means")
    raw_lengths = np.where(is_raw, h * w, 0)
    raw, at = _take(data, at, int(raw_lengths.sum()), np.dtype("u1"), "raw pixels")
    a_lengths, b_lengths = np.where(factored, h * ranks, 0), np.where(factored, ranks * w, 0)
    a, at = _take(data, at, int(a_lengths.sum()), value_dtype, "factors a")
    b, at = _take(data, at, int(b_lengths.sum()), value_dtype, "factors b")
    if dtype == "int8":
        a_scales, at = _take(data, at, int(ranks[factored].sum()), SCALE_DTYPE, "scales of a")
        b_scales, at = _take(data, at, int(factored.sum()), SCALE_DTYPE, "scales of b")
    if at != len(data):
        raise ParseError(f"the tile file has {len(data) - at} bytes after its last section")
    for values, what in ((means, "means"), (a, "factors"), (b, "factors")):
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            raise NonFiniteError(f"the tile file's {what} contain NaN or infinite values")
    if dtype == "int8" and not (np.isfinite(a_scales).all() and np.isfinite(b_scales).all()):
        raise NonFiniteError("the tile file's scales contain NaN or infinite values")

    offsets = channel_offsets(mode, channels)[geometry.channel]  # (N,)
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
    planes = from_tiles(tiles.reshape(channels, geometry.rows, geometry.cols, s, s), height, width)
    return from_color_space(planes.contiguous(), mode).clamp_(0.0, 1.0)
