"""Sample images: photographs shipped with the package and computed (procedural) test images.

The photographs live in ``lowrank_core/data/samples`` (public domain / CC0; sources and licences in the
LICENSE.md there). ``load_sample`` loads either kind by name, as ``load_image`` would load an upload.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from .._checks import quote, whole_number
from ..errors import DataFileError, InputError
from ..limits import DEFAULT_MAX_PIXELS, MAX_GENERATED_SIDE
from .image_decode import ACCEPTED_FORMATS, downscale_notice, fit_pixels
from .image_file import LoadedImage, load_image, pixel_budget

__all__ = [
    "SAMPLES_DIR",
    "read_data_file",
    "PHOTO_FILES",
    "PHOTO_NAMES",
    "PROCEDURAL_NAMES",
    "procedural_image",
    "sample_names",
    "sample_bytes",
    "load_sample",
    "sample_photo_1080p",
]

SAMPLES_DIR = Path(__file__).parents[1] / "data" / "samples"
PHOTO_FILES: dict[str, str] = {
    "astronaut": "astronaut.jpg",
    "camera": "camera.png",
    "chelsea": "chelsea.png",
    "coffee": "coffee.png",
    "rocket": "rocket.jpg",
}
"""Sample name -> file in ``SAMPLES_DIR`` (sources and licences in ``SAMPLES_DIR / "LICENSE.md"``)."""
PHOTO_NAMES: tuple[str, ...] = tuple(PHOTO_FILES)
PROCEDURAL_NAMES: tuple[str, ...] = ("gradient", "checkerboard", "circles", "stripes", "rank-one")
_PHOTO_FOR_1080P = "coffee"


def procedural_image(name: str, *, height: int = 256, width: int = 256) -> Tensor:
    """A computed test image.

    - "gradient" (grey): ``(x + y) / 2``, rank 2.
    - "checkerboard" (grey): 8 squares along the shorter side, rank 2.
    - "circles" (colour): three coloured discs on white; the sharp round edges need a high rank.
    - "stripes" (colour): diagonal cosine stripes, a different phase per channel, rank ≤ 3 per channel.
    - "rank-one" (grey): an outer product ``u vᵀ``, exactly rank 1.

    Parameters
    ----------
    name : str
        One of PROCEDURAL_NAMES.
    height, width : int
        In 1..MAX_GENERATED_SIDE.

    Returns
    -------
    Tensor of shape (C, height, width), float32 in [0, 1]; C = 1 (grey) or 3 (colour)
    """
    height = whole_number("height", height, minimum=1, maximum=MAX_GENERATED_SIDE, error=InputError)
    width = whole_number("width", width, minimum=1, maximum=MAX_GENERATED_SIDE, error=InputError)
    makers = {
        "gradient": _gradient, "checkerboard": _checkerboard, "circles": _circles,
        "stripes": _stripes, "rank-one": _rank_one,
    }
    if name not in makers:
        raise InputError(f"Unknown procedural image {quote(name)}; choose one of {', '.join(makers)}.")
    return makers[name](height, width).clamp(0.0, 1.0).contiguous()


def _grid(height: int, width: int) -> tuple[Tensor, Tensor]:
    """Row and column coordinates in [0, 1], shapes (H, 1) and (1, W)."""
    return torch.linspace(0, 1, height)[:, None], torch.linspace(0, 1, width)[None, :]


def _gradient(height: int, width: int) -> Tensor:
    """Grey diagonal ramp, (1, H, W)."""
    y, x = _grid(height, width)
    return ((x + y) / 2)[None]


def _checkerboard(height: int, width: int) -> Tensor:
    """Black and white squares, (1, H, W)."""
    square = max(1, min(height, width) // 8)
    rows = torch.arange(height)[:, None] // square
    cols = torch.arange(width)[None, :] // square
    return ((rows + cols) % 2).to(torch.float32)[None]


def _circles(height: int, width: int) -> Tensor:
    """Three overlapping coloured discs on white, (3, H, W)."""
    y, x = _grid(height, width)
    aspect = width / height
    image = torch.ones(3, height, width)
    discs = (((0.38, 0.40), 0.28, (0.90, 0.20, 0.20)), ((0.62, 0.40), 0.28, (0.20, 0.70, 0.25)),
             ((0.50, 0.64), 0.28, (0.20, 0.35, 0.90)))
    for (cx, cy), radius, colour in discs:
        inside = ((x - cx) * aspect) ** 2 + (y - cy) ** 2 <= radius**2  # (H, W)
        tint = torch.tensor(colour)[:, None, None]  # (3, 1, 1)
        image = torch.where(inside, 0.5 * image + 0.5 * tint, image)  # (3, H, W)
    return image


def _stripes(height: int, width: int) -> Tensor:
    """Diagonal cosine stripes with a phase per channel, (3, H, W)."""
    period = max(4.0, max(height, width) / 8)
    rows = torch.arange(height, dtype=torch.float32)[:, None]
    cols = torch.arange(width, dtype=torch.float32)[None, :]
    phase = 2 * math.pi * (rows + cols) / period  # (H, W)
    return torch.stack([0.5 + 0.5 * torch.cos(phase + shift) for shift in (0.0, 2.1, 4.2)])


def _rank_one(height: int, width: int) -> Tensor:
    """An outer product of two smooth profiles in [0, 1], (1, H, W).

    The profiles are rounded to multiples of 1/1024, so every product is exact in float32 and the matrix
    is exactly rank 1 even in float64 (not merely up to rounding).
    """
    y, x = _grid(height, width)
    u = 0.3 + 0.7 * (0.5 + 0.5 * torch.sin(3 * math.pi * y))  # (H, 1)
    v = torch.exp(-(((x - 0.5) / 0.3) ** 2))  # (1, W)
    u, v = torch.round(u * 1024) / 1024, torch.round(v * 1024) / 1024
    return (u @ v)[None]  # (1, H, W)


def sample_names() -> list[str]:
    """Every sample: the photographs (PHOTO_NAMES) then the procedural images (PROCEDURAL_NAMES)."""
    return [*PHOTO_NAMES, *PROCEDURAL_NAMES]


def sample_bytes(name: str) -> bytes:
    """The file of a sample photograph, exactly as shipped (PNG or JPEG).

    Procedural images have no file: asking for one raises InputError. A file missing from the installation
    (or unreadable) raises DataFileError, whose message names the file but not where it was looked for.
    """
    if name in PROCEDURAL_NAMES:
        raise InputError(f"{name!r} is a computed image, not a file; only photographs have file bytes.")
    if name not in PHOTO_FILES:
        raise InputError(f"Unknown sample {quote(name)}; choose one of {', '.join(sample_names())}.")
    return read_data_file(SAMPLES_DIR / PHOTO_FILES[name], "The sample photograph")


def read_data_file(path: Path, what: str) -> bytes:
    """The bytes of a file the package ships; DataFileError (naming the file, not where it was looked for)
    when the installation lacks it or it cannot be read: a message for the user, never a traceback."""
    try:
        return path.read_bytes()
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise DataFileError(
            f"{what} {quote(path.name)} could not be read ({reason.lower()}); the app's installation may be "
            "incomplete. Upload an image instead."
        ) from err


def load_sample(name: str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Load a sample by name (see ``sample_names``), as ``load_image`` would load an upload.

    Procedural images are computed at their default size (256 × 256) and, if above ``max_pixels``,
    downscaled with antialiasing.
    """
    if name in PHOTO_FILES:
        return load_image(sample_bytes(name), max_pixels=max_pixels, name=PHOTO_FILES[name])
    if name not in PROCEDURAL_NAMES:
        raise InputError(f"Unknown sample {quote(name)}; choose one of {', '.join(sample_names())}.")
    max_pixels = pixel_budget(max_pixels)
    pixels = procedural_image(name)  # (C, H, W)
    C, H, W = pixels.shape
    notices = []
    target = fit_pixels(W, H, max_pixels)
    if target != (W, H):
        pixels = torch.nn.functional.interpolate(
            pixels[None], size=(target[1], target[0]), mode="bilinear", antialias=True, align_corners=False
        )[0].clamp(0.0, 1.0)
        notices.append(downscale_notice((W, H), target, max_pixels))
    mode = "L" if C == 1 else "RGB"
    return LoadedImage(pixels.contiguous(), mode, "none", (W, H), tuple(notices))


def sample_photo_1080p(*, name: str = _PHOTO_FOR_1080P) -> Tensor:
    """A 1920 × 1080 RGB photograph for benchmarks, computed from a shipped photo.

    The photo is centre-cropped to 16:9 and resized with Lanczos (an upscale for the shipped files), so no
    large file ships with the package.

    Returns
    -------
    Tensor of shape (3, 1080, 1920), float32 in [0, 1]
    """
    with Image.open(io.BytesIO(sample_bytes(name)), formats=ACCEPTED_FORMATS) as source:
        image = source.convert("RGB")
    width, height = image.size
    crop_height = min(height, round(width * 9 / 16))
    crop_width = min(width, round(crop_height * 16 / 9))
    left, top = (width - crop_width) // 2, (height - crop_height) // 2
    image = image.crop((left, top, left + crop_width, top + crop_height))
    image = image.resize((1920, 1080), Image.Resampling.LANCZOS)
    array = np.asarray(image, dtype=np.float32) / 255.0  # (1080, 1920, 3)
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()  # (3, 1080, 1920)
