"""The blob: one little-endian binary a browser reads with DataView and typed arrays, no JSON lists.

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

from ..errors import LowRankError, ParseError
from ..image import CHROMA_OFFSET, LUMA_WEIGHTS, RGB_FROM_YCBCR
from .factors import ERROR_GAIN, ResizeMap, ScrubFactors

__all__ = ["HEADER_BYTES", "SECTION_BYTES", "PayloadHeader", "pack", "unpack", "payload_id", "read_header",
           "aligned", "deflate_planes", "inflate_planes"]

HEADER_BYTES = 256
SECTION_BYTES = 16
MAGIC = b"LRSB"
VERSION = 1
_KINDS = ("image", "matrix")
_MODES = ("rgb", "luminance", "ycbcr", "matrix")
_WIRE_DTYPES = ("float32", "float16", "int8")
_ARRAY_DTYPES = {0: np.dtype("<f4"), 1: np.dtype("<f2"), 2: np.dtype("i1"), 3: np.dtype("u1"),
                 4: np.dtype("<i4")}
_HEADER = struct.Struct("<4sHH16sBBBBBB4sHIIIIIIIB7x9dd3d6d32x")
assert _HEADER.size == HEADER_BYTES


def aligned(length: int) -> int:
    """``length`` rounded up to a multiple of 8."""
    return (length + 7) // 8 * 8


def _up_filter(planes: np.ndarray) -> np.ndarray:
    """PNG's "Up" filter per plane: each row minus the row above, modulo 256 (the first row as it is)."""
    out = planes.copy()
    out[:, 1:, :] = planes[:, 1:, :] - planes[:, :-1, :]  # uint8 arithmetic wraps modulo 256
    return out


def deflate_planes(planes: Tensor) -> bytes:
    """zlib (deflate) of the Up-filtered (C, h, w) uint8 planes."""
    return zlib.compress(_up_filter(planes.numpy()).tobytes(), 6)


def inflate_planes(data: bytes, shape: tuple[int, int, int]) -> np.ndarray:
    """Undo ``deflate_planes``: a cumulative sum down each column, modulo 256."""
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
        sections.append(("ORIG", 3, 1, deflate_planes(f.original)))
    else:
        sections += [_array_section("WMAT", f.original, 0), _array_section("CLUT", f.colours, 3),
                     _array_section("ROWS", f.rows.to(torch.int32), 4),
                     _array_section("COLS", f.cols.to(torch.int32), 4)]
    table_bytes = aligned(len(sections) * SECTION_BYTES)
    offset = HEADER_BYTES + table_bytes
    table, body = bytearray(), bytearray()
    for tag, dtype_code, encoding, data in sections:
        table += struct.pack("<4sBB2xII", tag.encode(), dtype_code, encoding, offset, len(data))
        padded = data + b"\0" * (aligned(len(data)) - len(data))
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
            "<4sBB2xII", blob, HEADER_BYTES + i * SECTION_BYTES)
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
        original = torch.from_numpy(inflate_planes(data, (out_channels, h, w)).copy())
        return ScrubFactors(kind="image", mode=_MODES[mode], original=original, **common)
    colours = array("CLUT", (len(sections.get("CLUT", (0, 0, b""))[2]) // 3, 3))
    return ScrubFactors(kind="matrix", mode="matrix", original=array("WMAT", (h, w)), limit=float(limit),
                        colours=colours, rows=array("ROWS", (h,)).long(), cols=array("COLS", (w,)).long(),
                        **common)
