"""The digits MLP under a parameter budget: test accuracy for each allocation, with and without a fine-tune.

For each seed a 64 → 128 → 64 → 10 MLP is trained (``training.train_mlp``); its three weights are given a
budget (a share of their 17,024 numbers) by each allocation of ``lowrank_core.allocation``, compressed to
those ranks (``LowRankLinear`` from an exact SVD; a layer the allocation leaves dense stays an
``nn.Linear``), and measured on the test split; then the factors a and b alone are fine-tuned for a few
epochs (biases and dense layers frozen) and measured again. The spread over seeds shows how much of a
difference between allocations is noise.
"""

from __future__ import annotations

import copy
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from torch import nn

from .allocation import ALLOCATIONS, Allocation, LayerSpectrum, allocate_ranks
from .errors import LowRankError
from .factorize import factorize
from .layers import LowRankLinear
from .training import DigitsSplit, accuracy, fit_model, split_digits, train_mlp

__all__ = [
    "DEFAULT_BUDGET_FRACTIONS",
    "model_spectra",
    "compress_with_allocation",
    "BudgetPoint",
    "BudgetStudy",
    "digits_budget_study",
]

DEFAULT_BUDGET_FRACTIONS = (0.05, 0.1, 0.2, 0.35, 0.5)


def model_spectra(model: nn.Module) -> list[LayerSpectrum]:
    """The exact spectrum of every ``nn.Linear`` weight, named as in the state dict (``"0.weight"``)."""
    spectra = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            factorization = factorize(module.weight.detach(), method="exact", device=module.weight.device)
            key = f"{name}.weight" if name else "weight"
            spectra.append(LayerSpectrum(key, tuple(module.weight.shape), factorization.S.cpu(),
                                         float(factorization.total_energy.cpu())))
    if not spectra:
        raise LowRankError("the model has no torch.nn.Linear layer")
    return spectra


def compress_with_allocation(model: nn.Module, allocation: Allocation) -> nn.Module:
    """A deep copy of ``model`` with each factored layer of ``allocation`` a rank-r ``LowRankLinear``.

    Layer names are state-dict names of weights (``"0.weight"``, as ``model_spectra`` gives); a layer the
    allocation leaves dense is kept as it is. ``model`` is not modified.
    """
    compressed = copy.deepcopy(model)
    for layer in allocation.layers:
        if not layer.factored:
            continue
        prefix = layer.name.removesuffix(".weight")
        try:
            linear = compressed.get_submodule(prefix) if layer.name != "weight" else compressed
        except AttributeError as err:
            raise LowRankError(f"the model has no layer {prefix!r} for {layer.name!r}") from err
        if not isinstance(linear, nn.Linear):
            raise LowRankError(f"{prefix!r} is a {type(linear).__name__}, not an nn.Linear")
        replacement = LowRankLinear.from_linear(linear, layer.rank)
        if layer.name == "weight":
            return replacement
        parent_name, _, child = prefix.rpartition(".")
        parent = compressed.get_submodule(parent_name) if parent_name else compressed
        setattr(parent, child, replacement)
    return compressed


def _finetune_factors(model: nn.Module, split: DigitsSplit, *, epochs: int, lr: float, seed: int,
                      threads: int | None) -> nn.Module:
    """Train only the a and b of the LowRankLinear layers (in place); a model with none is returned as is."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    factors = [parameter for module in model.modules() if isinstance(module, LowRankLinear)
               for parameter in (module.a, module.b)]
    if not factors:
        return model
    for parameter in factors:
        parameter.requires_grad_(True)
    return fit_model(model, split, epochs=epochs, batch_size=64, lr=lr, seed=seed, progress=None,
                threads=threads).model


@dataclass(frozen=True)
class BudgetPoint:
    """Test accuracy of one allocation at one budget, over seeds.

    Attributes
    ----------
    allocation : {"greedy", "uniform", "energy"}
    fraction : float
        The budget as a share of the weights' dense parameters.
    finetuned : bool
        True after the short fine-tune of the factors.
    accuracies : tuple of float
        One per seed, in the order of ``BudgetStudy.seeds``.
    parameters : tuple of int
        The weights' numbers after compression, per seed.
    relative_errors : tuple of float
        The allocation's weight error sqrt(Σ‖W − W_r‖² / Σ‖W‖²), per seed (before any fine-tune).
    ranks : tuple of dict
        The allocation's ranks per seed ({weight name: rank}, min(m, n) for a dense layer).
    """

    allocation: str
    fraction: float
    finetuned: bool
    accuracies: tuple[float, ...]
    parameters: tuple[int, ...]
    relative_errors: tuple[float, ...]
    ranks: tuple[dict, ...]

    @property
    def mean(self) -> float:
        """Mean accuracy over the seeds."""
        return statistics.fmean(self.accuracies)

    @property
    def std(self) -> float:
        """Sample standard deviation of the accuracy over the seeds (0.0 for one seed)."""
        return statistics.stdev(self.accuracies) if len(self.accuracies) > 1 else 0.0

    @property
    def minimum(self) -> float:
        return min(self.accuracies)

    @property
    def maximum(self) -> float:
        return max(self.accuracies)


@dataclass(frozen=True)
class BudgetStudy:
    """Accuracy against budget for several allocations and seeds.

    Attributes
    ----------
    seeds : tuple of int
    fractions : tuple of float
    dense_accuracies : tuple of float
        The uncompressed model's test accuracy per seed.
    dense_parameters : int
        The weights' dense numbers (Σ m·n; biases not counted).
    points : tuple of BudgetPoint
    finetune_epochs : int
    """

    seeds: tuple[int, ...]
    fractions: tuple[float, ...]
    dense_accuracies: tuple[float, ...]
    dense_parameters: int
    points: tuple[BudgetPoint, ...]
    finetune_epochs: int

    def point(self, allocation: str, fraction: float, *, finetuned: bool = False) -> BudgetPoint:
        """The point of one allocation, budget and fine-tune setting."""
        for point in self.points:
            if (point.allocation == allocation and math.isclose(point.fraction, fraction)
                    and point.finetuned == finetuned):
                return point
        raise LowRankError(f"no point for {allocation!r} at {fraction} (finetuned={finetuned})")


def digits_budget_study(*, fractions: Sequence[float] = DEFAULT_BUDGET_FRACTIONS,
                        allocations: Sequence[str] = ALLOCATIONS, seeds: Sequence[int] = (0, 1, 2),
                        train_epochs: int = 20, finetune_epochs: int = 5, finetune_lr: float = 1e-3,
                        split: DigitsSplit | None = None, device=None, threads: int | None = 1,
                        progress: Callable[[float], None] | None = None) -> BudgetStudy:
    """Train the digits MLP once per seed and measure every allocation at every budget.

    Parameters
    ----------
    fractions : budgets as shares of the weights' dense parameters, each in (0, 1].
    allocations : any of ALLOCATIONS.
    seeds : one trained model per seed (init and batch order); the split is the same for all.
    train_epochs : epochs of ``train_mlp``.
    finetune_epochs : epochs of the fine-tune of the factors (0: no fine-tuned points).
    finetune_lr : Adam's learning rate for it.
    split : default ``split_digits()``.
    device, threads : as for ``train_mlp``.
    progress : called with the fraction done after each seed.

    Returns
    -------
    BudgetStudy
        Points for every allocation × fraction × (not fine-tuned, fine-tuned).
    """
    fractions = tuple(float(f) for f in fractions)
    if not fractions or not all(0.0 < f <= 1.0 for f in fractions):
        raise LowRankError(f"budget fractions must lie in (0, 1]; got {fractions}")
    unknown = [name for name in allocations if name not in ALLOCATIONS]
    if unknown or not allocations:
        raise LowRankError(f"allocations must be among {ALLOCATIONS}; got {list(allocations)}")
    seeds = tuple(int(seed) for seed in seeds)
    if not seeds:
        raise LowRankError("give at least one seed")
    if isinstance(finetune_epochs, bool) or int(finetune_epochs) != finetune_epochs or finetune_epochs < 0:
        raise LowRankError(f"finetune_epochs must be a whole number >= 0; got {finetune_epochs!r}")
    split = split_digits() if split is None else split
    settings = [(a, f, tuned) for a in allocations for f in fractions
                for tuned in ((False, True) if finetune_epochs > 0 else (False,))]
    results = {setting: {"accuracies": [], "parameters": [], "errors": [], "ranks": []}
               for setting in settings}
    dense_accuracies, dense_parameters = [], 0
    for index, seed in enumerate(seeds):
        trained = train_mlp(split, epochs=train_epochs, seed=seed, device=device, threads=threads).model
        dense_accuracies.append(accuracy(trained, split.X_test, split.y_test))
        spectra = model_spectra(trained)
        dense_parameters = sum(spectrum.parameters for spectrum in spectra)
        for name in allocations:
            for fraction in fractions:
                allocation = allocate_ranks(spectra, fraction=fraction, method=name)
                compressed = compress_with_allocation(trained, allocation)
                ranks = {layer.name: layer.rank for layer in allocation.layers}
                outcomes = [(False, accuracy(compressed, split.X_test, split.y_test))]
                if finetune_epochs > 0:
                    tuned = _finetune_factors(compressed, split, epochs=int(finetune_epochs), lr=finetune_lr,
                                              seed=seed, threads=threads)
                    outcomes.append((True, accuracy(tuned, split.X_test, split.y_test)))
                for finetuned, value in outcomes:
                    entry = results[(name, fraction, finetuned)]
                    entry["accuracies"].append(value)
                    entry["parameters"].append(allocation.parameters_after)
                    entry["errors"].append(allocation.relative_error)
                    entry["ranks"].append(ranks)
        if progress is not None:
            progress((index + 1) / len(seeds))
    points = tuple(
        BudgetPoint(allocation=a, fraction=f, finetuned=tuned, accuracies=tuple(entry["accuracies"]),
                    parameters=tuple(entry["parameters"]), relative_errors=tuple(entry["errors"]),
                    ranks=tuple(entry["ranks"]))
        for (a, f, tuned), entry in results.items()
    )
    return BudgetStudy(seeds=seeds, fractions=fractions, dense_accuracies=tuple(dense_accuracies),
                       dense_parameters=dense_parameters, points=points, finetune_epochs=int(finetune_epochs))
