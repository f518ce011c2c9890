"""Spend a parameter budget across layers: one rank per weight, chosen to minimise the summed squared error.

Each weight W_i of shape (m_i, n_i) with singular values σ_{i,1} ≥ σ_{i,2} ≥ ... is either kept dense
(m_i·n_i numbers, no error) or factored at rank r (r·(m_i + n_i) numbers; by Eckart–Young its squared
Frobenius error is Σ_{j>r} σ_{i,j}²). Given a budget of B numbers for all the weights together:

- "greedy" minimises Σ_i error_i. Raising layer i's rank by one costs m_i + n_i numbers and removes σ_{i,r+1}²
  of error; since σ is descending, each layer's error against its cost is convex, and taking the steps in
  order of σ² per parameter is optimal at every budget it exactly spends (the Lagrangian solution of the
  knapsack). The "keep dense" option (cost m·n, error 0) is a jump at the end of each layer's curve, so the
  steps are taken along each layer's lower convex hull; the budget left at the end is then filled with the
  largest error reduction that still fits. Between the budgets it spends exactly, the greedy order can miss
  the integer optimum by about one step (hypothesis found 2- and 3-layer cases where "uniform" or "energy"
  did better). So whenever the table is small enough (``EXACT_MAX_WORK``: the digits MLP, 50 weights of
  1024×1024, and most models of regular sizes), the same objective is solved exactly instead, by dynamic
  programming over the budget in units of the greatest common divisor of the costs; only above that does the
  greedy order's answer stand. ``Allocation.solver`` says which ("exact" or "greedy").
- "uniform" gives every layer the same share s of its own parameters: r_i = ⌊s·m_i·n_i / (m_i + n_i)⌋.
- "energy" keeps the same fraction e of ‖W_i‖_F² in every layer (the smallest such rank), e as high as the
  budget allows.

Every allocation keeps at least ``min_rank`` per factored layer, and leaves a layer dense when its factors
would not hold fewer numbers than the dense weight (r(m + n) ≥ mn). A truncated spectrum (a randomized SVD
of k < min(m, n) triplets) offers ranks up to k only, since the error above k is not known from it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .errors import LowRankError, ShapeError

__all__ = [
    "ALLOCATIONS",
    "BudgetError",
    "LayerSpectrum",
    "LayerAllocation",
    "Allocation",
    "budget_parameters",
    "allocate_ranks",
    "compare_allocations",
]

ALLOCATIONS = ("greedy", "uniform", "energy")
_MAX_FILL_STEPS = 100_000  # bound on the filling loop (each step spends at least one layer's m + n)
_SEARCH_STEPS = 64  # bisection steps of the uniform share
EXACT_MAX_WORK = 200_000_000
"""The exact solver runs when (budget / g + 1) × (options of every layer) stays below this (g: the greatest
common divisor of the costs); above it the greedy answer stands."""
EXACT_MAX_TABLE = 50_000_000  # entries of the exact solver's table of choices (layers × budget columns)


class BudgetError(LowRankError):
    """A budget that cannot be met (below rank ``min_rank`` everywhere) or is not a valid number."""


@dataclass(frozen=True, eq=False)
class LayerSpectrum:
    """What the allocation needs to know of one weight: its shape as factored and its singular values.

    Attributes
    ----------
    name : str
    shape : (m, n)
        The matrix that is factored (a conv kernel (out, in, kh, kw) is (out, in·kh·kw)).
    S : Tensor of shape (k,)
        Singular values, descending; k = min(m, n) for an exact SVD, fewer for a randomized one.
    total_energy : float
        ‖W‖_F², so a truncated spectrum still knows its error at every rank up to k.
    """

    name: str
    shape: tuple[int, int]
    S: Tensor
    total_energy: float

    def __post_init__(self):
        if len(self.shape) != 2 or min(self.shape) < 1:
            raise ShapeError(f"layer {self.name!r}: shape must be (m, n) with m, n >= 1; got {self.shape}")
        S = torch.as_tensor(self.S).detach().double().cpu().reshape(-1)  # (k,)
        if S.numel() > min(self.shape):
            raise ShapeError(f"layer {self.name!r}: {S.numel()} singular values for a {self.shape} matrix")
        if not torch.isfinite(S).all() or (S < 0).any():
            raise LowRankError(f"layer {self.name!r}: singular values must be finite and >= 0")
        object.__setattr__(self, "S", S.sort(descending=True).values)
        object.__setattr__(self, "total_energy", max(float(self.total_energy), float((S**2).sum())))

    @property
    def parameters(self) -> int:
        """m·n, the dense weight's numbers."""
        return self.shape[0] * self.shape[1]

    @property
    def complete(self) -> bool:
        """True when every singular value is known (k = min(m, n))."""
        return self.S.numel() == min(self.shape)

    def squared_errors(self) -> Tensor:
        """‖W − W_r‖_F² for r = 0..k (Eckart–Young), shape (k + 1,), float64, non-increasing."""
        squared = self.S**2  # (k,)
        if self.complete:
            tail = squared.flip(0).cumsum(0).flip(0)  # Σ_{j>=r} σ_j², no cancellation
            return torch.cat([tail, tail.new_zeros(1)])
        kept = torch.cat([squared.new_zeros(1), squared.cumsum(0)])
        return (self.total_energy - kept).clamp_min(0.0)

    def largest_factored_rank(self) -> int:
        """The largest rank whose factors hold fewer numbers than the dense weight, and at most k."""
        m, n = self.shape
        return min(self.S.numel(), (m * n - 1) // (m + n))


@dataclass(frozen=True)
class LayerAllocation:
    """The rank one allocation gave one weight.

    Attributes
    ----------
    name : str
    shape : (m, n)
    rank : int
        The rank kept; min(m, n) when the layer stays dense.
    factored : bool
        False when the layer stays dense.
    parameters_before : int
        m·n.
    parameters_after : int
        r·(m + n) when factored, m·n when dense.
    squared_error : float
        ‖W − W_r‖_F² by Eckart–Young (0.0 when dense).
    relative_error : float
        ‖W − W_r‖_F / ‖W‖_F (0.0 when dense or W = 0).
    energy_kept : float
        1 − squared_error / ‖W‖_F².
    weight_energy : float
        ‖W‖_F².
    note : str
        Why a rank was clipped ("" otherwise).
    """

    name: str
    shape: tuple[int, int]
    rank: int
    factored: bool
    parameters_before: int
    parameters_after: int
    squared_error: float
    relative_error: float
    energy_kept: float
    weight_energy: float
    note: str = ""


class ParameterTotals:
    """The parameters of a result that holds ``layers`` (``Allocation``, ``checkpoint.ExportedCheckpoint``),
    summed over them: ``parameters_before`` (Σ m·n) and ``parameters_after`` (Σ r·(m + n) where factored, m·n
    where dense; an allocation's is never above its budget)."""

    layers: tuple

    @property
    def parameters_before(self) -> int:
        """Σ m·n over the layers."""
        return sum(layer.parameters_before for layer in self.layers)

    @property
    def parameters_after(self) -> int:
        """Σ of each layer's numbers after compression."""
        return sum(layer.parameters_after for layer in self.layers)


@dataclass(frozen=True)
class Allocation(ParameterTotals):
    """Ranks for every layer under one budget, by one method.

    Attributes
    ----------
    method : {"greedy", "uniform", "energy"}
    budget_parameters : int
        The numbers the weights may hold in total after compression.
    layers : tuple of LayerAllocation
        In the order the layers were given.
    solver : {"exact", "greedy", "rule"}
        For "greedy": "exact" when the dynamic programme found the integer optimum, "greedy" when the table
        was too large and the greedy order's answer stands. "rule" for the two baselines.
    """

    method: str
    budget_parameters: int
    layers: tuple[LayerAllocation, ...]
    solver: str = "rule"

    @property
    def parameters_saved(self) -> int:
        """parameters_before − parameters_after."""
        return self.parameters_before - self.parameters_after

    @property
    def total_squared_error(self) -> float:
        """Σ_i ‖W_i − W_i,r‖_F², the quantity "greedy" minimises."""
        return sum(layer.squared_error for layer in self.layers)

    @property
    def relative_error(self) -> float:
        """sqrt(Σ squared errors / Σ ‖W_i‖_F²): the error of all the weights as one vector."""
        total = sum(layer.weight_energy for layer in self.layers)
        return math.sqrt(self.total_squared_error / total) if total > 0 else 0.0

    @property
    def rank_pattern(self) -> dict[str, int]:
        """{name: rank} of the factored layers (LoRA tools' ``rank_pattern``); dense layers are absent."""
        return {layer.name: layer.rank for layer in self.layers if layer.factored}


def _check_layers(layers: Sequence[LayerSpectrum]) -> list[LayerSpectrum]:
    """A non-empty list of LayerSpectrum with distinct names."""
    layers = list(layers)
    if not layers:
        raise LowRankError("no layer to allocate a budget to")
    for layer in layers:
        if not isinstance(layer, LayerSpectrum):
            raise LowRankError(f"expected LayerSpectrum objects; got {type(layer).__name__}")
    names = [layer.name for layer in layers]
    if len(set(names)) != len(names):
        repeated = next(name for name in names if names.count(name) > 1)
        raise LowRankError(f"two layers are named {repeated!r}")
    return layers


def budget_parameters(layers: Sequence[LayerSpectrum], *, fraction: float | None = None,
                      budget_bytes: int | None = None, bytes_per_parameter: float = 4) -> int:
    """The budget in numbers: ⌊fraction · Σ m·n⌋, or ⌊budget_bytes / bytes_per_parameter⌋.

    Parameters
    ----------
    layers : sequence of LayerSpectrum
    fraction : float in (0, 1], optional
        Share of the layers' dense parameters.
    budget_bytes : int, optional
        Bytes the factored and dense weights may take, at ``bytes_per_parameter`` each (4 for float32,
        2 for float16 and bfloat16).
    """
    layers = _check_layers(layers)
    if (fraction is None) == (budget_bytes is None):
        raise BudgetError("give exactly one of fraction or budget_bytes")
    if fraction is not None:
        if not (isinstance(fraction, numbers.Real) and not isinstance(fraction, bool)
                and 0.0 < fraction <= 1.0):
            raise BudgetError(f"the budget fraction must be in (0, 1]; got {fraction!r}")
        return int(math.floor(float(fraction) * sum(layer.parameters for layer in layers)))
    if not (isinstance(bytes_per_parameter, numbers.Real) and bytes_per_parameter > 0):
        raise BudgetError(f"bytes_per_parameter must be positive; got {bytes_per_parameter!r}")
    if not (isinstance(budget_bytes, numbers.Real) and not isinstance(budget_bytes, bool)
            and math.isfinite(budget_bytes) and budget_bytes > 0):
        raise BudgetError(f"the byte budget must be a positive number of bytes; got {budget_bytes!r}")
    return int(math.floor(budget_bytes / bytes_per_parameter))


# ============================================================================================ evaluation


def _layer_result(layer: LayerSpectrum, rank: int | None, note: str = "") -> LayerAllocation:
    """The LayerAllocation of ``layer`` at ``rank`` (None: dense), clipped as the module docstring says."""
    m, n = layer.shape
    if rank is not None and rank > layer.largest_factored_rank():
        rank = None  # factors would not save: dense
    if rank is None:
        return LayerAllocation(name=layer.name, shape=layer.shape, rank=min(m, n), factored=False,
                               parameters_before=m * n, parameters_after=m * n, squared_error=0.0,
                               relative_error=0.0, energy_kept=1.0, weight_energy=layer.total_energy,
                               note=note)
    error = float(layer.squared_errors()[rank])
    total = layer.total_energy
    return LayerAllocation(
        name=layer.name, shape=layer.shape, rank=int(rank), factored=True, parameters_before=m * n,
        parameters_after=int(rank) * (m + n), squared_error=error,
        relative_error=math.sqrt(error / total) if total > 0 else 0.0,
        energy_kept=1.0 - error / total if total > 0 else 1.0, weight_energy=total, note=note,
    )


def _cost(layer: LayerSpectrum, rank: int | None) -> int:
    """Numbers of ``layer`` at ``rank`` (None, or a rank that would not save: dense)."""
    m, n = layer.shape
    if rank is None or rank > layer.largest_factored_rank():
        return m * n
    return rank * (m + n)


def _minimum_cost(layers: list[LayerSpectrum], min_rank: int) -> int:
    """The fewest numbers any allocation can spend: rank ``min_rank`` everywhere (dense where it would not
    save)."""
    return sum(_cost(layer, min_rank) for layer in layers)


# ================================================================================================ greedy


def _options(layer: LayerSpectrum, min_rank: int) -> tuple[list[int | None], Tensor, Tensor]:
    """(ranks, costs, errors) of every choice of a layer: ranks min_rank..largest factored, then dense."""
    largest = layer.largest_factored_rank()
    errors = layer.squared_errors()  # (k + 1,)
    ranks: list[int | None] = list(range(min_rank, largest + 1))
    m, n = layer.shape
    costs = torch.tensor([r * (m + n) for r in ranks] + [m * n], dtype=torch.float64)  # (P,)
    values = torch.cat([errors[min_rank:largest + 1], errors.new_zeros(1)]) if ranks else errors.new_zeros(1)
    return [*ranks, None], costs, values


def _lower_hull(costs: Tensor, errors: Tensor) -> list[int]:
    """Indices of the lower convex hull of the points (cost, error), costs increasing (monotone chain)."""
    costs, errors = costs.tolist(), errors.tolist()  # Python floats: this loop is scalar work
    hull: list[int] = []
    for index in range(len(costs)):
        while len(hull) >= 2:
            i, j = hull[-2], hull[-1]
            # j lies on or above the segment i -> index: drop it
            cross = ((costs[j] - costs[i]) * (errors[index] - errors[i])
                     - (errors[j] - errors[i]) * (costs[index] - costs[i]))
            if cross <= 0:
                hull.pop()
            else:
                break
        hull.append(index)
    return hull


def _greedy(layers: list[LayerSpectrum], budget: int, min_rank: int) -> tuple[list[int | None], bool]:
    """Ranks (None: dense) minimising Σ squared error within ``budget`` numbers, and whether they are the
    exact optimum."""
    options = [_options(layer, min_rank) for layer in layers]
    exact = _exact(options, budget)
    if exact is not None:
        return [options[i][0][exact[i]] for i in range(len(layers))], True
    position = [0] * len(layers)  # index into each layer's options
    spent = sum(float(costs[0]) for _, costs, _ in options)
    # every hull segment of every layer: (gain per number, layer, option index it reaches, extra cost)
    segments = []
    for i, (_, costs, errors) in enumerate(options):
        hull = _lower_hull(costs, errors)
        for a, b in zip(hull[:-1], hull[1:], strict=True):
            extra, gain = float(costs[b] - costs[a]), float(errors[a] - errors[b])
            if gain > 0:
                segments.append((gain / extra, i, b, extra))
    # within a layer the hull's ratios decrease, so a stable sort keeps each layer's segments in order
    segments.sort(key=lambda segment: -segment[0])
    for _, i, b, extra in segments:
        if spent + extra > budget:
            break
        if b > position[i]:
            position[i] = b
            spent += extra
    _fill(options, position, budget)
    return [options[i][0][position[i]] for i in range(len(layers))], False


def _padded(options: list) -> tuple[Tensor, Tensor]:
    """Every layer's option costs and errors as (L, P) tensors, padded with +inf costs and equal errors."""
    width = max(costs.numel() for _, costs, _ in options)
    costs = torch.full((len(options), width), math.inf, dtype=torch.float64)
    errors = torch.zeros((len(options), width), dtype=torch.float64)
    for i, (_, layer_costs, layer_errors) in enumerate(options):
        costs[i, :layer_costs.numel()] = layer_costs
        errors[i, :layer_errors.numel()] = layer_errors
        errors[i, layer_errors.numel():] = layer_errors[-1]
    return costs, errors


def _best_upgrade(costs: Tensor, errors: Tensor, position: Tensor, left: Tensor) -> tuple[Tensor, Tensor]:
    """For each layer, the gain and option of the largest error reduction costing at most ``left`` more.

    costs, errors (L, P); position (L,) long; left (L,) float64 numbers available to each layer.
    """
    rows = torch.arange(costs.shape[0])
    current_cost = costs[rows, position]  # (L,)
    reach = torch.searchsorted(costs, (current_cost + left + 1e-9)[:, None], right=True)[:, 0] - 1  # (L,)
    target = torch.maximum(reach, position)
    return errors[rows, position] - errors[rows, target], target


def _fill(options: list, position: list[int], budget: int) -> None:
    """Spend what the budget leaves on the largest error reduction that fits, until nothing fits."""
    costs, errors = _padded(options)
    rows = torch.arange(len(options))
    for _ in range(_MAX_FILL_STEPS):
        current = torch.tensor(position)
        left = budget - float(costs[rows, current].sum())
        gains, targets = _best_upgrade(costs, errors, current, torch.full((len(options),), left,
                                                                          dtype=torch.float64))
        best = int(gains.argmax())
        if not gains[best] > 0:
            return
        position[best] = int(targets[best])


def _exact(options: list, budget: int) -> list[int] | None:
    """The optimal options by dynamic programming over the budget, or None when the table would be too big.

    Costs are counted in units of their greatest common divisor g (for layers of regular sizes g is large:
    2048 for 1024×1024 weights), so the table has ⌊budget / g⌋ + 1 columns and one row per layer.
    """
    all_costs = [int(c) for _, costs, _ in options for c in costs.tolist()]
    unit = 0
    for cost in all_costs:
        unit = math.gcd(unit, cost)
    unit = max(unit, 1)
    columns = budget // unit + 1
    if columns * len(all_costs) > EXACT_MAX_WORK or columns * len(options) > EXACT_MAX_TABLE:
        return None
    best = torch.zeros(columns, dtype=torch.float64)  # least error of the layers so far within b units
    choices = []
    for _, costs, errors in options:
        new = torch.full((columns,), math.inf, dtype=torch.float64)
        choice = torch.zeros(columns, dtype=torch.int32)
        for index, (cost, error) in enumerate(zip(costs.tolist(), errors.tolist(), strict=True)):
            shift = int(cost) // unit
            if shift >= columns:
                break
            candidate = best[:columns - shift] + error  # (columns - shift,)
            better = candidate < new[shift:]  # strict: the cheaper option wins a tie
            new[shift:] = torch.where(better, candidate, new[shift:])
            choice[shift:] = torch.where(better, torch.tensor(index, dtype=torch.int32), choice[shift:])
        best = new
        choices.append(choice)
    if not math.isfinite(float(best[-1])):
        return None  # cannot happen after the minimum-cost check; keep the greedy answer
    picked, column = [], columns - 1
    for (_, costs, _), choice in zip(reversed(options), reversed(choices), strict=True):
        index = int(choice[column])
        picked.append(index)
        column -= int(costs[index]) // unit
    return picked[::-1]


# ============================================================================================= baselines


def _uniform(layers: list[LayerSpectrum], budget: int, min_rank: int) -> tuple[list, list[str]]:
    """The same share of each layer's own parameters, the largest share within the budget."""
    total = sum(layer.parameters for layer in layers)

    def ranks_at(share: float) -> tuple[list, list[str]]:
        ranks, notes = [], []
        for layer in layers:
            m, n = layer.shape
            rank = max(min_rank, int(math.floor(share * m * n / (m + n) + 1e-9)))
            note = ""
            if rank > layer.largest_factored_rank():
                if rank <= (m * n - 1) // (m + n):  # it would save, but the spectrum stops at k
                    note = f"rank {rank} clipped to {layer.S.numel()}, the singular values computed"
                    rank = layer.S.numel()
                else:
                    rank = None
            ranks.append(rank)
            notes.append(note)
        return ranks, notes

    def cost(share: float) -> int:
        return sum(_cost(layer, rank) for layer, rank in zip(layers, ranks_at(share)[0], strict=True))

    share = budget / total
    if cost(share) > budget:  # rank min_rank, dense layers or rounding took more: lower the share
        low, high = 0.0, share
        for _ in range(_SEARCH_STEPS):
            middle = (low + high) / 2
            low, high = (middle, high) if cost(middle) <= budget else (low, middle)
        share = low
    return ranks_at(share)


def _energy_ranks(layers: list[LayerSpectrum], level: float, min_rank: int) -> list[int | None]:
    """The smallest rank keeping ``level`` of each layer's energy (at least min_rank; dense if beyond k)."""
    ranks: list[int | None] = []
    for layer in layers:
        errors = layer.squared_errors()  # (k + 1,)
        total = layer.total_energy
        if total <= 0:
            ranks.append(min_rank)
            continue
        kept = 1.0 - errors / total  # (k + 1,), non-decreasing
        reached = torch.nonzero(kept >= level - 1e-12)
        ranks.append(max(min_rank, int(reached[0])) if len(reached) else None)
    return ranks


def _energy(layers: list[LayerSpectrum], budget: int, min_rank: int) -> list[int | None]:
    """The same energy fraction in every layer, the largest within the budget."""
    levels = sorted({0.0, *(float(value) for layer in layers if layer.total_energy > 0
                            for value in (1.0 - layer.squared_errors() / layer.total_energy).clamp(0, 1))})

    def cost(level: float) -> int:
        ranks = _energy_ranks(layers, level, min_rank)
        return sum(_cost(layer, rank) for layer, rank in zip(layers, ranks, strict=True))

    low, high = 0, len(levels) - 1  # cost(levels[0]) is the minimum cost, checked by the caller
    while low < high:  # the largest level whose cost fits
        middle = (low + high + 1) // 2
        low, high = (middle, high) if cost(levels[middle]) <= budget else (low, middle - 1)
    return _energy_ranks(layers, levels[low], min_rank)


# ================================================================================================ public


def allocate_ranks(layers: Sequence[LayerSpectrum], *, fraction: float | None = None,
                   budget_bytes: int | None = None, bytes_per_parameter: float = 4,
                   method: str = "greedy", min_rank: int = 1) -> Allocation:
    """Choose a rank for every layer so that the weights hold at most a budget of numbers.

    Parameters
    ----------
    layers : sequence of LayerSpectrum
        The weights to compress, each with its singular values.
    fraction : float in (0, 1], optional
        The budget as a share of Σ m·n (the layers' dense parameters).
    budget_bytes : int, optional
        The budget in bytes, at ``bytes_per_parameter`` bytes a number. Give exactly one of the two.
    method : {"greedy", "uniform", "energy"}
        See the module docstring.
    min_rank : int
        The smallest rank of a factored layer (1 by default; 0 would let an allocation drop a layer).

    Returns
    -------
    Allocation
        One LayerAllocation per layer, in order; ``parameters_after <= budget_parameters``.

    Raises
    ------
    BudgetError
        When the budget is below what rank ``min_rank`` in every layer needs.
    """
    layers = _check_layers(layers)
    if method not in ALLOCATIONS:
        raise LowRankError(f"allocation must be one of {ALLOCATIONS}; got {method!r}")
    if isinstance(min_rank, bool) or not isinstance(min_rank, numbers.Integral) or min_rank < 0:
        raise LowRankError(f"min_rank must be a whole number >= 0; got {min_rank!r}")
    min_rank = int(min_rank)
    budget = budget_parameters(layers, fraction=fraction, budget_bytes=budget_bytes,
                               bytes_per_parameter=bytes_per_parameter)
    least = _minimum_cost(layers, min_rank)
    if budget < least:
        raise BudgetError(
            f"a budget of {budget:,} numbers is below the {least:,} that rank {min_rank} in every layer "
            f"needs (of {sum(layer.parameters for layer in layers):,} dense); raise the budget"
        )
    notes = [""] * len(layers)
    solver = "rule"
    if method == "greedy":
        ranks, exact = _greedy(layers, budget, min_rank)
        solver = "exact" if exact else "greedy"
    elif method == "uniform":
        ranks, notes = _uniform(layers, budget, min_rank)
    else:
        ranks = _energy(layers, budget, min_rank)
    results = tuple(_layer_result(layer, rank, note) for layer, rank, note in zip(layers, ranks, notes,
                                                                                  strict=True))
    allocation = Allocation(method=method, budget_parameters=budget, layers=results, solver=solver)
    assert allocation.parameters_after <= budget, (method, allocation.parameters_after, budget)
    return allocation


def compare_allocations(layers: Sequence[LayerSpectrum], *, fraction: float | None = None,
                        budget_bytes: int | None = None, bytes_per_parameter: float = 4,
                        min_rank: int = 1) -> dict[str, Allocation]:
    """``allocate_ranks`` by each of ALLOCATIONS at the same budget: {method: Allocation}."""
    return {method: allocate_ranks(layers, fraction=fraction, budget_bytes=budget_bytes,
                                   bytes_per_parameter=bytes_per_parameter, method=method,
                                   min_rank=min_rank)
            for method in ALLOCATIONS}
