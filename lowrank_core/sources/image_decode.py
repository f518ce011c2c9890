"""Decoding an image file, bounded: the work ``load_image`` runs in a limited child process (``isolation``).

- **Accepted formats only**: ``Image.open(..., formats=ACCEPTED_FORMATS)``, so Pillow never tries another of
  its decoders (ICO, JPEG 2000, PSD, EPS...) whatever the file is called: the content decides, not the name.
- **Bounded before any pixel is decoded**: the size the header claims (``MAX_DECODE_PIXELS``); for a TIFF,
  the pixels of its tiles or strips as the tags declare them (libtiff allocates a whole tile, however small
  the image); for a JPEG, the number of scans (``MAX_JPEG_SCANS``; each is a pass over the whole image),
  counted by walking its markers. An animation or a multi-page file is asked ``is_animated``, never
  ``n_frames`` (a TIFF's pages are a linked list that counting walks to its end), and only its first frame is
  decoded.
- **One full-size copy at most** beside the decoded image: a large image is downscaled before anything else
  where its mode allows it, float images are checked and scaled in strips and in float32 (never a float64
  copy), and the result is built once as a float32 (C, H, W) array.

``decode_image`` raises nothing but ``InputError`` subclasses. ``fit_pixels`` and ``downscale_notice`` are
shared with ``samples`` (through ``image_file``).
"""

from __future__ import annotations

import io
import math
import re

import numpy as np
from PIL import (  # registered here, so that Image.open never imports every other plugin to look for one
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    UnidentifiedImageError,
    WebPImagePlugin,
)

from .._checks import quote
from ..errors import (
    DecompressionBombError,
    InputError,
    NonFiniteError,
    ParseError,
    ShapeError,
    TooLargeError,
    UnsupportedFormatError,
)
from ..limits import MAX_DECODE_PIXELS, MAX_JPEG_SCANS

__all__ = [
    "ACCEPTED_FORMATS",
    "check_signature",
    "decode_image",
    "count_jpeg_scans",
    "fit_pixels",
    "downscale_notice",
]

ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")
"""Pillow's names of the only decoders ever run (an MPO, a phone's multi-picture JPEG, opens as JPEG)."""
_PLUGINS = (PngImagePlugin, JpegImagePlugin, GifImagePlugin, BmpImagePlugin, TiffImagePlugin, WebPImagePlugin)

_SIGNATURES = (  # how each accepted format starts, as Pillow's plugins recognise them (WebP: below)
    b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM",
    b"II*\x00", b"MM\x00*", b"II\x00*", b"MM*\x00", b"II+\x00", b"MM\x00+",
)
_BOMB_EXPLANATION = (
    "It was refused before decoding: a small file with such a header is a known way to exhaust a server's "
    "memory (a decompression bomb)."
)
_ORIENTATION = {  # EXIF orientation -> (Pillow transpose, notice)
    2: (Image.Transpose.FLIP_LEFT_RIGHT, "Flipped according to its EXIF orientation."),
    3: (Image.Transpose.ROTATE_180, "Rotated according to its EXIF orientation."),
    4: (Image.Transpose.FLIP_TOP_BOTTOM, "Flipped according to its EXIF orientation."),
    5: (Image.Transpose.TRANSPOSE, "Rotated and flipped according to its EXIF orientation."),
    6: (Image.Transpose.ROTATE_270, "Rotated according to its EXIF orientation."),
    7: (Image.Transpose.TRANSVERSE, "Rotated and flipped according to its EXIF orientation."),
    8: (Image.Transpose.ROTATE_90, "Rotated according to its EXIF orientation."),
}
_TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)  # these swap width and height
_WORKING_MODES = ("L", "LA", "RGB", "RGBA")  # resized as they are (Pillow premultiplies LA and RGBA)
_FLOAT_MODES = ("I", "F")  # and "I;16*": checked and scaled to [0, 1] as float32
_STRIP_PIXELS = 1 << 20  # float images are checked one strip of about this many pixels at a time
_NEXT_MARKER = re.compile(rb"\xff+[^\x00\xd0-\xd7\xff]")  # the end of a scan's entropy-coded data
_TILE_WIDTH, _TILE_LENGTH, _ROWS_PER_STRIP = 322, 323, 278  # TIFF tags


def check_signature(data: bytes, label: str) -> None:
    """UnsupportedFormatError unless ``data`` starts like a PNG, JPEG, GIF, BMP, TIFF or WebP file.

    The same test ``Image.open`` makes with ``formats=ACCEPTED_FORMATS``, made first and cheaply: text, a
    PDF or an ICO is refused without starting a decoder at all.
    """
    if not (data.startswith(_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")):
        raise UnsupportedFormatError(_unsupported(label))


def _unsupported(label: str) -> str:
    """The message for a file that is not in an accepted format."""
    return f"{label} is not an image in a format this app reads (PNG, JPEG, GIF, BMP, TIFF or WebP)."


def decode_image(data: bytes, max_pixels: int, label: str) -> tuple[dict, np.ndarray]:
    """Decode an image file into float32 (C, H, W) in [0, 1], C = 1 or 3, H × W <= ``max_pixels``.

    Returns ``(header, pixels)``; the header holds ``mode`` (Pillow's mode of the source), ``alpha``
    ("none", "composited", "dropped"), ``original_size`` ([width, height] upright, before any downscale) and
    ``notices``. Raises only ``InputError`` subclasses.
    """
    try:
        return _decode(data, max_pixels=max_pixels, label=label)
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
        raise UnsupportedFormatError(_unsupported(label)) from err
    except MemoryError as err:
        raise TooLargeError(f"{label} is too large to decode in the memory available.") from err
    except Exception as err:  # a corrupt file can make a Pillow decoder raise nearly any exception type
        raise ParseError(
            f"{label} could not be decoded; it may be truncated or corrupt ({quote(str(err), 80)})."
        ) from err


def _decode(data: bytes, *, max_pixels: int, label: str) -> tuple[dict, np.ndarray]:
    """The work of ``decode_image``; may raise anything Pillow raises (translated by the caller)."""
    notices: list[str] = []
    with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as source:  # reads the header only
        mode = source.mode
        _check_claimed_size(source.size, label)
        if source.format == "TIFF":
            _check_tiff_blocks(source, label)
        elif source.format in ("JPEG", "MPO"):
            _check_jpeg_scans(data, label)
        if getattr(source, "is_animated", False):
            notices.append("Animated or multi-page image: only the first frame is used.")
            if source.tell() != 0:
                source.seek(0)
        orientation = _orientation(source)
        transposed = orientation in _TRANSPOSING_ORIENTATIONS
        width, height = source.size
        original_size = (height, width) if transposed else (width, height)
        if orientation in _ORIENTATION:
            notices.append(_ORIENTATION[orientation][1])
        _draft_if_huge(source, max_pixels)
        source.load()  # decodes the pixels: the one full-size copy so far
        target = fit_pixels(*source.size, max_pixels)  # (width, height) as stored
        upright_target = (target[1], target[0]) if transposed else target
        if upright_target != original_size:
            downscale = downscale_notice(original_size, upright_target, max_pixels)
        else:
            downscale = None
        if _is_float(source.mode):
            image = _float_image(source, target, notices)
        else:
            image = _working_image(source, target)
        if downscale:
            notices.append(downscale)
        if orientation in _ORIENTATION:
            image = image.transpose(_ORIENTATION[orientation][0])
        pixels, alpha = _to_array(image, notices)
    header = {"mode": mode, "alpha": alpha, "original_size": list(original_size), "notices": notices}
    return header, pixels


# ========================================================================================== before decoding


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


def _check_tiff_blocks(image: Image.Image, label: str) -> None:
    """Refuse a TIFF whose tiles (or strips) hold more than MAX_DECODE_PIXELS pixels in all.

    libtiff decodes whole tiles: a 64×64 image may declare one tile of 16384×43680 (2 GB to allocate and
    fill), and a wide, one-row image may declare many. Strips longer than the image are cut to it by libtiff.
    """
    tags = image.tag_v2
    width, height = image.size
    if _TILE_WIDTH in tags or _TILE_LENGTH in tags:
        tile_width, tile_length = int(tags.get(_TILE_WIDTH, 0)), int(tags.get(_TILE_LENGTH, 0))
        if tile_width <= 0 or tile_length <= 0:
            raise ParseError(f"{label} is a tiled TIFF with a tile of {tile_width}×{tile_length} pixels.")
        tiles = math.ceil(width / tile_width) * math.ceil(height / tile_length)
        decoded = tiles * tile_width * tile_length
        what = f"{tiles:,} tile{'s' if tiles > 1 else ''} of {tile_width}×{tile_length} pixels"
    else:
        rows = min(max(int(tags.get(_ROWS_PER_STRIP, height)), 1), height)
        decoded = width * math.ceil(height / rows) * rows
        what = f"strips of {width}×{rows} pixels"
    if decoded > MAX_DECODE_PIXELS:
        raise DecompressionBombError(
            f"{label} is a {width}×{height} TIFF stored as {what} ({_megapixels(decoded)} megapixels to "
            f"decode); the limit is {_megapixels(MAX_DECODE_PIXELS)} megapixels. " + _BOMB_EXPLANATION
        )


def count_jpeg_scans(data: bytes, *, stop_after: int | None = None) -> int:
    """The number of scans (SOS markers, FF DA) of a JPEG's first image, counted by walking its markers.

    Segments are skipped by their length and entropy-coded data up to the next marker, so an FF DA inside an
    EXIF thumbnail or inside compressed data is not counted. Stops at EOI, at the end of the data, or once
    more than ``stop_after`` scans are found.
    """
    position, scans, size = 2, 0, len(data)
    while position + 4 <= size:
        if data[position] != 0xFF:
            return scans  # not a marker: the decoder will say the file is corrupt
        marker = data[position + 1]
        if marker == 0xFF:  # a fill byte
            position += 1
            continue
        if marker == 0xD9:  # EOI
            return scans
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # markers without a length
            position += 2
            continue
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
        if marker == 0xDA:
            scans += 1
            if stop_after is not None and scans > stop_after:
                return scans
            following = _NEXT_MARKER.search(data, position)
            if following is None:
                return scans
            position = following.end() - 2
    return scans


def _check_jpeg_scans(data: bytes, label: str) -> None:
    """Refuse a JPEG with more than MAX_JPEG_SCANS scans (each scan is a pass over the whole image)."""
    scans = count_jpeg_scans(data, stop_after=MAX_JPEG_SCANS)
    if scans > MAX_JPEG_SCANS:
        raise DecompressionBombError(
            f"{label} is a JPEG with more than {MAX_JPEG_SCANS} scans (each is a pass over the whole image; "
            "encoders write about 10). " + _BOMB_EXPLANATION
        )


def _draft_if_huge(image: Image.Image, max_pixels: int) -> None:
    """Ask the JPEG decoder for a 1/2, 1/4 or 1/8 scale when the image is over 4× ``max_pixels``."""
    width, height = image.size
    if image.format in ("JPEG", "MPO") and width * height > 4 * max_pixels:
        image.draft(image.mode, fit_pixels(width, height, max_pixels))


def _orientation(image: Image.Image) -> int | None:
    """The EXIF orientation tag (1..8), or None when absent or unreadable."""
    try:
        return image.getexif().get(0x0112)
    except Exception:  # a corrupt EXIF block should not cost the user the picture
        return None


# =========================================================================================== conversion


def _is_float(mode: str) -> bool:
    """16-bit, 32-bit integer and float modes: scaled to [0, 1] as float32."""
    return mode in _FLOAT_MODES or mode.startswith("I;16")


def _working_image(image: Image.Image, target: tuple[int, int]) -> Image.Image:
    """An L, LA, RGB or RGBA image of size ``target``: resized first when the mode allows, else converted."""
    mode = image.mode
    has_transparency = image.info.get("transparency") is not None
    if mode in _WORKING_MODES and not (has_transparency and mode in ("L", "RGB")):
        return _resize(image, target)
    if mode in ("1", "L"):
        converted = image.convert("LA") if has_transparency and mode == "L" else image.convert("L")
    elif mode == "La":
        converted = image.convert("LA")
    elif mode in ("P", "PA"):
        converted = image.convert("RGBA" if has_transparency or mode == "PA" else "RGB")
    elif mode in ("RGBa", "RGB"):
        converted = image.convert("RGBA")
    elif mode in ("RGBX", "CMYK", "YCbCr", "LAB", "HSV"):
        converted = image.convert("RGB")
    else:
        raise UnsupportedFormatError(f"Images in Pillow mode {mode!r} are not supported.")
    return _resize(converted, target)


def _resize(image: Image.Image, target: tuple[int, int]) -> Image.Image:
    """Lanczos to ``target`` (alpha-aware for LA and RGBA), or the image itself when it already fits."""
    if target == image.size:
        return image
    return image.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _float_image(image: Image.Image, target: tuple[int, int], notices: list[str]) -> Image.Image:
    """A 16-bit, 32-bit integer or float image as an "F" image of size ``target`` in [0, 1].

    Checked for NaN and infinity, and measured, one strip at a time; resized before it is scaled (Lanczos
    is linear, so scaling after resizing gives the same image).
    """
    mode = image.mode
    floats = image if mode == "F" else image.convert("F")  # I and I;16: exact in float32 up to 2**24
    if mode.startswith("I;16"):
        low, high = 0.0, 65535.0
        scale, offset = 1.0 / 65535.0, 0.0
    else:
        low, high = _float_range(floats)
        if mode == "I" and low >= 0 and high <= 65535:
            scale, offset = 1.0 / 65535.0, 0.0
        elif mode == "F" and low >= 0 and high <= 1:
            scale, offset = 1.0, 0.0
        elif high == low:
            notices.append(f"Every pixel has the value {low:g}, outside 0..1; the image is shown as black.")
            scale, offset = 0.0, 0.0
        else:
            notices.append(f"Pixel values span {low:g} to {high:g}; they were rescaled to 0..1.")
            scale, offset = 1.0 / (high - low), -low / (high - low)
    small = _resize(floats, target)
    if scale == 1.0 and offset == 0.0:
        return small
    return small.point(lambda value: value * scale + offset)  # F -> F: a linear map, computed by Pillow


def _float_range(image: Image.Image) -> tuple[float, float]:
    """(min, max) of an "F" image, read in strips; NonFiniteError naming the first NaN or infinity."""
    width, height = image.size
    rows = max(1, _STRIP_PIXELS // width)
    low, high = math.inf, -math.inf
    for top in range(0, height, rows):
        strip = np.asarray(image.crop((0, top, width, min(height, top + rows))))  # (rows, W) float32
        bad = ~np.isfinite(strip)
        if bad.any():
            r, c = (int(i) + 1 for i in np.argwhere(bad)[0])
            value = float(strip[r - 1, c - 1])
            raise NonFiniteError(f"The pixel at row {top + r}, column {c} is {value}, not a finite number.")
        low, high = min(low, float(strip.min())), max(high, float(strip.max()))
    return low, high


def _to_array(image: Image.Image, notices: list[str]) -> tuple[np.ndarray, str]:
    """float32 (C, H, W) in [0, 1] from an L, LA, RGB, RGBA or F image, and the ``alpha`` field.

    Built once: each colour plane is divided into its place in the output, and transparency is laid on
    white there, in place.
    """
    if image.mode == "F":
        pixels = np.asarray(image, dtype=np.float32)[None].copy()  # (1, H, W), writable
        np.clip(pixels, 0.0, 1.0, out=pixels)  # Lanczos overshoots a little at sharp edges
        return pixels, "none"
    raw = np.asarray(image)  # (H, W) or (H, W, bands) uint8
    if raw.ndim == 2:
        raw = raw[:, :, None]
    with_alpha = image.mode in ("LA", "RGBA")
    channels = raw.shape[2] - 1 if with_alpha else raw.shape[2]
    pixels = np.empty((channels, raw.shape[0], raw.shape[1]), dtype=np.float32)  # (C, H, W)
    for c in range(channels):
        np.divide(raw[:, :, c], np.float32(255.0), out=pixels[c], dtype=np.float32)
    alpha = "none"
    if with_alpha:
        if bool((raw[:, :, -1] < 255).any()):
            opacity = np.divide(raw[:, :, -1], np.float32(255.0), dtype=np.float32)  # (H, W)
            transparent = np.float32(1.0) - opacity
            for plane in pixels:
                plane *= opacity
                plane += transparent
            alpha = "composited"
            notices.append("Transparent parts were laid on a white background.")
        else:
            alpha = "dropped"
    np.clip(pixels, 0.0, 1.0, out=pixels)
    return pixels, alpha


# ============================================================================================== sizes


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
