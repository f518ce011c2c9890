"""The image loader: bytes of any image Pillow reads -> a (C, H, W) float32 tensor in [0, 1].

``load_image`` never unpickles, refuses a decompression bomb from its header before decoding, bounds the
pixels it keeps, and raises nothing but ``InputError`` subclasses whose message names the problem. C = 1 for
a grey source, 3 for anything in colour.

Thread safety: nothing here changes global state (no ``Image.MAX_IMAGE_PIXELS``, no ``warnings`` filters),
so the loader may run in several Streamlit sessions at once.

``pixel_budget``, ``fit_pixels`` and ``downscale_notice`` are shared with ``samples`` (a procedural sample
is downscaled like an upload); they are not part of the package's API, hence not in ``__all__``.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from .._checks import file_bytes, file_label, quote, whole_number
from ..errors import (
    DecompressionBombError,
    InputError,
    NonFiniteError,
    ParseError,
    ShapeError,
    TooLargeError,
    UnsupportedFormatError,
)
from ..limits import DEFAULT_MAX_PIXELS, MAX_DECODE_PIXELS

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MAX_DECODE_PIXELS",
    "LoadedImage",
    "load_image",
]

_BOMB_EXPLANATION = (
    "It was refused before decoding: a small file with such a header is a known way to exhaust a server's "
    "memory (a decompression bomb)."
)
_ORIENTATION_NOTICES = {
    2: "Flipped according to its EXIF orientation.",
    3: "Rotated according to its EXIF orientation.",
    4: "Flipped according to its EXIF orientation.",
    5: "Rotated and flipped according to its EXIF orientation.",
    6: "Rotated according to its EXIF orientation.",
    7: "Rotated and flipped according to its EXIF orientation.",
    8: "Rotated according to its EXIF orientation.",
}
_TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)  # these swap width and height


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

    Steps: read the header only and refuse more than MAX_DECODE_PIXELS (a decompression bomb) or a 0-sized
    image; keep the first frame of an animation; decode (JPEG at a reduced scale when far above
    ``max_pixels``); apply the EXIF orientation; convert the mode (grey stays 1 channel, colour becomes RGB,
    transparency is laid on white, 16-bit and float images are scaled to [0, 1]); downscale with Lanczos
    to at most ``max_pixels`` pixels, keeping the aspect ratio. Every change is told in ``notices``.

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
        Only InputError subclasses: EmptyInputError, UnsupportedFormatError (not an image, or an unknown
        pixel mode), ParseError (truncated or corrupt), DecompressionBombError, ShapeError (0-sized),
        NonFiniteError (NaN in a float image), TooLargeError (out of memory).
    """
    label = file_label(name)
    payload = file_bytes(data, label)
    max_pixels = pixel_budget(max_pixels)
    try:
        return _decode_image(payload, max_pixels=max_pixels, label=label)
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        # Pillow refuses in Image.open above 2 × its limit (about 179 megapixels), before our own check;
        # its warning becomes an exception only where warnings are turned into errors.
        claimed = re.search(r"\((\d+) pixels\)", str(err))
        size = f"{_megapixels(int(claimed.group(1)))} megapixels" if claimed else "more pixels than allowed"
        raise DecompressionBombError(
            f"{label} claims to be {size}; the limit is {_megapixels(MAX_DECODE_PIXELS)} megapixels. "
            + _BOMB_EXPLANATION
        ) from err
    except UnidentifiedImageError as err:
        raise UnsupportedFormatError(
            f"{label} is not an image Pillow can read (PNG, JPEG, GIF, BMP, TIFF, WebP...)."
        ) from err
    except MemoryError as err:
        raise TooLargeError(f"{label} is too large to decode in the memory available.") from err
    except Exception as err:  # a corrupt file can make a Pillow decoder raise nearly any exception type
        raise ParseError(
            f"{label} could not be decoded; it may be truncated or corrupt ({quote(str(err), 80)})."
        ) from err


def _decode_image(data: bytes, *, max_pixels: int, label: str) -> LoadedImage:
    """The work of ``load_image``; may raise anything Pillow raises (translated by the caller)."""
    notices: list[str] = []
    with Image.open(io.BytesIO(data)) as source:  # reads the header only
        mode = source.mode
        _check_claimed_size(source.size, label)
        frames = getattr(source, "n_frames", 1)
        if frames > 1:
            notices.append(f"Animated or multi-page image: only the first of {frames} frames is used.")
            source.seek(0)
        orientation = _orientation(source)
        width, height = source.size
        original_size = (height, width) if orientation in _TRANSPOSING_ORIENTATIONS else (width, height)
        _draft_if_huge(source, max_pixels)
        image = _apply_orientation(source, orientation, notices)  # decodes the pixels
        image = _working_mode(image, notices)
        image = _downscale(image, max_pixels, original_size, notices)
        pixels, alpha = _to_tensor(image, notices)
    return LoadedImage(pixels, mode, alpha, original_size, tuple(notices))


def _megapixels(pixels: int) -> str:
    """'64.0', '4,295': megapixels for people."""
    return f"{pixels / 1e6:,.1f}" if pixels < 100_000_000 else f"{pixels / 1e6:,.0f}"


def _check_claimed_size(size: tuple[int, int], label: str) -> None:
    """Refuse a 0-sized image, or one whose header claims more than MAX_DECODE_PIXELS."""
    width, height = size
    if width <= 0 or height <= 0:
        raise ShapeError(f"{label} has no pixels (its size is {width}×{height}).")
    if width * height > MAX_DECODE_PIXELS:
        raise DecompressionBombError(
            f"{label} claims to be {width}×{height} pixels ({_megapixels(width * height)} megapixels); "
            f"the limit is {_megapixels(MAX_DECODE_PIXELS)} megapixels. " + _BOMB_EXPLANATION
        )


def _draft_if_huge(image: Image.Image, max_pixels: int) -> None:
    """Ask the JPEG decoder for a 1/2, 1/4 or 1/8 scale when the image is over 4× ``max_pixels``."""
    width, height = image.size
    if image.format == "JPEG" and width * height > 4 * max_pixels:
        image.draft(image.mode, fit_pixels(width, height, max_pixels))


def _orientation(image: Image.Image) -> int | None:
    """The EXIF orientation tag (1..8), or None when absent or unreadable."""
    try:
        return image.getexif().get(0x0112)
    except Exception:  # a corrupt EXIF block should not cost the user the picture
        return None


def _apply_orientation(image: Image.Image, orientation: int | None, notices: list[str]) -> Image.Image:
    """The decoded image, turned upright according to ``orientation``."""
    if orientation in _ORIENTATION_NOTICES:
        notices.append(_ORIENTATION_NOTICES[orientation])
        return ImageOps.exif_transpose(image)
    image.load()
    return image


def _working_mode(image: Image.Image, notices: list[str]) -> Image.Image:
    """Convert to one of L, LA, RGB, RGBA (8 bits) or F (float in [0, 1])."""
    mode = image.mode
    has_transparency = image.info.get("transparency") is not None
    if mode in ("1", "L"):
        return image.convert("LA") if has_transparency and mode == "L" else image.convert("L")
    if mode in ("LA", "La"):
        return image.convert("LA")
    if mode in ("P", "PA"):
        return image.convert("RGBA" if has_transparency or mode == "PA" else "RGB")
    if mode in ("RGBA", "RGBa"):
        return image.convert("RGBA")
    if mode == "RGB":
        return image.convert("RGBA") if has_transparency else image
    if mode in ("RGBX", "CMYK", "YCbCr", "LAB", "HSV"):
        return image.convert("RGB")
    if mode.startswith("I;16") or mode in ("I", "F"):
        return Image.fromarray(_scaled_float(image, notices))
    raise UnsupportedFormatError(f"Images in Pillow mode {mode!r} are not supported.")


def _scaled_float(image: Image.Image, notices: list[str]) -> np.ndarray:
    """A 16-bit, 32-bit integer or float image as float32 (H, W) in [0, 1]."""
    mode = image.mode
    raw = np.asarray(image)  # (H, W)
    if mode.startswith("I;16"):
        return (raw.astype(np.float32) / 65535.0).astype(np.float32)
    values = raw.astype(np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        r, c = (int(i) + 1 for i in np.argwhere(bad)[0])
        value = values[r - 1, c - 1]
        raise NonFiniteError(f"The pixel at row {r}, column {c} is {value}, not a finite number.")
    low, high = float(values.min()), float(values.max())
    if mode == "I" and low >= 0 and high <= 65535:
        return (values / 65535.0).astype(np.float32)
    if mode == "F" and low >= 0 and high <= 1:
        return values.astype(np.float32)
    if high == low:
        notices.append(f"Every pixel has the value {low:g}, outside 0..1; the image is shown as black.")
        return np.zeros(values.shape, np.float32)
    notices.append(f"Pixel values span {low:g} to {high:g}; they were rescaled to 0..1.")
    return ((values - low) / (high - low)).astype(np.float32)


def pixel_budget(max_pixels) -> int:
    """``max_pixels`` checked: a whole number in 1..MAX_DECODE_PIXELS, else InputError."""
    return whole_number("max_pixels", max_pixels, minimum=1, maximum=MAX_DECODE_PIXELS, error=InputError)


def fit_pixels(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """The largest (width, height) with the same aspect ratio and at most ``max_pixels`` pixels."""
    if width * height <= max_pixels:
        return width, height
    scale = math.sqrt(max_pixels / (width * height))
    new_width, new_height = max(1, int(width * scale)), max(1, int(height * scale))
    if new_width * new_height > max_pixels:  # a very thin image: one side is pinned at 1
        new_width, new_height = (1, max_pixels) if new_width == 1 else (max_pixels, 1)
    return new_width, new_height


def downscale_notice(old: tuple[int, int], new: tuple[int, int], max_pixels: int) -> str:
    """'Downscaled from 4000×3000 to 2309×1732 to stay under 4.0 megapixels.'"""
    limit = f"{max_pixels / 1e6:.1f} megapixels" if max_pixels >= 100_000 else f"{max_pixels:,} pixels"
    return f"Downscaled from {old[0]}×{old[1]} to {new[0]}×{new[1]} to stay under {limit}."


def _downscale(
    image: Image.Image, max_pixels: int, original_size: tuple[int, int], notices: list[str]
) -> Image.Image:
    """Resize with Lanczos to at most ``max_pixels`` pixels (alpha-aware for LA and RGBA).

    ``original_size`` is the size before a JPEG draft, which may already have reduced ``image``.
    """
    target = fit_pixels(*image.size, max_pixels)
    if target != original_size:
        notices.append(downscale_notice(original_size, target, max_pixels))
    if target == image.size:
        return image
    return image.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _to_tensor(image: Image.Image, notices: list[str]) -> tuple[Tensor, str]:
    """(C, H, W) float32 in [0, 1] from an L, LA, RGB, RGBA or F image, and the ``alpha`` field."""
    array = np.asarray(image, dtype=np.float32)
    if image.mode != "F":
        array = array / 255.0
    if array.ndim == 2:
        array = array[:, :, None]  # (H, W, 1)
    alpha = "none"
    if image.mode in ("LA", "RGBA"):
        colour, opacity = array[:, :, :-1], array[:, :, -1:]  # (H, W, C), (H, W, 1)
        if bool((opacity < 1.0).any()):
            array = colour * opacity + (1.0 - opacity)
            alpha = "composited"
            notices.append("Transparent parts were laid on a white background.")
        else:
            array, alpha = colour, "dropped"
    array = np.clip(array, 0.0, 1.0)  # Lanczos overshoots a little at sharp edges
    pixels = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32))
    return pixels, alpha  # (C, H, W)
