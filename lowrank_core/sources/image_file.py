"""The image loader: a PNG, JPEG, GIF, BMP, TIFF or WebP file -> a (C, H, W) float32 tensor in [0, 1].

``load_image`` never unpickles, decodes only the accepted formats (by content, whatever the name), refuses a
decompression bomb before decoding (the size the header claims, a TIFF's tiles, a JPEG's scans), bounds the
pixels it keeps, and raises nothing but ``InputError`` subclasses whose message names the problem. C = 1 for
a grey source, 3 for anything in colour. The decoding itself (``image_decode``) runs in a child process
limited in CPU time and memory (``isolation``), so a file built to exhaust a decoder costs seconds and
megabytes, never the server.

Thread safety: nothing here changes global state (no ``Image.MAX_IMAGE_PIXELS``, no ``warnings`` filters),
so the loader may run in several Streamlit sessions at once.

``pixel_budget`` is shared with ``samples`` (a procedural sample is downscaled like an upload); it is not part
of the package's API, hence not in ``__all__``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .._checks import file_bytes, file_label, whole_number
from ..errors import InputError
from ..limits import (
    DECODE_CPU_SECONDS,
    DECODE_MEMORY_BYTES,
    DECODE_WALL_SECONDS,
    DEFAULT_MAX_PIXELS,
    MAX_DECODE_PIXELS,
)
from .image_decode import check_signature, decode_image
from .isolation import isolation_available, run_in_process, run_isolated

__all__ = ["LoadedImage", "load_image"]  # its limits: lowrank_core.limits (also importable from sources)

ISOLATE_DECODING = True
"""Decode in a limited child process (where the platform allows). Tests that watch the decoder itself set it
to False; nothing else should."""
_CHANNELS = 3  # at most: the largest result is C × max_pixels float32 values


@dataclass(frozen=True)
class LoadedImage:
    """An image ready to factorize.

    Attributes
    ----------
    pixels : Tensor of shape (C, H, W), float32 in [0, 1]
        C = 1 for a grey source, 3 for anything in colour.
    mode : str
        The Pillow mode of the source ("L", "RGBA", "P", "I;16"...).
    alpha : {"none", "composited", "dropped"}
        "composited": transparent pixels were laid on white; "dropped": an alpha channel was present but
        fully opaque; "none": no transparency.
    original_size : tuple of (width, height)
        Size after EXIF rotation and before any downscale.
    notices : tuple of str
        Sentences for the user about what was changed.
    """

    pixels: Tensor
    mode: str
    alpha: str
    original_size: tuple[int, int]
    notices: tuple[str, ...] = ()

    @property
    def channels(self) -> int:
        """C: 1 for grey, 3 for RGB."""
        return self.pixels.shape[0]

    @property
    def height(self) -> int:
        """H, after any downscale."""
        return self.pixels.shape[1]

    @property
    def width(self) -> int:
        """W, after any downscale."""
        return self.pixels.shape[2]


# ============================================================================================== loader


def load_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "image") -> LoadedImage:
    """Decode an uploaded image into a (C, H, W) float32 tensor in [0, 1].

    Steps (``image_decode``, in a child process limited to ``DECODE_CPU_SECONDS`` of CPU and
    ``DECODE_MEMORY_BYTES`` of memory): open it as PNG, JPEG, GIF, BMP, TIFF or WebP only; read the header
    and refuse more than MAX_DECODE_PIXELS (a decompression bomb), a 0-sized image, TIFF tiles or strips
    beyond the same limit and a JPEG with more than MAX_JPEG_SCANS scans; keep the first frame of an
    animation; decode (JPEG at a reduced scale when far above ``max_pixels``); downscale with Lanczos to at
    most ``max_pixels`` pixels, keeping the aspect ratio; convert the mode (grey stays 1 channel, colour
    becomes RGB, transparency is laid on white, 16-bit and float images are scaled to [0, 1]); apply the
    EXIF orientation. Every change is told in ``notices``.

    Parameters
    ----------
    data : bytes
        The file's content.
    max_pixels : int
        Largest width × height returned, in 1..MAX_DECODE_PIXELS.
    name : str
        The file name, used in messages.

    Returns
    -------
    LoadedImage
        ``pixels`` of shape (C, H, W) with C = 1 or 3 and H × W <= max_pixels.

    Raises
    ------
    InputError
        Only InputError subclasses: EmptyInputError, UnsupportedFormatError (not an image in an accepted
        format, or an unknown pixel mode), ParseError (truncated or corrupt), DecompressionBombError,
        DecodeLimitError (the decode ran out of its CPU time or memory), ShapeError (0-sized),
        NonFiniteError (NaN in a float image), TooLargeError (out of memory).
    """
    label = file_label(name)
    payload = file_bytes(data, label)
    max_pixels = pixel_budget(max_pixels)
    check_signature(payload, label)  # anything else is refused here, without starting a decoder
    run = run_isolated if ISOLATE_DECODING and isolation_available() else run_in_process
    result = run(decode_image, payload, max_pixels, label, label=label, cpu_seconds=DECODE_CPU_SECONDS,
                 memory_bytes=DECODE_MEMORY_BYTES, wall_seconds=DECODE_WALL_SECONDS,
                 max_result_bytes=_CHANNELS * max_pixels * 4)
    header, pixels = result.header, result.array
    if pixels is None or pixels.ndim != 3 or pixels.shape[0] not in (1, 3):
        raise InputError(f"{label} could not be decoded (an unexpected result).")
    width, height = header.get("original_size", (pixels.shape[2], pixels.shape[1]))
    notices = tuple(str(notice) for notice in header.get("notices", ()))
    return LoadedImage(torch.from_numpy(pixels), str(header.get("mode", "")),
                       str(header.get("alpha", "none")), (int(width), int(height)), notices)


def pixel_budget(max_pixels) -> int:
    """``max_pixels`` checked: a whole number in 1..MAX_DECODE_PIXELS, else InputError."""
    return whole_number("max_pixels", max_pixels, minimum=1, maximum=MAX_DECODE_PIXELS, error=InputError)
