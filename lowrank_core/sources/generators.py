"""Seeded matrix generators and their registry.

Each generator (``notebook_matrix``, ``noisy_low_rank``, ``decaying_spectrum``, ``hilbert``...) returns a
float32 matrix of shape (m, n); the seeded ones draw from a local ``torch.Generator`` so a seed always gives
the same matrix and the global RNG is never touched. ``GENERATORS`` describes them (with their controls) for
the UI; ``generate`` calls one by name with checked settings.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .._checks import quote, real_number, whole_number
from ..errors import InputError
from ..limits import MAX_DECAY_RATE, MAX_GENERATED_SIDE, MAX_SEED

__all__ = [
    "MAX_GENERATED_SIDE",
    "MAX_SEED",
    "MAX_DECAY_RATE",
    "NOISY_SIGNAL_LARGEST",
    "NOISY_SIGNAL_SMALLEST",
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
]

NOISY_SIGNAL_LARGEST = 10.0
"""Largest singular value of the signal of ``noisy_low_rank``."""
NOISY_SIGNAL_SMALLEST = 1.0
"""Smallest singular value of the signal of ``noisy_low_rank``."""


def _side(name: str, value) -> int:
    """A matrix or image side in 1..MAX_GENERATED_SIDE."""
    return whole_number(name, value, minimum=1, maximum=MAX_GENERATED_SIDE, error=InputError)


def _generator(seed) -> torch.Generator:
    """A fresh CPU generator seeded with ``seed`` (never the global RNG)."""
    return torch.Generator().manual_seed(whole_number("seed", seed, minimum=0, maximum=MAX_SEED,
                                                      error=InputError))


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
    Tensor of shape (m, n), float32, of rank min(k, m, n)
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
    noise_sigma = real_number("noise_sigma", noise_sigma, minimum=0.0, maximum=math.inf, error=InputError)
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
    rate = real_number("rate", rate, minimum=0.0, maximum=MAX_DECAY_RATE, error=InputError)
    k = min(m, n)
    i = torch.arange(k, dtype=torch.float64)  # (k,)
    if decay == "exponential":
        s = torch.exp(-rate * i)
    elif decay == "power":
        s = (i + 1) ** -rate
    else:
        raise InputError(f"decay must be 'exponential' or 'power'; got {quote(decay)}.")
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


def _decaying(decay: str, label: str, rate_label: str, rate: float, description: str) -> GeneratorSpec:
    """A seeded 100 × 100 ``decaying_spectrum`` whose rate control starts at ``rate``."""
    function = functools.partial(decaying_spectrum, decay=decay, rate=rate)
    rate_param = ParamSpec("rate", rate_label, rate, 0.0, MAX_DECAY_RATE, "float")
    params = (*_sides(100, 100), rate_param)
    return GeneratorSpec(f"decay-{decay}", label, function, params, True, description)


def _square(name: str, label: str, function: Callable[..., Tensor], description: str) -> GeneratorSpec:
    """An unseeded generator of an n × n matrix, n = 10 by default."""
    return GeneratorSpec(name, label, function, (ParamSpec("n", "Size n", 10, 1, MAX_GENERATED_SIDE, "int"),),
                         False, description)


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
    _decaying("exponential", "Exponentially decaying spectrum", "Decay rate", 0.1,
              "Singular values exp(-rate · i): each extra rank divides the error by the same factor."),
    _decaying("power", "Power-law decaying spectrum", "Decay exponent", 1.0,
              "Singular values (i + 1)^(-rate): slow decay, like many natural images."),
    _square("hilbert", "Hilbert matrix", hilbert,
            "H_ij = 1/(i + j + 1): full rank in exact arithmetic, numerically of low rank."),
    _square("identity", "Identity", identity,
            "Every singular value is 1: no rank below n approximates it well."),
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
        raise InputError(f"Unknown generator {quote(name)}; choose one of {', '.join(GENERATORS)}.")
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
        check = whole_number if p.kind == "int" else real_number
        values[key] = check(key, value, minimum=p.minimum, maximum=p.maximum, error=InputError)
    return spec.function(**values)
