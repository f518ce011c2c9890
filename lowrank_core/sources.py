"""Where matrices and images come from: seeded generators, sample images, and loaders for uploads.

- Generators (``notebook_matrix``, ``noisy_low_rank``, ``decaying_spectrum``, ``hilbert``...) return a
  float32 matrix of shape (m, n); the seeded ones draw from a local ``torch.Generator`` so a seed always gives
  the same matrix. ``GENERATORS`` describes them (with their controls) for the UI; ``generate`` calls one.
- Samples: photographs shipped in ``lowrank_core/data/samples`` (public domain / CC0, see the LICENSE.md
  there) and procedural images (``procedural_image``), loaded by ``load_sample``.
- Loaders: ``load_image`` (bytes of any image Pillow reads) and ``load_matrix`` (CSV / TSV / text, .npy,
  .npz, .pt). They never unpickle, refuse decompression bombs before decoding, bound every size, and raise
  nothing but ``InputError`` subclasses whose message names the place of the problem.

Images come out as float32 tensors of shape (C, H, W) in [0, 1], with C = 1 (grey) or 3 (RGB).

Thread safety: nothing here changes global state (no global RNG, no ``Image.MAX_IMAGE_PIXELS``, no
``warnings`` filters), so the loaders may run in several Streamlit sessions at once.
"""

from __future__ import annotations

import functools
import io
import itertools
import math
import numbers
import pickle
import re
import zipfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from .errors import (
    DecompressionBombError,
    EmptyInputError,
    InputError,
    NonFiniteError,
    ParseError,
    ShapeError,
    TooLargeError,
    UnsafeFileError,
    UnsupportedFormatError,
)

__all__ = [
    "MAX_GENERATED_SIDE",
    "MAX_SEED",
    "MAX_DECAY_RATE",
    "NOISY_SIGNAL_LARGEST",
    "NOISY_SIGNAL_SMALLEST",
    "DEFAULT_MAX_PIXELS",
    "MAX_DECODE_PIXELS",
    "DEFAULT_MAX_ENTRIES",
    "TEXT_BYTES_PER_ENTRY",
    "BINARY_BYTES_PER_ENTRY",
    "BINARY_OVERHEAD_BYTES",
    "SAMPLES_DIR",
    "PHOTO_FILES",
    "PHOTO_NAMES",
    "PROCEDURAL_NAMES",
    "notebook_matrix",
    "notebook_2x3",
    "noisy_low_rank",
    "decaying_spectrum",
    "hilbert",
    "identity",
    "random_full_rank",
    "ParamSpec",
    "GeneratorSpec",
    "SEED_PARAM",
    "GENERATORS",
    "generate",
    "LoadedImage",
    "LoadedMatrix",
    "procedural_image",
    "sample_names",
    "sample_bytes",
    "load_sample",
    "sample_photo_1080p",
    "load_image",
    "load_matrix",
]

# ----------------------------------------------------------------------------------------------- limits

MAX_GENERATED_SIDE = 2000
"""Largest m or n (and k, rank) a generator accepts; also the largest side of a procedural image."""
MAX_SEED = 2**63 - 1
"""Seeds are whole numbers in 0..MAX_SEED."""
MAX_DECAY_RATE = 10.0
"""Largest ``rate`` of ``decaying_spectrum``."""
NOISY_SIGNAL_LARGEST = 10.0
"""Largest singular value of the signal of ``noisy_low_rank``."""
NOISY_SIGNAL_SMALLEST = 1.0
"""Smallest singular value of the signal of ``noisy_low_rank``."""

DEFAULT_MAX_PIXELS = 4_000_000
"""Images with more pixels (width × height) are downscaled to fit, keeping their aspect ratio."""
MAX_DECODE_PIXELS = 50_000_000
"""Images whose header claims more pixels are refused before any pixel is decoded.

50 megapixels decode to at most 200 MB (RGBA, 8 bits), which a server survives; the same header can be
written in 100 bytes, hence the check before decoding. It is below Pillow's own limit (about 89 megapixels),
so Pillow's ``DecompressionBombWarning`` never fires for an image we accept.
"""
DEFAULT_MAX_ENTRIES = 4_000_000
"""Matrices with more entries (m × n) are refused: 2000 × 2000, 16 MB as float32."""
TEXT_BYTES_PER_ENTRY = 40
"""A text file may hold at most ``max_entries * TEXT_BYTES_PER_ENTRY`` bytes (checked before parsing)."""
BINARY_BYTES_PER_ENTRY = 8
"""A binary file may hold at most ``max_entries * BINARY_BYTES_PER_ENTRY + BINARY_OVERHEAD_BYTES`` bytes."""
BINARY_OVERHEAD_BYTES = 1 << 20

_MAX_ECHO_CHARS = 40  # never quote more of the user's text than this in a message
_MAX_LISTED_NAMES = 5  # names listed when a file holds several arrays
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_INT_EXACT_IN_FLOAT32 = 2**24

# ---------------------------------------------------------------------------------------------- samples

SAMPLES_DIR = Path(__file__).parent / "data" / "samples"
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


# =========================================================================================== validation


def _whole_number(name: str, value, *, minimum: int, maximum: int) -> int:
    """``value`` as an int in [minimum, maximum], or InputError naming ``name`` and the value."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise InputError(f"{name} must be a whole number; got {_quote(value)}.")
    value = int(value)
    if not minimum <= value <= maximum:
        raise InputError(f"{name} must be between {minimum} and {maximum}; got {value}.")
    return value


def _real_number(name: str, value, *, minimum: float, maximum: float) -> float:
    """``value`` as a finite float in [minimum, maximum], or InputError naming ``name`` and the value."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a number; got {_quote(value)}.")
    value = float(value)
    if not math.isfinite(value) or not minimum <= value <= maximum:
        raise InputError(f"{name} must be between {minimum:g} and {maximum:g}; got {value:g}.")
    return value


def _side(name: str, value) -> int:
    """A matrix or image side in 1..MAX_GENERATED_SIDE."""
    return _whole_number(name, value, minimum=1, maximum=MAX_GENERATED_SIDE)


def _generator(seed) -> torch.Generator:
    """A fresh CPU generator seeded with ``seed`` (never the global RNG)."""
    return torch.Generator().manual_seed(_whole_number("seed", seed, minimum=0, maximum=MAX_SEED))


def _quote(value, limit: int = _MAX_ECHO_CHARS) -> str:
    """``repr`` of a value, shortened to about ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plural(count: int, word: str) -> str:
    """'1 value', '3 values'."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _megabytes(size: int) -> str:
    """A byte count for people: '12.3 MB'."""
    return f"{size / 1e6:.1f} MB"


# =========================================================================================== generators


def _random_orthonormal(rows: int, cols: int, generator: torch.Generator) -> Tensor:
    """Haar-random orthonormal columns, (rows, cols) float64: QR of a Gaussian matrix with R's signs fixed."""
    Q, R = torch.linalg.qr(torch.randn(rows, cols, generator=generator, dtype=torch.float64))
    signs = torch.sign(torch.diagonal(R))  # (cols,)
    signs[signs == 0] = 1.0
    return Q * signs  # (rows, cols)


def notebook_matrix(m: int = 15, n: int = 15, k: int = 4, *, seed: int = 0) -> Tensor:
    """The notebook's ``W = rand(m, k) @ rand(k, n)``: a positive matrix of rank min(k, m, n).

    Parameters
    ----------
    m, n : int
        Shape of the result, each in 1..MAX_GENERATED_SIDE.
    k : int
        Inner dimension, the rank, in 1..MAX_GENERATED_SIDE.
    seed : int
        Seed of the local generator (0..MAX_SEED).

    Returns
    -------
    Tensor of shape (m, n), float32
    """
    m, n, k = _side("m", m), _side("n", n), _side("k", k)
    generator = _generator(seed)
    left = torch.rand(m, k, generator=generator)  # (m, k)
    right = torch.rand(k, n, generator=generator)  # (k, n)
    return left @ right  # (m, n)


def noisy_low_rank(
    m: int = 200, n: int = 200, rank: int = 10, *, noise_sigma: float = 0.01, seed: int = 0
) -> Tensor:
    """A rank-``rank`` signal plus Gaussian noise: ``U diag(s) Vᵀ + noise_sigma * G``.

    ``U`` (m, rank) and ``V`` (n, rank) have orthonormal columns (QR of Gaussian matrices), ``s`` is spaced
    linearly from NOISY_SIGNAL_LARGEST = 10 down to NOISY_SIGNAL_SMALLEST = 1, and ``G`` has iid standard
    normal entries. The noise's singular values fill a bulk up to about ``noise_sigma * (√m + √n)``
    (0.28 for the default 200 × 200 at 0.01), far below the smallest signal value 1, so the default has a
    clear gap after ``rank`` singular values; raise ``noise_sigma`` to about ``1 / (√m + √n)`` to drown it.
    Built in float64, returned as float32.

    Parameters
    ----------
    m, n : int
        Shape, each in 1..MAX_GENERATED_SIDE.
    rank : int
        Rank of the signal, in 1..min(m, n).
    noise_sigma : float
        Standard deviation of the noise of each entry, >= 0.
    seed : int
        Seed of the local generator (0..MAX_SEED).

    Returns
    -------
    Tensor of shape (m, n), float32
    """
    m, n, rank = _side("m", m), _side("n", n), _side("rank", rank)
    if rank > min(m, n):
        raise InputError(f"rank must be at most min(m, n) = {min(m, n)}; got {rank}.")
    noise_sigma = _real_number("noise_sigma", noise_sigma, minimum=0.0, maximum=math.inf)
    generator = _generator(seed)
    U = _random_orthonormal(m, rank, generator)  # (m, r)
    V = _random_orthonormal(n, rank, generator)  # (n, r)
    s = torch.linspace(NOISY_SIGNAL_LARGEST, NOISY_SIGNAL_SMALLEST, rank, dtype=torch.float64)  # (r,)
    noise = torch.randn(m, n, generator=generator, dtype=torch.float64)  # (m, n)
    return ((U * s) @ V.T + noise_sigma * noise).to(torch.float32)  # (m, n)


def decaying_spectrum(
    m: int = 100, n: int = 100, *, decay: str = "exponential", rate: float = 0.1, seed: int = 0
) -> Tensor:
    """A matrix with prescribed singular values: ``U diag(s) Vᵀ`` with random orthonormal ``U``, ``V``.

    ``s_i = exp(-rate * i)`` for ``decay="exponential"`` and ``s_i = (i + 1) ** -rate`` for
    ``decay="power"``, for i = 0..min(m, n) - 1; so the largest singular value is 1. Built in float64,
    returned as float32 (singular values below about 1e-7 are then lost in rounding).

    Parameters
    ----------
    m, n : int
        Shape, each in 1..MAX_GENERATED_SIDE.
    decay : {"exponential", "power"}
    rate : float
        In 0..MAX_DECAY_RATE.
    seed : int
        Seed of the local generator (0..MAX_SEED).

    Returns
    -------
    Tensor of shape (m, n), float32
    """
    m, n = _side("m", m), _side("n", n)
    rate = _real_number("rate", rate, minimum=0.0, maximum=MAX_DECAY_RATE)
    k = min(m, n)
    i = torch.arange(k, dtype=torch.float64)  # (k,)
    if decay == "exponential":
        s = torch.exp(-rate * i)
    elif decay == "power":
        s = (i + 1) ** -rate
    else:
        raise InputError(f"decay must be 'exponential' or 'power'; got {_quote(decay)}.")
    generator = _generator(seed)
    U = _random_orthonormal(m, k, generator)  # (m, k)
    V = _random_orthonormal(n, k, generator)  # (n, k)
    return ((U * s) @ V.T).to(torch.float32)  # (m, n)


def hilbert(n: int = 10) -> Tensor:
    """The Hilbert matrix ``H_ij = 1 / (i + j + 1)`` (0-based): famously ill-conditioned.

    Returns
    -------
    Tensor of shape (n, n), float32
    """
    n = _side("n", n)
    i = torch.arange(n, dtype=torch.float64)
    return (1.0 / (i[:, None] + i[None, :] + 1.0)).to(torch.float32)  # (n, n)


def identity(n: int = 10) -> Tensor:
    """The identity: every singular value is 1, so no truncation helps.

    Returns
    -------
    Tensor of shape (n, n), float32
    """
    return torch.eye(_side("n", n), dtype=torch.float32)


def random_full_rank(m: int = 50, n: int = 50, *, seed: int = 0) -> Tensor:
    """iid standard normal entries: full rank with probability 1, singular values with no gap.

    Returns
    -------
    Tensor of shape (m, n), float32
    """
    m, n = _side("m", m), _side("n", n)
    return torch.randn(m, n, generator=_generator(seed))


def notebook_2x3() -> Tensor:
    """The notebook's worked example ``[[2, 0, 0], [1, 2, 3]]``.

    Returns
    -------
    Tensor of shape (2, 3), float32
    """
    return torch.tensor([[2.0, 0.0, 0.0], [1.0, 2.0, 3.0]])


# ============================================================================================= registry


@dataclass(frozen=True)
class ParamSpec:
    """One numeric control of a generator: ``kind`` is "int" or "float"; bounds are inclusive."""

    name: str
    label: str
    default: int | float
    minimum: int | float
    maximum: int | float
    kind: str = "int"


@dataclass(frozen=True)
class GeneratorSpec:
    """A generator as the UI shows it. ``function(**params)`` makes the matrix; ``seeded`` adds ``seed``."""

    name: str
    label: str
    function: Callable[..., Tensor]
    params: tuple[ParamSpec, ...]
    seeded: bool
    description: str


def _sides(m: int, n: int) -> tuple[ParamSpec, ParamSpec]:
    """Controls for the number of rows and columns."""
    return (
        ParamSpec("m", "Rows m", m, 1, MAX_GENERATED_SIDE, "int"),
        ParamSpec("n", "Columns n", n, 1, MAX_GENERATED_SIDE, "int"),
    )


SEED_PARAM = ParamSpec("seed", "Seed", 0, 0, MAX_SEED, "int")
"""The extra control of every generator whose ``seeded`` is True."""

_SPECS = (
    GeneratorSpec(
        name="notebook",
        label="Notebook W = rand(m, k) @ rand(k, n)",
        function=notebook_matrix,
        params=(*_sides(15, 15), ParamSpec("k", "Inner size k (the rank)", 4, 1, MAX_GENERATED_SIDE, "int")),
        seeded=True,
        description="The notebook's example: a product of two random positive factors, so its rank is k.",
    ),
    GeneratorSpec(
        name="notebook-2x3",
        label="Notebook 2×3 [[2, 0, 0], [1, 2, 3]]",
        function=notebook_2x3,
        params=(),
        seeded=False,
        description="The small worked example from the notebook, to check an SVD by hand.",
    ),
    GeneratorSpec(
        name="noisy-low-rank",
        label="Low rank + noise",
        function=noisy_low_rank,
        params=(
            *_sides(200, 200),
            ParamSpec("rank", "Rank of the signal", 10, 1, MAX_GENERATED_SIDE, "int"),
            ParamSpec("noise_sigma", "Noise standard deviation", 0.01, 0.0, 1.0, "float"),
        ),
        seeded=True,
        description="A rank-r signal (singular values 10 down to 1) plus Gaussian noise: the singular "
        "values show r spikes above a noise bulk.",
    ),
    GeneratorSpec(
        name="decay-exponential",
        label="Exponentially decaying spectrum",
        function=functools.partial(decaying_spectrum, decay="exponential"),
        params=(*_sides(100, 100), ParamSpec("rate", "Decay rate", 0.1, 0.0, MAX_DECAY_RATE, "float")),
        seeded=True,
        description="Singular values exp(-rate · i): each extra rank divides the error by the same factor.",
    ),
    GeneratorSpec(
        name="decay-power",
        label="Power-law decaying spectrum",
        function=functools.partial(decaying_spectrum, decay="power", rate=1.0),
        params=(*_sides(100, 100), ParamSpec("rate", "Decay exponent", 1.0, 0.0, MAX_DECAY_RATE, "float")),
        seeded=True,
        description="Singular values (i + 1)^(-rate): slow decay, like many natural images.",
    ),
    GeneratorSpec(
        name="hilbert",
        label="Hilbert matrix",
        function=hilbert,
        params=(ParamSpec("n", "Size n", 10, 1, MAX_GENERATED_SIDE, "int"),),
        seeded=False,
        description="H_ij = 1/(i + j + 1): full rank in exact arithmetic, numerically of low rank.",
    ),
    GeneratorSpec(
        name="identity",
        label="Identity",
        function=identity,
        params=(ParamSpec("n", "Size n", 10, 1, MAX_GENERATED_SIDE, "int"),),
        seeded=False,
        description="Every singular value is 1: no rank below n approximates it well.",
    ),
    GeneratorSpec(
        name="random-full-rank",
        label="Random Gaussian (full rank)",
        function=random_full_rank,
        params=_sides(50, 50),
        seeded=True,
        description="Independent normal entries: full rank, no gap in the singular values.",
    ),
)
GENERATORS: dict[str, GeneratorSpec] = {spec.name: spec for spec in _SPECS}
"""Every generator by name, in the order the UI lists them."""


def generate(name: str, **params) -> Tensor:
    """Make the matrix of generator ``name`` with ``params`` (defaults for the ones left out).

    Parameters
    ----------
    name : str
        A key of ``GENERATORS``.
    **params
        Values for the generator's ``ParamSpec`` names, plus ``seed`` for a seeded generator; each is
        checked against the spec's kind and bounds.

    Returns
    -------
    Tensor of shape (m, n), float32
    """
    spec = GENERATORS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise InputError(f"Unknown generator {_quote(name)}; choose one of {', '.join(GENERATORS)}.")
    allowed = {p.name: p for p in spec.params}
    if spec.seeded:
        allowed["seed"] = SEED_PARAM
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        expected = ", ".join(allowed) or "none"
        raise InputError(f"Generator {name!r} has no setting {unknown[0]!r}; its settings are: {expected}.")
    values = {}
    for key, value in params.items():
        p = allowed[key]
        check = _whole_number if p.kind == "int" else _real_number
        values[key] = check(key, value, minimum=p.minimum, maximum=p.maximum)
    return spec.function(**values)


# ========================================================================================= result types


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


@dataclass(frozen=True)
class LoadedMatrix:
    """A matrix read from a file or pasted text.

    Attributes
    ----------
    values : Tensor of shape (m, n), float32, all finite
    notices : tuple of str
        Sentences for the user about what was changed or assumed.
    source_format : {"csv", "text", "npy", "npz", "pt"}
    """

    values: Tensor
    notices: tuple[str, ...] = ()
    source_format: str = "text"


# ============================================================================================== samples


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
    height, width = _side("height", height), _side("width", width)
    makers = {
        "gradient": _gradient, "checkerboard": _checkerboard, "circles": _circles,
        "stripes": _stripes, "rank-one": _rank_one,
    }
    if name not in makers:
        raise InputError(f"Unknown procedural image {_quote(name)}; choose one of {', '.join(makers)}.")
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

    Procedural images have no file: asking for one raises InputError.
    """
    if name in PROCEDURAL_NAMES:
        raise InputError(f"{name!r} is a computed image, not a file; only photographs have file bytes.")
    if name not in PHOTO_FILES:
        raise InputError(f"Unknown sample {_quote(name)}; choose one of {', '.join(sample_names())}.")
    return (SAMPLES_DIR / PHOTO_FILES[name]).read_bytes()


def load_sample(name: str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Load a sample by name (see ``sample_names``), as ``load_image`` would load an upload.

    Procedural images are computed at their default size (256 × 256) and, if above ``max_pixels``,
    downscaled with antialiasing.
    """
    if name in PHOTO_FILES:
        return load_image(sample_bytes(name), max_pixels=max_pixels, name=PHOTO_FILES[name])
    if name not in PROCEDURAL_NAMES:
        raise InputError(f"Unknown sample {_quote(name)}; choose one of {', '.join(sample_names())}.")
    max_pixels = _whole_number("max_pixels", max_pixels, minimum=1, maximum=MAX_DECODE_PIXELS)
    pixels = procedural_image(name)  # (C, H, W)
    C, H, W = pixels.shape
    notices = []
    target = _fit_size(W, H, max_pixels)
    if target != (W, H):
        pixels = torch.nn.functional.interpolate(
            pixels[None], size=(target[1], target[0]), mode="bilinear", antialias=True, align_corners=False
        )[0].clamp(0.0, 1.0)
        notices.append(_downscale_notice((W, H), target, max_pixels))
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
    with Image.open(io.BytesIO(sample_bytes(name))) as source:
        image = source.convert("RGB")
    width, height = image.size
    crop_height = min(height, round(width * 9 / 16))
    crop_width = min(width, round(crop_height * 16 / 9))
    left, top = (width - crop_width) // 2, (height - crop_height) // 2
    image = image.crop((left, top, left + crop_width, top + crop_height))
    image = image.resize((1920, 1080), Image.Resampling.LANCZOS)
    array = np.asarray(image, dtype=np.float32) / 255.0  # (1080, 1920, 3)
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()  # (3, 1080, 1920)


# ========================================================================================= image loader


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
    label = _file_label(name)
    payload = _as_bytes(data, label)
    max_pixels = _whole_number("max_pixels", max_pixels, minimum=1, maximum=MAX_DECODE_PIXELS)
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
            f"{label} could not be decoded; it may be truncated or corrupt ({_quote(str(err), 80)})."
        ) from err


def _file_label(name) -> str:
    """How messages name the file: 'The file 'x.png''."""
    return f"The file {_quote(str(name))}"


def _as_bytes(data, label: str) -> bytes:
    """``data`` as non-empty bytes, or InputError."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InputError(f"{label} must be given as bytes; got {type(data).__name__}.")
    payload = bytes(data)
    if not payload:
        raise EmptyInputError(f"{label} is empty (0 bytes).")
    return payload


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


_BOMB_EXPLANATION = (
    "It was refused before decoding: a small file with such a header is a known way to exhaust a server's "
    "memory (a decompression bomb)."
)


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
        image.draft(image.mode, _fit_size(width, height, max_pixels))


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


def _fit_size(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """The largest (width, height) with the same aspect ratio and at most ``max_pixels`` pixels."""
    if width * height <= max_pixels:
        return width, height
    scale = math.sqrt(max_pixels / (width * height))
    new_width, new_height = max(1, int(width * scale)), max(1, int(height * scale))
    if new_width * new_height > max_pixels:  # a very thin image: one side is pinned at 1
        new_width, new_height = (1, max_pixels) if new_width == 1 else (max_pixels, 1)
    return new_width, new_height


def _downscale_notice(old: tuple[int, int], new: tuple[int, int], max_pixels: int) -> str:
    """'Downscaled from 4000×3000 to 2309×1732 to stay under 4.0 megapixels.'"""
    limit = f"{max_pixels / 1e6:.1f} megapixels" if max_pixels >= 100_000 else f"{max_pixels:,} pixels"
    return f"Downscaled from {old[0]}×{old[1]} to {new[0]}×{new[1]} to stay under {limit}."


def _downscale(
    image: Image.Image, max_pixels: int, original_size: tuple[int, int], notices: list[str]
) -> Image.Image:
    """Resize with Lanczos to at most ``max_pixels`` pixels (alpha-aware for LA and RGBA).

    ``original_size`` is the size before a JPEG draft, which may already have reduced ``image``.
    """
    target = _fit_size(*image.size, max_pixels)
    if target != original_size:
        notices.append(_downscale_notice(original_size, target, max_pixels))
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


# ======================================================================================== matrix loader

_TEXT_FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "text"}
_BINARY_FORMATS = {".npy": "npy", ".npz": "npz", ".pt": "pt", ".pth": "pt"}


def load_matrix(
    data: bytes | str, *, name: str = "pasted.txt", max_entries: int = DEFAULT_MAX_ENTRIES
) -> LoadedMatrix:
    """Read a matrix from a CSV / TSV / text file, pasted text, or a .npy, .npz or .pt file.

    The format follows the extension of ``name`` (.csv .tsv .txt .npy .npz .pt .pth); any other extension
    is read as a .npy file when it starts like one, and as text otherwise.

    Text: UTF-8 (a BOM is skipped), any line ending, cells split by the first of tab, semicolon or comma
    found on most lines, else by spaces; blank lines and lines starting with ``#`` are skipped; a first row
    with no number at all is taken as column names. Every cell must parse as a float; rows must have the
    same length. Binary: never unpickled (``allow_pickle=False``, ``weights_only=True``); the array header
    is checked (shape, dtype) before its data is read; .pt files must use PyTorch's zip format (1.6+).

    Parameters
    ----------
    data : bytes or str
        The file's content, or pasted text.
    name : str
        The file name: its extension selects the format; it is also used in messages.
    max_entries : int
        Largest m × n accepted. Files over ``max_entries * TEXT_BYTES_PER_ENTRY`` bytes (text) or
        ``max_entries * BINARY_BYTES_PER_ENTRY + BINARY_OVERHEAD_BYTES`` (binary) are refused unread.

    Returns
    -------
    LoadedMatrix
        ``values`` of shape (m, n), float32, all finite. A 1-D array becomes a single row (1, n).

    Raises
    ------
    InputError
        Only InputError subclasses: EmptyInputError, ParseError (a cell that is not a number, a ragged row,
        a corrupt file), NonFiniteError (NaN, inf, beyond float32), ShapeError, TooLargeError,
        UnsafeFileError (pickled Python objects), UnsupportedFormatError.
    """
    if not isinstance(name, str):
        raise InputError(f"The file name must be text; got {type(name).__name__}.")
    label = _file_label(name)
    max_entries = _whole_number("max_entries", max_entries, minimum=1, maximum=10**9)
    try:
        return _load_matrix(data, name=name, label=label, max_entries=max_entries)
    except InputError:
        raise
    except MemoryError as err:
        raise TooLargeError(f"{label} is too large to load in the memory available.") from err
    except Exception as err:  # corrupt archives can make zipfile, numpy or torch raise nearly anything
        raise ParseError(f"{label} could not be read; it may be corrupt ({_quote(str(err), 80)}).") from err


def _load_matrix(data: bytes | str, *, name: str, label: str, max_entries: int) -> LoadedMatrix:
    """Dispatch on the extension (and the leading bytes when the extension is unknown)."""
    extension = Path(name).suffix.lower()
    if isinstance(data, str):
        if extension in _BINARY_FORMATS:
            raise ParseError(f"{label} is a binary {extension} file; upload the file instead of pasting it.")
        return _load_text(data, label=label, max_entries=max_entries, source=_TEXT_FORMATS.get(extension))
    payload = _as_bytes(data, label)
    source = _TEXT_FORMATS.get(extension) or _BINARY_FORMATS.get(extension)
    if source is None and payload.startswith(_NPY_MAGIC):
        source = "npy"
    if source in (None, "csv", "text"):
        return _load_text(payload, label=label, max_entries=max_entries, source=source)
    byte_limit = max_entries * BINARY_BYTES_PER_ENTRY + BINARY_OVERHEAD_BYTES
    _check_byte_size(len(payload), byte_limit, label)
    loader = {"npy": _load_npy, "npz": _load_npz, "pt": _load_pt}[source]
    values, notices = loader(payload, label=label, max_entries=max_entries)
    return LoadedMatrix(values, tuple(notices), source)


def _check_byte_size(size: int, limit: int, label: str) -> None:
    """TooLargeError when a file is over its byte limit (checked before parsing)."""
    if size > limit:
        raise TooLargeError(
            f"{label} is {_megabytes(size)}; the limit for this kind of file is {_megabytes(limit)}."
        )


def _check_entries(shape: tuple[int, ...], max_entries: int, label: str) -> None:
    """TooLargeError when the matrix would have more than ``max_entries`` entries."""
    entries = math.prod(shape)
    if entries > max_entries:
        dims = "×".join(str(d) for d in shape)
        raise TooLargeError(
            f"{label} holds a {dims} array ({entries:,} values); the limit is {max_entries:,}."
        )


def _check_finite(values: np.ndarray, place: Callable[[int, int], str]) -> None:
    """NonFiniteError naming the first NaN, infinity, or value beyond float32, found in row-major order.

    ``place(row, column)`` (1-based) says where it is for the user, e.g. "Row 3, column 2".
    """
    bad = ~np.isfinite(values) | (np.abs(values) > _FLOAT32_MAX)
    if not bad.any():
        return
    r, c = (int(i) for i in np.argwhere(bad)[0])
    value = float(values[r, c])
    where = place(r + 1, c + 1)
    if math.isnan(value):
        raise NonFiniteError(f"{where} is NaN (not a number); every value must be a finite number.")
    if math.isinf(value):
        raise NonFiniteError(f"{where} is infinite ({value}); every value must be a finite number.")
    raise NonFiniteError(
        f"{where} is {value:.4g}, which overflows float32 (32-bit floats stop at about ±3.4e38)."
    )


# ---------------------------------------------------------------------------------------------- text

_NON_BLANK = re.compile(r"[^\r\n]+")
_DELIMITERS = ("\t", ";", ",")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_SNIFF_LINES = 20


def _load_text(data: bytes | str, *, label: str, max_entries: int, source: str | None) -> LoadedMatrix:
    """Parse delimited text into a matrix, one line at a time (memory stays within ``max_entries``)."""
    _check_byte_size(len(data), max_entries * TEXT_BYTES_PER_ENTRY, label)
    text = _decode_text(data, label) if isinstance(data, bytes) else data.removeprefix("\ufeff")
    lines = _numbered_lines(text)
    sample = list(itertools.islice(lines, _SNIFF_LINES))
    delimiter = _sniff_delimiter([line for _, line in sample if not _is_comment(line)])
    table = _parse_lines(itertools.chain(sample, lines), delimiter, max_entries=max_entries, label=label)
    _check_finite(table.values, lambda r, c: f"Row {table.line_numbers[r - 1]}, column {c}")
    values = torch.from_numpy(table.values.astype(np.float32))  # (m, n)
    return LoadedMatrix(values, table.notices, source or "text")


def _decode_text(data: bytes, label: str) -> str:
    """UTF-8 (BOM skipped) or ParseError naming the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ParseError(
            f"{label} is not UTF-8 text (byte 0x{data[err.start]:02x} at position {err.start} is not valid). "
            "Save it as UTF-8 CSV, or upload a .npy file."
        ) from err


def _numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) of each non-blank line; \\n, \\r\\n and \\r all end a line."""
    number, position = 1, 0
    for match in _NON_BLANK.finditer(text):
        gap = text[position : match.start()]  # only line breaks
        number += gap.count("\n") + gap.count("\r") - gap.count("\r\n")
        position = match.end()
        if not match.group().isspace():
            yield number, match.group()


def _is_comment(line: str) -> bool:
    """Whether a line starts with '#' (after spaces)."""
    return line.lstrip().startswith("#")


def _sniff_delimiter(sample: list[str]) -> str | None:
    """The delimiter on the most sample lines (tab, then semicolon, then comma on ties); None: spaces."""
    counts = [sum(delimiter in line for line in sample) for delimiter in _DELIMITERS]
    best = max(counts)
    return _DELIMITERS[counts.index(best)] if best else None


def _split(line: str, delimiter: str | None) -> list[str]:
    """The cells of a line, without surrounding spaces or double quotes."""
    cells = line.split() if delimiter is None else line.split(delimiter)
    return [cell.strip().strip('"').strip() for cell in cells]


def _is_number(cell: str) -> bool:
    """Whether ``float(cell)`` succeeds."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _looks_numeric(cell: str) -> bool:
    """A number, or one written with a decimal comma (so such a first row is not taken for a header)."""
    return _is_number(cell) or _DECIMAL_COMMA.fullmatch(cell) is not None


@dataclass(frozen=True)
class _Table:
    """Parsed text: values (m, n) float64, the file line of each row (m,), notices."""

    values: np.ndarray
    line_numbers: array
    notices: tuple[str, ...]


def _parse_lines(
    lines: Iterable[tuple[int, str]], delimiter: str | None, *, max_entries: int, label: str
) -> _Table:
    """Rows of numbers from numbered lines: header, comments, ragged rows and bad cells handled here."""
    flat, line_numbers = array("d"), array("q")
    header: list[str] | None = None
    width = first_line = None
    comments = 0
    for number, line in lines:
        if _is_comment(line):
            comments += 1
            continue
        cells = _split(line, delimiter)
        if width is None and header is None and not any(map(_looks_numeric, cells)):
            header = cells
            continue
        if width is None:
            width, first_line = len(cells), number
        elif len(cells) != width:
            raise ParseError(
                f"Row {number} has {_plural(len(cells), 'value')}, expected {width} (like row {first_line})."
            )
        if len(flat) + width > max_entries:
            raise TooLargeError(f"{label} has more than {max_entries:,} values (the limit) by row {number}.")
        try:
            flat.extend(map(float, cells))
        except ValueError:
            raise _bad_cell(number, cells) from None
        line_numbers.append(number)
    if width is None:
        if header is not None:
            raise EmptyInputError(f"{label} has a row of column names but no numbers below it.")
        raise EmptyInputError(f"{label} contains no numbers.")
    notices = []
    if header is not None:
        notices.append(f"The first row ({_quote(', '.join(header))}) was read as column names, not numbers.")
    if comments:
        notices.append(f"Skipped {_plural(comments, 'comment line')} starting with #.")
    values = np.frombuffer(flat, dtype=np.float64).reshape(len(line_numbers), width)  # (m, n)
    return _Table(values, line_numbers, tuple(notices))


def _bad_cell(line_number: int, cells: list[str]) -> ParseError:
    """ParseError naming the first cell of a row that is not a number."""
    column = next(i for i, cell in enumerate(cells, start=1) if not _is_number(cell))
    cell = cells[column - 1]
    if not cell:
        return ParseError(f"Row {line_number}, column {column} is empty; every cell must hold a number.")
    hint = " Use a dot as the decimal separator." if _DECIMAL_COMMA.fullmatch(cell) else ""
    return ParseError(f"Row {line_number}, column {column} is {_quote(cell)}, not a number.{hint}")


# ---------------------------------------------------------------------------------------- npy, npz

def _read_npy_header(stream) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype from a .npy header, without reading the data."""
    version = np.lib.format.read_magic(stream)
    # Version 3.0 differs from 2.0 only by a UTF-8 header (for non-ASCII field names, which we refuse).
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _fortran_order, dtype = read(stream)
    return tuple(int(d) for d in shape), dtype


def _check_array_kind(shape: tuple[int, ...], dtype: np.dtype, label: str, max_entries: int) -> None:
    """Refuse, from the header alone, arrays we cannot or must not turn into a float matrix."""
    if dtype.hasobject:
        raise UnsafeFileError(
            f"{label} contains Python objects (pickle); it is refused because loading it could run code."
        )
    if dtype.kind == "c":
        raise UnsupportedFormatError(
            f"{label} holds complex numbers ({dtype}); only real numbers are supported."
        )
    if dtype.kind not in "biuf" or dtype.fields is not None:
        raise UnsupportedFormatError(f"{label} holds values of type {str(dtype)!r}, not numbers.")
    if len(shape) == 0:
        raise ShapeError(f"{label} holds a single number, not a matrix.")
    if len(shape) > 2:
        raise ShapeError(
            f"{label} holds an array with {len(shape)} dimensions (shape {shape}); a matrix has 2 "
            "(rows × columns)."
        )
    if math.prod(shape) == 0:
        raise EmptyInputError(f"{label} holds an empty array (shape {shape}).")
    _check_entries(shape, max_entries, label)


def _load_npy(data: bytes, *, label: str, max_entries: int, within: str = "") -> tuple[Tensor, list[str]]:
    """A .npy file, header checked before the data is read; never unpickles.

    ``within`` follows "Row r, column c" in messages about values (" of the array 'W'" for a .npz).
    """
    if not data.startswith(_NPY_MAGIC):
        raise ParseError(f"{label} is not a NumPy .npy file (it does not start with the .npy signature).")
    shape, dtype = _read_npy_header(io.BytesIO(data))
    _check_array_kind(shape, dtype, label, max_entries)
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise UnsafeFileError(
                f"{label} contains Python objects (pickle); it is refused because loading it could run code."
            ) from err
        raise
    return _matrix_from_array(array, label, within=within)


def _load_npz(data: bytes, *, label: str, max_entries: int) -> tuple[Tensor, list[str]]:
    """A .npz archive holding exactly one array."""
    if not data.startswith(b"PK"):
        raise ParseError(f"{label} is not a NumPy .npz archive (it is not a zip file).")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        if not members:
            raise EmptyInputError(f"{label} is an archive with no arrays in it.")
        if len(members) > 1:
            names = [info.filename.removesuffix(".npy") for info in members]
            listed = ", ".join(_quote(n) for n in names[:_MAX_LISTED_NAMES])
            more = f" and {len(names) - _MAX_LISTED_NAMES} more" if len(names) > _MAX_LISTED_NAMES else ""
            raise ParseError(
                f"{label} holds {len(names)} arrays ({listed}{more}); it must hold exactly one. "
                "Save the matrix alone, e.g. numpy.savez('m.npz', W=W)."
            )
        member = members[0]
        inner_label = f"The array {_quote(member.filename)} inside {label[0].lower()}{label[1:]}"
        byte_limit = max_entries * BINARY_BYTES_PER_ENTRY + BINARY_OVERHEAD_BYTES
        _check_byte_size(member.file_size, byte_limit, inner_label)  # a zip bomb stops here
        content = archive.read(member)
    array_name = _quote(member.filename.removesuffix(".npy"))
    values, notices = _load_npy(content, label=inner_label, max_entries=max_entries,
                                within=f" of the array {array_name}")
    return values, [f"Using the array {array_name} from the archive.", *notices]


def _matrix_from_array(raw: np.ndarray, label: str, *, within: str = "") -> tuple[Tensor, list[str]]:
    """(m, n) float32 tensor from a 1-D or 2-D real array (bool, int or float), checking every value."""
    notices = []
    if raw.ndim == 1:
        count = raw.shape[0]
        notices.append(f"{label} holds a list of {count} values; it is used as a single row (1×{count}).")
        raw = raw.reshape(1, -1)
    values = raw.astype(np.float64)  # native byte order, a copy
    if raw.dtype.kind == "b":
        notices.append("True/False values were converted to 1/0.")
    elif raw.dtype.kind in "iu":
        notices.append(f"Whole numbers ({raw.dtype.name}) were converted to 32-bit floats.")
        if float(np.abs(values).max()) > _INT_EXACT_IN_FLOAT32:
            notices.append("Some exceed 16,777,216, so they were rounded: float32 cannot hold them exactly.")
    _check_finite(values, lambda r, c: f"Row {r}, column {c}{within}")
    return torch.from_numpy(values.astype(np.float32)), notices


# ---------------------------------------------------------------------------------------------- .pt

def _load_pt(data: bytes, *, label: str, max_entries: int) -> tuple[Tensor, list[str]]:
    """A torch.save file (zip format) holding a tensor or a dict with exactly one tensor; never unpickles."""
    if not data.startswith(_ZIP_MAGIC):
        raise UnsupportedFormatError(
            f"{label} is not in PyTorch's zip format (torch.save since PyTorch 1.6); older or other formats "
            "are not supported."
        )
    byte_limit = max_entries * BINARY_BYTES_PER_ENTRY + BINARY_OVERHEAD_BYTES
    with zipfile.ZipFile(io.BytesIO(data)) as archive:  # refuse a zip bomb before torch inflates it
        _check_byte_size(sum(info.file_size for info in archive.infolist()), byte_limit, label)
    try:
        loaded = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as err:
        raise UnsafeFileError(
            f"{label} contains Python objects other than tensors; it is refused because loading it could run "
            "code."
        ) from err
    except RuntimeError as err:
        if "weights_only" in str(err).lower() or "weights only" in str(err).lower():
            raise UnsafeFileError(f"{label} needs full unpickling to load; it is refused.") from err
        raise
    tensor, notices = _pick_tensor(loaded, label)
    return _tensor_to_matrix(tensor, label, max_entries, notices)


def _pick_tensor(loaded, label: str) -> tuple[Tensor, list[str]]:
    """The tensor itself, or the only tensor value of a dict."""
    if isinstance(loaded, Tensor):
        return loaded, []
    if isinstance(loaded, Mapping):
        keys = [key for key, value in loaded.items() if isinstance(value, Tensor)]
        if len(keys) == 1:
            return loaded[keys[0]], [f"Using the tensor stored under the key {_quote(keys[0])}."]
        if not keys:
            raise ParseError(f"{label} holds a dictionary with no tensor in it.")
        listed = ", ".join(_quote(k) for k in keys[:_MAX_LISTED_NAMES])
        more = f" and {len(keys) - _MAX_LISTED_NAMES} more" if len(keys) > _MAX_LISTED_NAMES else ""
        raise ParseError(f"{label} holds {len(keys)} tensors ({listed}{more}); it must hold exactly one.")
    raise ParseError(
        f"{label} holds a {type(loaded).__name__}, not a tensor or a dictionary with one tensor."
    )


def _tensor_to_matrix(
    tensor: Tensor, label: str, max_entries: int, notices: list[str]
) -> tuple[Tensor, list[str]]:
    """Check a loaded tensor like a .npy header, then convert it like a .npy array."""
    if tensor.layout != torch.strided or tensor.is_quantized:
        raise UnsupportedFormatError(f"{label} holds a sparse or quantized tensor; save a dense one.")
    if tensor.is_complex():
        raise UnsupportedFormatError(f"{label} holds complex numbers; only real numbers are supported.")
    shape = tuple(tensor.shape)
    if len(shape) == 0:
        raise ShapeError(f"{label} holds a single number, not a matrix.")
    if len(shape) > 2:
        raise ShapeError(
            f"{label} holds a tensor with {len(shape)} dimensions (shape {shape}); a matrix has 2 "
            "(rows × columns)."
        )
    if tensor.numel() == 0:
        raise EmptyInputError(f"{label} holds an empty tensor (shape {shape}).")
    _check_entries(shape, max_entries, label)
    tensor = tensor.detach().cpu()
    if tensor.is_floating_point():
        tensor = tensor.to(torch.float64)
    values, more = _matrix_from_array(tensor.numpy(), label)
    return values, [*notices, *more]
