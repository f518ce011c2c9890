"""Fixtures shared by the tests of lowrank_core.sources: numpy oracles, and files built in memory (PNG, .npy,
.npz, .pt) so that no binary test file is needed.
"""

from __future__ import annotations

import io
import pathlib
import struct
import zlib

import numpy as np
import torch
from PIL import Image


def _singular_values(x: torch.Tensor) -> np.ndarray:
    """Singular values by numpy in float64: an oracle independent of torch."""
    return np.linalg.svd(x.double().numpy(), compute_uv=False)


def _float32_rank(x: torch.Tensor) -> int:
    """numpy's matrix_rank in float64, with the tolerance float32 data deserves (eps32 · max(m, n) · σ₁)."""
    s = _singular_values(x)
    return int(np.linalg.matrix_rank(x.double().numpy(), tol=s[0] * max(x.shape) * np.finfo(np.float32).eps))


def _encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_claiming(width: int, height: int) -> bytes:
    """A ~60-byte grey PNG whose IHDR claims width × height (with valid CRCs) but holds one row of data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + _png_chunk(b"IEND", b"")
    )


def _npy(array: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, **options)
    return buffer.getvalue()


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _pt(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


class _TouchOnUnpickle:
    """Unpickling this runs ``Path.touch(path)``: proof that code ran."""

    def __init__(self, path: pathlib.Path):
        self.path = str(path)

    def __reduce__(self):
        return (pathlib.Path.touch, (self.path,))
