"""The parameter budget across layers, checked against numpy float64, brute force and the two baselines."""

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lowrank_core import allocation as allocation_module
from lowrank_core.allocation import (
    ALLOCATIONS,
    BudgetError,
    LayerSpectrum,
    allocate_ranks,
    budget_parameters,
    compare_allocations,
)
from lowrank_core.budget_study import model_spectra
from lowrank_core.errors import LowRankError, ShapeError
from lowrank_core.training import make_mlp


def _spectrum(name: str, W: np.ndarray) -> LayerSpectrum:
    S = np.linalg.svd(W, compute_uv=False)  # float64, LAPACK
    return LayerSpectrum(name, W.shape, torch.from_numpy(S), float((W**2).sum()))


def _numpy_squared_error(W: np.ndarray, rank: int) -> float:
    """‖W − W_r‖_F² of numpy's own float64 truncation."""
    U, S, Vh = np.linalg.svd(W, full_matrices=False)
    W_r = (U[:, :rank] * S[:rank]) @ Vh[:rank]
    return float(((W - W_r) ** 2).sum())


@st.composite
def spectra(draw, *, max_side: int = 12, max_layers: int = 4):
    """1..max_layers layers of random shapes with random non-negative spectra (ties and zeros included)."""
    layers = []
    for i in range(draw(st.integers(1, max_layers))):
        m, n = draw(st.integers(2, max_side)), draw(st.integers(2, max_side))
        values = draw(st.lists(st.floats(0, 10, allow_nan=False, allow_infinity=False),
                               min_size=min(m, n), max_size=min(m, n)))
        S = torch.tensor(sorted(values, reverse=True), dtype=torch.float64)
        layers.append(LayerSpectrum(f"layer{i}", (m, n), S, float((S**2).sum())))
    return layers


def _brute_force(layers, budget: int, min_rank: int = 1) -> float:
    """The least Σ squared error over every choice of rank (or dense) per layer within the budget."""
    choices = []
    for layer in layers:
        m, n = layer.shape
        errors = layer.squared_errors()
        options = [(r * (m + n), float(errors[r])) for r in range(min_rank, min(m, n) + 1)
                   if r * (m + n) < m * n]
        options.append((m * n, 0.0))
        choices.append(options)
    best = math.inf
    for combination in itertools.product(*choices):
        if sum(cost for cost, _ in combination) <= budget:
            best = min(best, sum(error for _, error in combination))
    return best


# =========================================================================================== properties


@settings(max_examples=300, deadline=None)
@given(layers=spectra(), fraction=st.floats(0.01, 1.0))
def test_greedy_never_worse_than_either_baseline_at_the_same_budget(layers, fraction):
    try:
        results = compare_allocations(layers, fraction=fraction)
    except BudgetError:
        return  # below rank 1 everywhere: refused for every method alike
    tolerance = 1e-9 * max(1.0, sum(layer.total_energy for layer in layers))
    greedy = results["greedy"]
    for name in ("uniform", "energy"):
        assert results[name].budget_parameters == greedy.budget_parameters
        assert greedy.total_squared_error <= results[name].total_squared_error + tolerance, name
    for result in results.values():
        assert result.parameters_after <= result.budget_parameters


@settings(max_examples=200, deadline=None)
@given(layers=spectra(max_side=6, max_layers=3), fraction=st.floats(0.05, 1.0))
def test_greedy_is_the_brute_force_optimum(layers, fraction):
    budget = budget_parameters(layers, fraction=fraction)
    try:
        greedy = allocate_ranks(layers, fraction=fraction)
    except BudgetError:
        return
    assert greedy.solver == "exact"
    optimum = _brute_force(layers, budget)
    assert greedy.total_squared_error == pytest.approx(optimum, rel=1e-9, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(layers=spectra(max_side=6, max_layers=3), fraction=st.floats(0.05, 1.0))
def test_greedy_order_alone_stays_within_budget_and_above_the_optimum(layers, fraction):
    """With the exact solver switched off, the greedy answer stands: feasible, never below the optimum."""
    try:
        exact = allocate_ranks(layers, fraction=fraction)
    except BudgetError:
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(allocation_module, "EXACT_MAX_WORK", 0)
        greedy = allocate_ranks(layers, fraction=fraction)
    assert greedy.solver == "greedy"
    assert greedy.parameters_after <= greedy.budget_parameters
    assert greedy.total_squared_error >= exact.total_squared_error - 1e-9


@pytest.mark.parametrize("fraction", [0.05, 0.1, 0.2, 0.35, 0.5])
def test_greedy_order_alone_beats_the_baselines_on_the_digits_mlp(fraction, monkeypatch):
    """The greedy order without the exact solver, on the shipped MLP's weights (seeded init)."""
    layers = model_spectra(make_mlp(seed=3))
    monkeypatch.setattr(allocation_module, "EXACT_MAX_WORK", 0)
    results = compare_allocations(layers, fraction=fraction)
    assert results["greedy"].solver == "greedy"
    for name in ("uniform", "energy"):
        assert results["greedy"].total_squared_error <= results[name].total_squared_error


# ============================================================================== against numpy float64


@pytest.mark.parametrize("method", ALLOCATIONS)
def test_per_layer_errors_match_numpy_float64(method):
    rng = np.random.default_rng(0)
    weights = {"a": rng.normal(size=(40, 30)),
               "b": rng.normal(size=(25, 60)) @ np.diag(np.geomspace(1, 1e-3, 60)),
               "c": rng.normal(size=(12, 8))}
    layers = [_spectrum(name, W) for name, W in weights.items()]
    result = allocate_ranks(layers, fraction=0.3, method=method)
    for layer in result.layers:
        W = weights[layer.name]
        expected = _numpy_squared_error(W, layer.rank) if layer.factored else 0.0
        assert layer.squared_error == pytest.approx(expected, rel=1e-9, abs=1e-9)
        assert layer.relative_error == pytest.approx(math.sqrt(expected / (W**2).sum()), rel=1e-9, abs=1e-12)
        m, n = W.shape
        assert layer.parameters_after == (layer.rank * (m + n) if layer.factored else m * n)
    total = sum(float((W**2).sum()) for W in weights.values())
    assert result.relative_error == pytest.approx(math.sqrt(result.total_squared_error / total))
    assert result.parameters_saved == result.parameters_before - result.parameters_after


def test_uniform_gives_each_layer_the_same_share_of_its_own_parameters():
    rng = np.random.default_rng(1)
    layers = [_spectrum("a", rng.normal(size=(100, 100))), _spectrum("b", rng.normal(size=(50, 200)))]
    result = allocate_ranks(layers, fraction=0.2, method="uniform")
    assert [layer.rank for layer in result.layers] == [10, 8]  # ⌊0.2·mn/(m+n)⌋: 10 and 8


def test_energy_keeps_the_same_fraction_in_every_layer():
    S = torch.tensor([4.0, 2.0, 1.0, 1.0])
    layers = [LayerSpectrum("a", (20, 20), S, float((S**2).sum())),
              LayerSpectrum("b", (20, 20), S * 3, float((S * 3).pow(2).sum()))]
    result = allocate_ranks(layers, fraction=0.5, method="energy")
    assert result.layers[0].rank == result.layers[1].rank
    assert result.layers[0].energy_kept == pytest.approx(result.layers[1].energy_kept)


def test_a_layer_is_left_dense_when_factoring_would_not_save():
    layers = [LayerSpectrum("tiny", (2, 2), torch.tensor([3.0, 1.0]), 10.0),
              LayerSpectrum("big", (50, 50), torch.linspace(5, 0.1, 50), float(torch.linspace(5, 0.1, 50)
                                                                               .pow(2).sum()))]
    result = allocate_ranks(layers, fraction=0.5)
    tiny = result.layers[0]
    assert not tiny.factored and tiny.rank == 2 and tiny.parameters_after == 4 and tiny.squared_error == 0
    assert "tiny" not in result.rank_pattern and result.rank_pattern["big"] == result.layers[1].rank


def test_greedy_takes_the_larger_sigma_squared_per_parameter_first():
    """Two layers with one large singular value each: the cheaper one per unit of error goes first."""
    cheap = LayerSpectrum("cheap", (10, 10), torch.tensor([5.0] + [0.1] * 9), 25.09)
    costly = LayerSpectrum("costly", (100, 100), torch.tensor([5.0] + [0.1] * 99), 25.99)
    result = allocate_ranks([cheap, costly], fraction=0.1, min_rank=0)
    assert result.layers[0].rank >= 1


def test_a_truncated_spectrum_offers_ranks_up_to_k_only():
    S = torch.linspace(10, 1, 20, dtype=torch.float64)
    layer = LayerSpectrum("r", (400, 400), S, float((S**2).sum()) + 500.0)  # 20 of 400 values known
    for method in ALLOCATIONS:
        result = allocate_ranks([layer], fraction=0.5, method=method)
        assert result.layers[0].rank <= 20 or not result.layers[0].factored
    uniform = allocate_ranks([layer], fraction=0.5, method="uniform").layers[0]
    assert uniform.rank == 20 and "clipped" in uniform.note


def test_byte_budget_counts_bytes_per_parameter():
    layers = [LayerSpectrum("a", (100, 100), torch.linspace(5, 0.1, 100), 900.0)]
    assert budget_parameters(layers, budget_bytes=8000, bytes_per_parameter=2) == 4000
    assert allocate_ranks(layers, budget_bytes=8000, bytes_per_parameter=2).parameters_after <= 4000


def test_a_digits_allocation_for_real_weights_is_solved_exactly():
    result = allocate_ranks(model_spectra(make_mlp()), fraction=0.2)
    assert result.solver == "exact" and result.parameters_after <= result.budget_parameters


# ============================================================================================ validation


def _two_layers():
    return [LayerSpectrum("a", (10, 10), torch.ones(10), 10.0),
            LayerSpectrum("b", (8, 6), torch.ones(6), 6.0)]


def test_budget_below_rank_one_everywhere_is_refused():
    with pytest.raises(BudgetError, match="below the 34"):
        allocate_ranks(_two_layers(), fraction=0.01)


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5, math.nan, True])
def test_bad_fraction_is_refused(fraction):
    with pytest.raises(BudgetError, match="fraction"):
        allocate_ranks(_two_layers(), fraction=fraction)


def test_fraction_and_bytes_together_are_refused():
    with pytest.raises(BudgetError, match="exactly one"):
        allocate_ranks(_two_layers(), fraction=0.5, budget_bytes=100)


def test_no_budget_is_refused():
    with pytest.raises(BudgetError, match="exactly one"):
        allocate_ranks(_two_layers())


def test_unknown_allocation_is_refused():
    with pytest.raises(LowRankError, match="'best'"):
        allocate_ranks(_two_layers(), fraction=0.5, method="best")


def test_negative_min_rank_is_refused():
    with pytest.raises(LowRankError, match="min_rank"):
        allocate_ranks(_two_layers(), fraction=0.5, min_rank=-1)


def test_duplicate_layer_names_are_refused():
    layer = _two_layers()[0]
    with pytest.raises(LowRankError, match="two layers are named 'a'"):
        allocate_ranks([layer, layer], fraction=0.5)


def test_no_layer_is_refused():
    with pytest.raises(LowRankError, match="no layer"):
        allocate_ranks([], fraction=0.5)


def test_more_singular_values_than_the_shape_allows_are_refused():
    with pytest.raises(ShapeError, match="3 singular values"):
        LayerSpectrum("a", (2, 5), torch.ones(3), 3.0)


def test_negative_singular_values_are_refused():
    with pytest.raises(LowRankError, match=">= 0"):
        LayerSpectrum("a", (2, 5), torch.tensor([1.0, -1.0]), 2.0)
