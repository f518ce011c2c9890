"""Rules that choose a rank from the singular values.

- ``numerical_rank``: the count of singular values above a tolerance, exactly as ``torch.linalg.matrix_rank``.
- ``rank_for_energy``: the smallest rank that keeps a fraction of ‖x‖_F².
- ``optimal_hard_threshold_rank``: Gavish & Donoho (2014), "The optimal hard threshold for singular values
  is 4/√3", IEEE Trans. Inf. Theory 60(8), for known or unknown Gaussian noise.
- ``rank_for_psnr``: the smallest rank whose truncation reaches a PSNR, predicted exactly by Eckart–Young.

Singular values come as ``S`` of shape (k,) for a matrix or (C, k) for a stack of channels that share one
rank; ``shape`` is the shape of the factorized input, (m, n) or (C, m, n).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import Tensor

from .errors import LowRankError

__all__ = [
    "numerical_tolerance",
    "numerical_rank",
    "rank_for_energy",
    "HardThreshold",
    "optimal_hard_threshold_rank",
    "optimal_threshold_coefficient",
    "marchenko_pastur_median",
    "rank_for_psnr",
]


def _eps(S: Tensor) -> float:
    """Machine epsilon of S's dtype (float32 for our factorizations)."""
    return torch.finfo(S.dtype).eps


def numerical_tolerance(S: Tensor, shape: tuple[int, ...], *, atol=None, rtol=None) -> Tensor:
    """The tolerance of ``torch.linalg.matrix_rank``: ``max(atol, rtol * σ_max)``, per channel.

    When both are None, ``rtol = eps(S.dtype) * max(m, n)``; when only ``atol`` is given (> 0), ``rtol = 0``.

    Returns
    -------
    Tensor of shape (...)
        The tolerance for each channel (a 0-d tensor for a matrix).
    """
    m, n = shape[-2:]
    if rtol is None:
        rtol = 0.0 if (atol is not None and atol > 0) else _eps(S) * max(m, n)
    if atol is None:
        atol = 0.0
    if atol < 0 or rtol < 0:
        raise LowRankError(f"tolerances must be >= 0; got atol={atol}, rtol={rtol}")
    largest = S.max(dim=-1).values if S.shape[-1] else torch.zeros(S.shape[:-1])
    return torch.clamp(rtol * largest, min=atol)


def numerical_rank(S: Tensor, shape: tuple[int, ...], *, atol=None, rtol=None) -> int | Tensor:
    """Number of singular values strictly above the ``matrix_rank`` tolerance.

    Returns an ``int`` for a single matrix and a Tensor of ranks of shape (C,) for a stack.
    """
    tol = numerical_tolerance(S, shape, atol=atol, rtol=rtol)
    ranks = (S > tol[..., None]).sum(-1)
    return int(ranks) if ranks.dim() == 0 else ranks


def _total_energy(S: Tensor, total_energy) -> float:
    """‖x‖_F² summed over channels: given, or the sum of the squared singular values."""
    if total_energy is None:
        return float((S.double() ** 2).sum())
    return float(torch.as_tensor(total_energy, dtype=torch.float64).sum())


def _kept_energy(S: Tensor) -> Tensor:
    """Squared singular values kept at ranks 0..k, summed over channels: shape (k + 1,)."""
    squared = (S.double() ** 2).reshape(-1, S.shape[-1]).sum(0)  # (k,)
    return torch.cat([squared.new_zeros(1), squared.cumsum(0)])


def rank_for_energy(S: Tensor, fraction: float, *, total_energy=None,
                    shape: tuple[int, ...] | None = None) -> int:
    """Smallest rank r whose truncation keeps at least ``fraction`` of ‖x‖_F² (over all channels).

    With ``shape`` and a complete spectrum (min(m, n) values per channel), the energy is judged against the
    spectrum's own Σσᵢ², not against a separately summed ‖x‖_F²: the two differ by float32 rounding (about
    1e-7 relatively), which would otherwise decide a target that the curve only just reaches, such as
    100 %. And 100 % is then exactly the numerical rank (``numerical_rank``, the largest over channels):
    singular values under the ``matrix_rank`` tolerance are zero as far as float32 can tell.

    Parameters
    ----------
    S : Tensor of shape (k,) or (C, k)
    fraction : float in [0, 1]
    total_energy : float or Tensor, optional
        ‖x‖_F² (per channel or summed), needed when S was truncated (randomized SVD).
    shape : tuple, optional
        The factorized input's shape, (m, n) or (C, m, n).
    """
    if not 0.0 <= fraction <= 1.0:
        raise LowRankError(f"energy fraction must be between 0 and 1; got {fraction}")
    complete = shape is not None and S.shape[-1] == min(shape[-2:])
    if complete:
        total_energy = None  # the spectrum's own Σσᵢ²
        if fraction == 1.0:
            return int(torch.as_tensor(numerical_rank(S, shape)).max())
    total = _total_energy(S, total_energy)
    if total == 0.0:
        return 0
    kept = _kept_energy(S) / total  # (k + 1,)
    # A relative slack of 1e-12 absorbs float64 rounding when fraction is exactly reachable (e.g. 1.0).
    reached = torch.nonzero(kept >= fraction - 1e-12)
    return int(reached[0]) if len(reached) else S.shape[-1]


@dataclass(frozen=True)
class HardThreshold:
    """Outcome of the optimal hard threshold rule.

    Attributes
    ----------
    rank : int
        Number of singular values above ``threshold`` (for a stack: the largest over channels).
    threshold : float
        τ, the cut-off on singular values (for a stack: per channel in ``thresholds``).
    noise_sigma : float
        σ used: given, or estimated as median(S) / sqrt(n · μ_β).
    noise_known : bool
    beta : float
        Aspect ratio min(m, n) / max(m, n).
    coefficient : float
        λ*(β) when σ is known, ω(β) = λ*(β) / sqrt(μ_β) when it is estimated.
    floored : bool
        True when τ came out below the numerical tolerance (``numerical_tolerance``) and was raised to it:
        the "noise" of an exactly low-rank matrix is float32 rounding, and values under the tolerance are
        zero as far as float32 can tell, so the rule never keeps more than the numerical rank.
    """

    rank: int
    threshold: float
    noise_sigma: float
    noise_known: bool
    beta: float
    coefficient: float
    floored: bool = False


def optimal_threshold_coefficient(beta: float) -> float:
    """λ*(β) = sqrt(2(β+1) + 8β / ((β+1) + sqrt(β² + 14β + 1))); 4/√3 for a square matrix."""
    if not 0.0 < beta <= 1.0:
        raise LowRankError(f"aspect ratio beta must be in (0, 1]; got {beta}")
    return math.sqrt(2 * (beta + 1) + 8 * beta / ((beta + 1) + math.sqrt(beta**2 + 14 * beta + 1)))


@lru_cache(maxsize=256)
def marchenko_pastur_median(beta: float, *, points: int = 20_001) -> float:
    """Median of the Marchenko–Pastur law with ratio β (variance 1), computed by quadrature.

    The density sqrt((b - t)(t - a)) / (2πβt) on [a, b] = [(1-√β)², (1+√β)²] becomes smooth under
    t = a + (b - a)(1 - cos θ)/2; the cumulative integral is taken by the trapezoid rule on θ and
    inverted by linear interpolation. Accurate to about 1e-8.
    """
    if not 0.0 < beta <= 1.0:
        raise LowRankError(f"aspect ratio beta must be in (0, 1]; got {beta}")
    a, b = (1 - math.sqrt(beta)) ** 2, (1 + math.sqrt(beta)) ** 2
    theta = torch.linspace(0.0, math.pi, points, dtype=torch.float64)
    t = a + (b - a) * (1 - torch.cos(theta)) / 2
    half_width = (b - a) / 2
    # density · dt/dθ = half_width² sin²θ / (2πβ t); at β = 1, t = half_width (1 - cos θ) and the limit at
    # θ = 0 is half_width / (πβ).
    integrand = torch.where(
        t > 0,
        half_width**2 * torch.sin(theta) ** 2 / (2 * math.pi * beta * t.clamp_min(1e-300)),
        torch.full_like(t, half_width / (math.pi * beta)),
    )
    step = theta[1] - theta[0]
    cdf = torch.cat([integrand.new_zeros(1), torch.cumsum((integrand[1:] + integrand[:-1]) / 2 * step, 0)])
    cdf = cdf / cdf[-1]  # the mass is 1 analytically; normalising removes the quadrature's tiny bias
    i = int(torch.searchsorted(cdf, torch.tensor(0.5, dtype=torch.float64)))
    fraction = (0.5 - cdf[i - 1]) / (cdf[i] - cdf[i - 1])
    return float(t[i - 1] + fraction * (t[i] - t[i - 1]))


def optimal_hard_threshold_rank(S: Tensor, shape: tuple[int, ...], *, noise_sigma=None) -> HardThreshold:
    """Rank kept by the Gavish–Donoho optimal hard threshold.

    Known noise (iid entries with standard deviation σ): τ = λ*(β) · sqrt(n) · σ, with n = max(m, n).
    Unknown noise: τ = ω(β) · median(S), ω(β) = λ*(β) / sqrt(μ_β), μ_β the Marchenko–Pastur median.
    The estimate needs the full spectrum, so pass the S of an exact SVD.

    Parameters
    ----------
    S : Tensor of shape (k,) or (C, k)
    shape : (m, n) or (C, m, n)
    noise_sigma : float, optional
    """
    m, n = shape[-2:]
    small, large = min(m, n), max(m, n)
    beta = small / large
    lam = optimal_threshold_coefficient(beta)
    S64 = S.double()
    if noise_sigma is not None:
        if not noise_sigma >= 0:
            raise LowRankError(f"noise_sigma must be >= 0; got {noise_sigma}")
        coefficient = lam
        thresholds = torch.full(S.shape[:-1], lam * math.sqrt(large) * noise_sigma, dtype=torch.float64)
        sigma = float(noise_sigma)
    else:
        if S.shape[-1] < small:
            raise LowRankError("estimating the noise needs every singular value (use the exact SVD)")
        mu = marchenko_pastur_median(beta)
        coefficient = lam / math.sqrt(mu)
        medians = S64.quantile(0.5, dim=-1)  # the true median (torch.median returns the lower middle)
        thresholds = coefficient * medians
        sigma = float((medians / math.sqrt(large * mu)).max())
    tolerance = numerical_tolerance(S, shape).double().reshape(thresholds.shape)
    floored = bool((thresholds < tolerance).any())
    thresholds = torch.maximum(thresholds, tolerance)  # never below float32's own resolution
    ranks = (S64 > thresholds[..., None]).sum(-1)
    return HardThreshold(
        rank=int(ranks.max()),
        threshold=float(thresholds.max()),
        noise_sigma=sigma,
        noise_known=noise_sigma is not None,
        beta=beta,
        coefficient=coefficient,
        floored=floored,
    )


def rank_for_psnr(S: Tensor, shape: tuple[int, ...], target_db: float, *, data_range=1.0,
                  total_energy=None) -> int:
    """Smallest rank whose truncation reaches ``target_db`` of PSNR, before clipping and quantization.

    By Eckart–Young, the squared error of the rank-r truncation is the sum of the discarded σᵢ², so
    MSE(r) = (‖x‖² - Σ_{i<r} σᵢ²) / numel and PSNR(r) = 10 log10(data_range² / MSE(r)), exactly.

    Parameters
    ----------
    S : Tensor of shape (k,) or (C, k)
    shape : the input's shape, (m, n) or (C, m, n); numel is its product.
    target_db : float
    """
    if not target_db > 0:
        raise LowRankError(f"target PSNR must be a positive number of dB; got {target_db}")
    numel = math.prod(shape)
    total = _total_energy(S, total_energy)
    mse = (total - _kept_energy(S)).clamp_min(0.0) / numel  # (k + 1,)
    needed_mse = data_range**2 / 10 ** (target_db / 10)
    reached = torch.nonzero(mse <= needed_mse)
    return int(reached[0]) if len(reached) else S.shape[-1]
