"""What the commands share: the files they read and write, and the values JSON can hold."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import InputError, TooLargeError, UnsupportedFormatError
from ..limits import MAX_FILE_BYTES

__all__ = ["IMAGE_EXTENSIONS", "MATRIX_EXTENSIONS", "MAX_FILE_BYTES", "read_file", "kind_of", "finite",
           "to_8bit", "output_format"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
MATRIX_EXTENSIONS = (".csv", ".tsv", ".txt", ".npy", ".npz", ".pt")


def read_file(path: str | Path) -> bytes:
    """The bytes of a file, or InputError naming it (missing, a folder, unreadable, too large)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise InputError(f"{str(path)!r} is a folder, not a file")
        if size > MAX_FILE_BYTES:
            limit = MAX_FILE_BYTES // 2**20
            raise TooLargeError(f"{str(path)!r} is {size / 2**20:.0f} MB; the limit is {limit} MB")
        return path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read {str(path)!r}: {err.strerror or err}") from err


def kind_of(path: str | Path) -> str:
    """"image" or "matrix" from the extension, else UnsupportedFormatError."""
    extension = Path(path).suffix.lower()
    if extension in IMAGE_EXTENSIONS:
        return "image"
    if extension in MATRIX_EXTENSIONS:
        return "matrix"
    raise UnsupportedFormatError(
        f"cannot tell the type of {str(path)!r} from its extension {extension or '(none)'!r}; "
        f"images: {' '.join(IMAGE_EXTENSIONS)}; matrices: {' '.join(MATRIX_EXTENSIONS)}"
    )


def finite(value: float) -> float | None:
    """``value`` as a float, or None for inf/NaN (JSON has no infinity)."""
    value = float(value)
    return value if math.isfinite(value) else None


def to_8bit(pixels: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] -> (H, W) or (H, W, 3) uint8, clipped and rounded."""
    array = (pixels.clamp(0.0, 1.0) * 255).round().to(torch.uint8).cpu().numpy()  # (C, H, W)
    return array[0] if array.shape[0] == 1 else np.ascontiguousarray(array.transpose(1, 2, 0))


def output_format(path: str | Path) -> str:
    """Pillow's format name for the extension of ``path``, or UnsupportedFormatError."""
    extension = Path(path).suffix.lower()
    image_format = Image.registered_extensions().get(extension)
    if image_format is None or image_format not in Image.SAVE:
        raise UnsupportedFormatError(
            f"cannot write an image named {str(path)!r}: unknown extension {extension or '(none)'!r} "
            f"(try .png, .jpg, .webp, .bmp, .tif)"
        )
    return image_format
