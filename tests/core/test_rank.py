"""rank.py against torch.linalg.matrix_rank, numpy cumulative energies, scipy quadrature and the
Gavish–Donoho paper."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, optimize

from lowrank_core.errors import LowRankError
from lowrank_core.factorize import factorize
from lowrank_core.metrics import psnr
from lowrank_core.rank import (
    HardThreshold,
    marchenko_pastur_median,
    numerical_rank,
    numerical_tolerance,
    optimal_hard_threshold_rank,
    optimal_threshold_coefficient,
    rank_for_energy,
    rank_for_psnr,
)
from lowrank_core.sources import notebook_matrix

DTYPES = [torch.float32, torch.float64]


def _orthonormal(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    q, _ = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q


def _matrices() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2024)
    low = lambda m, n, k: rng.random((m, k)) @ rng.random((k, n))  # noqa: E731
    return {
        "notebook": low(15, 15, 4),
        "tall_rank7": low(60, 25, 7),
        "wide_rank2": low(8, 50, 2),
        "full": rng.standard_normal((30, 20)),
        "nearly_full": low(40, 40, 39),
        "identity": np.eye(12),
        "zeros": np.zeros((5, 9)),
        "row": rng.random((1, 30)),
        "hilbert": 1.0 / (np.arange(1, 13)[:, None] + np.arange(12)[None, :]),
        "stack": np.stack([low(20, 30, 3), low(20, 30, 11), np.zeros((20, 30))]),
    }


MATRICES = _matrices()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(MATRICES))
def test_numerical_rank_equals_matrix_rank(name, dtype):
    x = torch.from_numpy(MATRICES[name]).to(dtype)
    f = factorize(x)
    expected = torch.linalg.matrix_rank(x.float())  # the engine computes in float32: same input
    rank = numerical_rank(f.S, tuple(x.shape))
    if x.dim() == 2:
        assert isinstance(rank, int)
        assert rank == int(expected)
    else:
        assert torch.equal(rank, expected)


@pytest.mark.parametrize(
    "tolerance",
    [{"atol": 1e-3}, {"rtol": 1e-2}, {"atol": 0.5, "rtol": 1e-3}, {"atol": 0.0}, {"rtol": 0.0},
     {"atol": 1e9}],
    ids=["atol", "rtol", "both", "atol0", "rtol0", "huge"],
)
@pytest.mark.parametrize("name", ["hilbert", "tall_rank7", "full", "stack", "zeros"])
def test_numerical_rank_with_tolerances_equals_matrix_rank(name, tolerance):
    x = torch.from_numpy(MATRICES[name]).float()
    f = factorize(x)
    expected = torch.linalg.matrix_rank(x, **tolerance)
    rank = numerical_rank(f.S, tuple(x.shape), **tolerance)
    assert torch.equal(torch.as_tensor(rank), expected)


def test_negative_tolerance_is_refused():
    f = factorize(torch.rand(5, 5))
    with pytest.raises(LowRankError):
        numerical_rank(f.S, (5, 5), atol=-1.0)


def _numpy_energy_rank(x: np.ndarray, fraction: float) -> int:
    """Smallest r whose leading σ² (summed over channels) hold ``fraction`` of the total, in float64."""
    s2 = (np.linalg.svd(x, compute_uv=False) ** 2).reshape(-1, min(x.shape[-2:])).sum(0)
    total = s2.sum()
    if total == 0:
        return 0
    kept = np.concatenate([[0.0], np.cumsum(s2)]) / total
    return int(np.argmax(kept >= fraction - 1e-12))


@pytest.mark.parametrize("fraction", [0.0, 0.5, 0.9, 0.99, 0.999, 1.0])
@pytest.mark.parametrize("name", ["notebook", "tall_rank7", "full", "hilbert", "stack", "zeros", "row"])
def test_rank_for_energy_matches_numpy(name, fraction):
    x = MATRICES[name]
    f = factorize(torch.from_numpy(x))
    assert rank_for_energy(f.S, fraction) == _numpy_energy_rank(x, fraction)


def test_rank_for_energy_edges():
    f = factorize(torch.from_numpy(MATRICES["full"]))
    assert rank_for_energy(f.S, 0.0) == 0
    assert rank_for_energy(f.S, 1.0) == 20  # full rank: every σ is needed
    g = factorize(torch.from_numpy(MATRICES["notebook"]))
    assert rank_for_energy(g.S, 1.0) == 4  # rank 4: the float32 noise beyond σ₄ is below 1e-12 of the energy


@pytest.mark.parametrize("seed", range(10))
def test_all_the_energy_is_the_numerical_rank_whatever_the_seed(seed):
    """Issue 12: against the separately summed ‖x‖² (float32 rounding apart from ΣS²), 100 % gave 15 or 4."""
    W = notebook_matrix(15, 15, 4, seed=seed)
    f = factorize(W)
    expected = int(torch.linalg.matrix_rank(W))
    assert expected == 4
    assert rank_for_energy(f.S, 1.0, total_energy=f.total_energy, shape=f.shape) == expected
    assert rank_for_energy(f.S, 0.999999, total_energy=f.total_energy, shape=f.shape) <= expected


def test_all_the_energy_of_a_stack_is_its_largest_numerical_rank():
    x = torch.stack([notebook_matrix(12, 9, 2, seed=1), notebook_matrix(12, 9, 5, seed=2)])
    f = factorize(x)
    assert rank_for_energy(f.S, 1.0, total_energy=f.total_energy, shape=f.shape) == 5


def test_rank_for_energy_of_a_truncated_spectrum_uses_the_total():
    x = MATRICES["full"]
    f = factorize(torch.from_numpy(x), max_rank=5)
    expected = _numpy_energy_rank(x, 0.3)
    assert expected <= 5
    assert rank_for_energy(f.S, 0.3, total_energy=f.total_energy) == expected


@pytest.mark.parametrize("fraction", [-0.1, 1.5, float("nan")])
def test_rank_for_energy_refuses_bad_fractions(fraction):
    f = factorize(torch.rand(6, 6))
    with pytest.raises(LowRankError):
        rank_for_energy(f.S, fraction)


# ------------------------------------------------------------------------- Marchenko–Pastur and ω(β)


def _scipy_marchenko_pastur_median(beta: float) -> float:
    low, high = (1 - math.sqrt(beta)) ** 2, (1 + math.sqrt(beta)) ** 2

    def density(t):
        return math.sqrt(max((high - t) * (t - low), 0.0)) / (2 * math.pi * beta * t)

    def cdf(t):
        return integrate.quad(density, low, t, epsabs=1e-13, epsrel=1e-13, limit=200)[0]

    return optimize.brentq(lambda t: cdf(t) - 0.5, low, high, xtol=1e-14)


@pytest.mark.parametrize("beta", [0.01, 0.1, 0.25, 1 / 3, 0.5, 0.75, 0.9, 1.0])
def test_marchenko_pastur_median_matches_scipy(beta):
    assert marchenko_pastur_median(beta) == pytest.approx(_scipy_marchenko_pastur_median(beta), abs=1e-6)


def test_optimal_threshold_coefficient_of_a_square_matrix_is_four_over_root_three():
    assert optimal_threshold_coefficient(1.0) == pytest.approx(4 / math.sqrt(3), rel=1e-12)


@pytest.mark.parametrize("beta", [0.05, 0.2, 0.4, 0.6, 0.8, 1.0])
def test_omega_is_close_to_the_papers_cubic(beta):
    omega = optimal_threshold_coefficient(beta) / math.sqrt(marchenko_pastur_median(beta))
    cubic = 0.56 * beta**3 - 0.95 * beta**2 + 1.82 * beta + 1.43
    assert abs(omega - cubic) <= 0.02


@pytest.mark.parametrize("beta", [0.0, -0.5, 1.5])
def test_aspect_ratio_out_of_range_is_refused(beta):
    with pytest.raises(LowRankError):
        marchenko_pastur_median(beta)


# ------------------------------------------------------------------------- optimal hard threshold


def _signal_plus_noise(m: int, n: int, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    signal = (_orthonormal(m, 10, rng) * np.arange(1.0, 11.0)) @ _orthonormal(n, 10, rng).T
    return signal + sigma * rng.standard_normal((m, n))


@pytest.mark.parametrize("shape", [(200, 200), (300, 100), (100, 300)])
def test_optimal_hard_threshold_finds_the_signal_rank(shape):
    x = _signal_plus_noise(*shape, sigma=0.01, seed=sum(shape))
    f = factorize(torch.from_numpy(x))
    known = optimal_hard_threshold_rank(f.S, shape, noise_sigma=0.01)
    unknown = optimal_hard_threshold_rank(f.S, shape)
    assert isinstance(known, HardThreshold)
    assert known.rank == 10 and known.noise_known
    assert unknown.rank == 10 and not unknown.noise_known
    assert abs(unknown.noise_sigma - 0.01) <= 0.1 * 0.01
    beta = min(shape) / max(shape)
    assert known.beta == pytest.approx(beta)
    # the known-noise threshold is λ*(β) √max(m, n) σ (paper, eq. 3)
    expected = optimal_threshold_coefficient(beta) * math.sqrt(max(shape)) * 0.01
    assert known.threshold == pytest.approx(expected)
    # the unknown-noise threshold is ω(β) times the numpy median singular value (paper, eq. 4)
    median = float(np.median(np.linalg.svd(x, compute_uv=False)))
    assert unknown.threshold == pytest.approx(unknown.coefficient * median, rel=1e-5)


def test_optimal_hard_threshold_on_pure_noise_keeps_nothing():
    rng = np.random.default_rng(3)
    x = 0.01 * rng.standard_normal((150, 150))
    f = factorize(torch.from_numpy(x))
    assert optimal_hard_threshold_rank(f.S, x.shape, noise_sigma=0.01).rank == 0


def test_optimal_hard_threshold_needs_the_full_spectrum_to_estimate_noise():
    f = factorize(torch.rand(40, 30), max_rank=5)
    with pytest.raises(LowRankError):
        optimal_hard_threshold_rank(f.S, (40, 30))


def test_negative_noise_is_refused():
    f = factorize(torch.rand(10, 10))
    with pytest.raises(LowRankError):
        optimal_hard_threshold_rank(f.S, (10, 10), noise_sigma=-0.1)


# ------------------------------------------------------------------------- rank for a PSNR


def _smooth_image(channels: int, height: int = 48, width: int = 64) -> np.ndarray:
    """A smooth image in [0, 1] with a decaying spectrum, plus a little texture."""
    rng = np.random.default_rng(channels)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    planes = []
    for c in range(channels):
        blob = np.exp(-((xx - 0.4) ** 2 + (yy - 0.3) ** 2) * 20)
        plane = 0.5 + 0.3 * np.sin(6 * xx + c) * np.cos(4 * yy) + 0.2 * blob
        planes.append(np.clip(plane + 0.02 * rng.standard_normal((height, width)), 0, 1))
    return np.stack(planes) if channels > 1 else planes[0]


@pytest.mark.parametrize("target", [20.0, 28.0, 33.0, 40.0])
@pytest.mark.parametrize("channels", [1, 3])
def test_rank_for_psnr_reaches_the_target_and_one_less_does_not(channels, target):
    image = torch.from_numpy(_smooth_image(channels))
    f = factorize(image)
    r = rank_for_psnr(f.S, tuple(image.shape), target, total_energy=f.total_energy)
    assert 1 <= r <= f.max_rank
    assert psnr(image, f.reconstruct(r)) >= target
    assert psnr(image, f.reconstruct(r - 1)) < target


def test_rank_for_psnr_respects_data_range():
    image = torch.from_numpy(_smooth_image(1))
    f = factorize(image * 255)
    r = rank_for_psnr(f.S, tuple(image.shape), 30.0, data_range=255.0)
    assert psnr(image * 255, f.reconstruct(r), data_range=255.0) >= 30.0
    assert r == rank_for_psnr(factorize(image).S, tuple(image.shape), 30.0)


@pytest.mark.parametrize("target", [0.0, -5.0])
def test_rank_for_psnr_refuses_a_non_positive_target(target):
    f = factorize(torch.rand(12, 12))
    with pytest.raises(LowRankError):
        rank_for_psnr(f.S, (12, 12), target)


@pytest.mark.parametrize("seed", range(10))
def test_the_hard_threshold_keeps_no_more_than_the_numerical_rank(seed):
    """Issue 12: on the exactly rank-4 notebook matrix the estimated "noise" is float32 rounding, and τ
    from its median fell below the rounding level: it kept 5."""
    W = notebook_matrix(15, 15, 4, seed=seed)
    f = factorize(W)
    result = optimal_hard_threshold_rank(f.S, f.shape)
    assert result.rank == int(torch.linalg.matrix_rank(W)) == 4
    assert result.floored and result.threshold >= float(numerical_tolerance(f.S, f.shape))
