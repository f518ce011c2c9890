"""Where the matrix explorer's matrix comes from: a generator with its settings, an upload, or a typed grid.

``MatrixSource`` is small and hashable (a digest stands for the bytes); ``build_matrix`` turns it into a
``LoadedMatrix`` through ``lowrank_core.sources`` (no cache here: ``ui.matrix.cache`` wraps it).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from lowrank_core import InputError, TooLargeError, sources
from ui.limits import MAX_GRID_SIDE, MAX_MATRIX_ENTRIES, MAX_MATRIX_SIDE, MAX_UPLOAD_MB, NOISE_MAX

__all__ = [
    "SOURCE_KINDS",
    "NOISE_SEED_OFFSET",
    "MatrixSource",
    "add_noise",
    "build_matrix",
    "grid_source",
    "generator_param_bounds",
]

SOURCE_KINDS = {"generator": "Generator", "upload": "Upload a file", "grid": "Type or paste"}
NOISE_SEED_OFFSET = 1  # the added noise draws from seed + 1, so it is independent of the generator's stream


@dataclass(frozen=True)
class MatrixSource:
    """Where the matrix comes from. ``key`` is small and hashable (a digest stands for the bytes).

    Attributes
    ----------
    kind : {"generator", "upload", "grid"}
    generator : str
        A key of ``sources.GENERATORS`` (kind "generator").
    params : tuple of (name, value)
        The generator's settings, ``seed`` included for a seeded generator.
    noise_sigma : float
        Standard deviation of the Gaussian noise added to a generated matrix (0: none).
    name : str
        The uploaded file's name (kind "upload").
    data : bytes
        The uploaded file, or the grid's float32 values (kind "grid"); not part of ``key``.
    shape : tuple of int
        The grid's shape (kind "grid").
    """

    kind: str
    generator: str = ""
    params: tuple[tuple[str, int | float], ...] = ()
    noise_sigma: float = 0.0
    name: str = ""
    data: bytes = field(default=b"", repr=False, compare=False)
    shape: tuple[int, ...] = ()

    @property
    def digest(self) -> str:
        """SHA-256 of ``data`` (empty string when there is none)."""
        return hashlib.sha256(self.data).hexdigest() if self.data else ""

    @property
    def key(self) -> tuple:
        """Everything that determines the matrix, hashable and small: the cache key."""
        return (self.kind, self.generator, self.params, float(self.noise_sigma), self.name, self.digest,
                self.shape)

    @property
    def seed(self) -> int:
        """The generator's seed (0 when it has none)."""
        return int(dict(self.params).get("seed", 0))

    @property
    def known_noise_sigma(self) -> float | None:
        """The noise level of a generated matrix when it is known (> 0), else None.

        The generator's own ``noise_sigma`` setting and the added noise are independent Gaussians, so their
        variances add.
        """
        if self.kind != "generator":
            return None
        own = float(dict(self.params).get("noise_sigma", 0.0))
        total = math.hypot(own, float(self.noise_sigma))
        return total if total > 0 else None


def add_noise(x: torch.Tensor, sigma: float, *, seed: int) -> torch.Tensor:
    """``x + sigma * G`` with G iid standard normal from a local generator seeded with ``seed``."""
    if sigma == 0:
        return x
    generator = torch.Generator().manual_seed(int(seed))
    noise = torch.randn(x.shape, generator=generator, dtype=torch.float64)  # (m, n)
    return (x.double() + sigma * noise).to(torch.float32)


def build_matrix(source: MatrixSource) -> sources.LoadedMatrix:
    """The matrix a source describes, through ``lowrank_core.sources``; raises ``InputError`` on bad input."""
    if source.kind == "generator":
        values = sources.generate(source.generator, **dict(source.params))
        if not 0.0 <= source.noise_sigma <= NOISE_MAX:
            raise InputError(f"noise σ must be between 0 and {NOISE_MAX:g}; got {source.noise_sigma:g}.")
        values = add_noise(values, source.noise_sigma, seed=source.seed + NOISE_SEED_OFFSET)
        return sources.LoadedMatrix(values, (), "generator")
    if source.kind == "upload":
        if len(source.data) > MAX_UPLOAD_MB * 1_000_000:
            raise TooLargeError(f"The file is larger than {MAX_UPLOAD_MB} MB.")
        return sources.load_matrix(source.data, name=source.name, max_entries=MAX_MATRIX_ENTRIES)
    if source.kind == "grid":
        values = np.frombuffer(source.data, dtype=np.float64).reshape(source.shape)
        text = "\n".join(",".join(repr(float(v)) for v in row) for row in values)
        loaded = sources.load_matrix(text, name="grid.csv", max_entries=MAX_GRID_SIDE**2)
        return sources.LoadedMatrix(loaded.values, (), "grid")
    raise InputError(f"unknown matrix source {source.kind!r}")


def grid_source(values: np.ndarray) -> MatrixSource:
    """A grid source from the editor's values (float64, NaN for empty cells); checks the 30 × 30 limit."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.size == 0:
        raise InputError("The grid is empty; type at least one number.")
    m, n = values.shape
    if m > MAX_GRID_SIDE or n > MAX_GRID_SIDE:
        raise TooLargeError(
            f"The grid holds at most {MAX_GRID_SIDE} × {MAX_GRID_SIDE} values; got {m} × {n}."
        )
    return MatrixSource("grid", data=np.ascontiguousarray(values).tobytes(), shape=(m, n))


def generator_param_bounds(spec: sources.ParamSpec) -> tuple[int | float, int | float]:
    """(minimum, maximum) the page allows for a generator's setting: sizes capped at MAX_MATRIX_SIDE."""
    maximum = spec.maximum
    if spec.kind == "int" and spec.name in ("m", "n", "k", "rank"):
        maximum = min(maximum, MAX_MATRIX_SIDE)
    if spec.kind == "int":
        return int(spec.minimum), int(maximum)
    return float(spec.minimum), float(maximum)
