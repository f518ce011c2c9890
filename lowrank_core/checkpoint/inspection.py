"""Inspecting a checkpoint: every weight's spectrum and rank rules, one weight in detail, its timing.

Inspecting (``inspect_checkpoint``): per weight, its numerical rank, stable rank ‖W‖_F²/‖W‖_2², the ranks
for 90 % and 99 % of the energy, the optimal-hard-threshold rank and the break-even rank mn/(m + n), from
an exact SVD up to ``EXACT_MAX_ENTRIES`` entries and a randomized one of ``RANDOMIZED_RANK`` triplets above
(as the image page does; the leading 256 of 512 computed, for accuracy); ``WeightSummary.method`` says
which. ``weight_detail`` gives one weight's spectrum, energy and measured relative error against rank
beside Eckart–Young's prediction, and the output error on inputs (the digits MLP's own activations when the
file is that model, random inputs otherwise); ``weight_timing`` the dense and factored forward time at the
weight's own shape.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..allocation import LayerSpectrum
from ..budget import break_even_rank
from ..errors import (
    LowRankError,
    RankError,
)
from ..factorize import Factorization, choose_device, factorize
from ..layers import derived_seed
from ..rank import optimal_hard_threshold_rank, rank_for_energy
from ..timing import time_forward
from ..training import DIGITS_CLASSES, DIGITS_FEATURES, split_digits
from .reading import Checkpoint, SkippedWeight

__all__ = ["EXACT_MAX_ENTRIES", "RANDOMIZED_RANK", "RANDOMIZED_OVERSAMPLING", "WeightSummary",
           "CheckpointInspection", "inspect_checkpoint", "inspect_weight", "curve_ranks", "WeightDetail",
           "weight_detail", "layer_inputs", "digits_mlp_activations", "weight_timing", "resolve_method"]

EXACT_MAX_ENTRIES = 2_500_000
"""Weights of at most this many entries get the exact SVD (1024×1024 and 1536×1536 do; 2048×2048 does not),
the image page's threshold; larger ones a randomized SVD of ``RANDOMIZED_RANK`` triplets."""
RANDOMIZED_RANK = 256
"""Singular triplets a randomized SVD keeps."""
RANDOMIZED_OVERSAMPLING = 2
"""The randomized SVD computes this many times ``RANDOMIZED_RANK`` triplets and keeps the leading ones: on a
2048×2048 weight of flat spectrum (stable rank ~200) the largest relative error of the 256 kept values falls
from 5.5 % (256 computed) to 0.13 % (512 computed), for 2.3 times the time, still a fraction of the exact
SVD's."""



@dataclass(frozen=True, eq=False)
class WeightSummary:
    """One weight's row in the checkpoint table.

    Attributes
    ----------
    name : str
    shape : tuple of int
        As stored (a conv kernel keeps its 4 dimensions).
    matrix_shape : (m, n)
        As factored: (out, in·kh·kw).
    dtype : str
    parameters : int
        m·n.
    method : {"exact", "randomized"}
        The SVD that ran.
    S : Tensor of shape (k,)
        Singular values, float64 on the CPU, descending; k = min(m, n) (exact) or RANDOMIZED_RANK.
    frobenius_norm, spectral_norm : float
        ‖W‖_F and σ₁.
    numerical_rank : int
        Singular values above ``torch.linalg.matrix_rank``'s tolerance for float32 (eps · max(m, n) · σ₁).
    numerical_rank_lower_bound : bool
        True when a randomized SVD's k values were all above the tolerance: the rank is at least this.
    stable_rank : float
        ‖W‖_F² / σ₁² (between 1 and the rank).
    rank_energy_90, rank_energy_99 : int or None
        Smallest ranks keeping 90 % and 99 % of ‖W‖_F²; None when a randomized SVD's k values fall short.
    optimal_hard_threshold_rank : int or None
        Gavish–Donoho with the noise estimated (needs the full spectrum: None after a randomized SVD).
    break_even_rank : float
        mn / (m + n): the factors hold fewer numbers only below it.
    """

    name: str
    shape: tuple[int, ...]
    matrix_shape: tuple[int, int]
    dtype: str
    parameters: int
    method: str
    S: Tensor
    frobenius_norm: float
    spectral_norm: float
    numerical_rank: int
    numerical_rank_lower_bound: bool
    stable_rank: float
    rank_energy_90: int | None
    rank_energy_99: int | None
    optimal_hard_threshold_rank: int | None
    break_even_rank: float

    @property
    def total_energy(self) -> float:
        """‖W‖_F²."""
        return self.frobenius_norm**2

    def spectrum(self) -> LayerSpectrum:
        """This weight as the allocation sees it."""
        return LayerSpectrum(self.name, self.matrix_shape, self.S, self.total_energy)

    def row(self) -> dict:
        """The table row as plain values (JSON-ready; None where unknown)."""
        return {
            "name": self.name, "shape": list(self.shape), "matrix_shape": list(self.matrix_shape),
            "dtype": self.dtype, "parameters": self.parameters, "method": self.method,
            "singular_values_computed": int(self.S.numel()), "numerical_rank": self.numerical_rank,
            "numerical_rank_lower_bound": self.numerical_rank_lower_bound,
            "stable_rank": self.stable_rank, "rank_energy_90": self.rank_energy_90,
            "rank_energy_99": self.rank_energy_99,
            "optimal_hard_threshold_rank": self.optimal_hard_threshold_rank,
            "break_even_rank": self.break_even_rank, "spectral_norm": self.spectral_norm,
            "frobenius_norm": self.frobenius_norm,
        }


@dataclass(frozen=True, eq=False)
class CheckpointInspection:
    """Every weight of a checkpoint summarised.

    Attributes
    ----------
    name, source_format : as in Checkpoint
    weights : tuple of WeightSummary
    skipped : tuple of SkippedWeight
    other_tensors : int
        Tensors that are not weights (biases, norms, buffers), kept unchanged by an export.
    notices : tuple of str
    """

    name: str
    source_format: str
    weights: tuple[WeightSummary, ...]
    skipped: tuple[SkippedWeight, ...]
    other_tensors: int
    notices: tuple[str, ...]

    def spectra(self) -> list[LayerSpectrum]:
        """The weights as the allocation sees them."""
        return [weight.spectrum() for weight in self.weights]

    @property
    def parameters(self) -> int:
        """Σ m·n over the analysed weights."""
        return sum(weight.parameters for weight in self.weights)


def resolve_method(method: str, entries: int, limit: int, exact_max_entries: int,
                    randomized_rank: int = RANDOMIZED_RANK) -> str:
    """"exact" or "randomized" for a weight of ``entries`` whose smaller side is ``limit``.

    "auto" is exact up to ``exact_max_entries`` entries, and also when ``randomized_rank`` would not be well
    below the smaller side (more than a quarter of it), where a randomized SVD gains nothing.
    """
    if method not in ("auto", "exact", "randomized"):
        raise LowRankError(f"method must be 'auto', 'exact' or 'randomized'; got {method!r}")
    if method == "auto":
        return "exact" if entries <= exact_max_entries or limit < 4 * randomized_rank else "randomized"
    return method


def _singular_values(matrix: Tensor, *, method: str, randomized_rank: int,
                     device) -> tuple[Tensor, float, str]:
    """(S descending float64 on the CPU, ‖W‖_F², the method that ran) of one weight.

    The exact path computes singular values only (``torch.linalg.svdvals``: no vectors, several times
    faster than the full SVD), in float32 on ``device`` with a float64 retry if LAPACK does not converge;
    the randomized path is ``factorize(method="randomized")``.
    """
    if method != "exact":
        factorization = _factorize_weight(matrix, method=method, randomized_rank=randomized_rank,
                                          device=device)
        return factorization.S.double().cpu(), float(factorization.total_energy.cpu()), factorization.method
    x = matrix.to(device, torch.float32)  # (m, n)
    total = float(torch.linalg.vector_norm(x, dtype=torch.float64)) ** 2
    try:
        S = torch.linalg.svdvals(x)
    except torch.linalg.LinAlgError:
        S = torch.linalg.svdvals(x.double())
    return S.double().cpu(), total, "exact"


def _factorize_weight(matrix: Tensor, *, method: str, randomized_rank: int, device) -> Factorization:
    """The SVD of one weight (float32, on ``device``): exact, or the leading ``randomized_rank`` triplets of
    a randomized SVD of ``RANDOMIZED_OVERSAMPLING`` times as many."""
    if method == "exact":
        return factorize(matrix, method="exact", device=device)
    rank = max(1, min(int(randomized_rank), min(matrix.shape)))
    computed = min(RANDOMIZED_OVERSAMPLING * rank, min(matrix.shape))
    wide = factorize(matrix, method="randomized", max_rank=computed, device=device)
    return Factorization(wide.U[:, :rank].contiguous(), wide.S[:rank].contiguous(),
                         wide.Vh[:rank].contiguous(), wide.method, wide.total_energy)


def inspect_weight(name: str, tensor: Tensor, *, method: str = "auto",
                   exact_max_entries: int = EXACT_MAX_ENTRIES, randomized_rank: int = RANDOMIZED_RANK,
                   device=None) -> WeightSummary:
    """Summarise one weight tensor (>= 2 dimensions, treated as (out, in·kh·kw)).

    Parameters
    ----------
    name : str
    tensor : Tensor of shape (out, in, ...)
    method : {"auto", "exact", "randomized"}
        "auto": exact up to ``exact_max_entries`` entries, or when min(m, n) < 4·``randomized_rank`` (a
        randomized SVD gains nothing there); randomized above.
    randomized_rank : int
        Triplets the randomized SVD computes.
    device : see ``choose_device``.
    """
    if tensor.dim() < 2:
        raise LowRankError(f"{name!r} has shape {tuple(tensor.shape)}; a weight has 2 or more dimensions")
    matrix = tensor.detach().reshape(tensor.shape[0], -1)  # (m, n)
    m, n = matrix.shape
    resolved = resolve_method(method, m * n, min(m, n), exact_max_entries, randomized_rank)
    S, total, ran = _singular_values(matrix, method=resolved, randomized_rank=randomized_rank,
                                     device=choose_device(device))  # (k,)
    complete = S.numel() == min(m, n)
    spectral = float(S[0]) if S.numel() else 0.0
    tolerance = torch.finfo(torch.float32).eps * max(m, n) * spectral
    rank = int((S > tolerance).sum())
    energies = {}
    for fraction in (0.9, 0.99):
        chosen = rank_for_energy(S, fraction, total_energy=total)
        kept = float((S[:chosen] ** 2).sum()) / total if total > 0 else 1.0
        energies[fraction] = chosen if complete or kept >= fraction - 1e-12 else None
    threshold = optimal_hard_threshold_rank(S.float(), (m, n)).rank if complete else None
    return WeightSummary(
        name=name, shape=tuple(tensor.shape), matrix_shape=(m, n),
        dtype=str(tensor.dtype).removeprefix("torch."), parameters=m * n, method=ran,
        S=S, frobenius_norm=math.sqrt(total), spectral_norm=spectral, numerical_rank=rank,
        numerical_rank_lower_bound=not complete and rank == S.numel(),
        stable_rank=total / spectral**2 if spectral > 0 else 0.0,
        rank_energy_90=energies[0.9], rank_energy_99=energies[0.99],
        optimal_hard_threshold_rank=threshold, break_even_rank=break_even_rank(m, n),
    )


def inspect_checkpoint(checkpoint: Checkpoint, *, method: str = "auto",
                       exact_max_entries: int = EXACT_MAX_ENTRIES, randomized_rank: int = RANDOMIZED_RANK,
                       device=None, progress: Callable[[float], None] | None = None) -> CheckpointInspection:
    """``inspect_weight`` for every candidate weight of a checkpoint (one SVD each).

    ``progress`` is called with the fraction done after each weight.
    """
    if not isinstance(checkpoint, Checkpoint):
        raise LowRankError(f"expected a Checkpoint (from read_checkpoint); got {type(checkpoint).__name__}")
    summaries = []
    for index, name in enumerate(checkpoint.weights):
        summaries.append(inspect_weight(name, checkpoint.tensors[name], method=method,
                                        exact_max_entries=exact_max_entries, randomized_rank=randomized_rank,
                                        device=device))
        if progress is not None:
            progress((index + 1) / len(checkpoint.weights))
    shaped = set(checkpoint.weights) | {skipped.name for skipped in checkpoint.skipped}
    return CheckpointInspection(
        name=checkpoint.name, source_format=checkpoint.source_format, weights=tuple(summaries),
        skipped=checkpoint.skipped, other_tensors=sum(1 for name in checkpoint.tensors if name not in shaped),
        notices=checkpoint.notices,
    )


# ======================================================================================== one weight


def curve_ranks(max_rank: int, *, count: int = 40) -> list[int]:
    """About ``count`` ranks from 0 to ``max_rank`` for a curve: every rank up to 8, then evenly spread."""
    if isinstance(max_rank, bool) or not isinstance(max_rank, int) or max_rank < 0:
        raise RankError(f"max_rank must be a whole number >= 0; got {max_rank!r}")
    spread = torch.linspace(0, max_rank, max(2, int(count))).round().long().tolist()
    return sorted({*range(min(max_rank, 8) + 1), *spread})


@dataclass(frozen=True, eq=False)
class WeightDetail:
    """One weight's spectrum and its errors against rank.

    Attributes
    ----------
    name : str
    matrix_shape : (m, n)
    method : {"exact", "randomized"}
    S : Tensor of shape (k,), float64, descending
    energy : Tensor of shape (k + 1,)
        Share of ‖W‖_F² kept at ranks 0..k.
    ranks : tuple of int
        Ranks at which errors were measured (0..k).
    relative_error : Tensor of shape (len(ranks),)
        Measured ‖W − a_r b_r‖_F / ‖W‖_F (float32 factors, norms in float64).
    predicted_relative_error : Tensor of shape (len(ranks),)
        Eckart–Young: sqrt(Σ_{i>r} σᵢ² / ‖W‖_F²) (‖W‖_F² minus the kept σᵢ² after a randomized SVD).
    output_relative_error : Tensor of shape (len(ranks),)
        ‖Z − Z_r‖_F / ‖Z‖_F with Z = X Wᵀ + bias on the inputs X.
    output_worst_ratio : Tensor of shape (len(ranks),)
        max over the inputs of ‖z_i − z_r,i‖ / ((σ_{r+1} + rounding) ‖x_i‖): at most 1 (Eckart–Young–Mirsky).
    inputs : str
        Where X came from ("digits activations" or "random normal").
    batch : int
    """

    name: str
    matrix_shape: tuple[int, int]
    method: str
    S: Tensor
    energy: Tensor
    ranks: tuple[int, ...]
    relative_error: Tensor
    predicted_relative_error: Tensor
    output_relative_error: Tensor
    output_worst_ratio: Tensor
    inputs: str
    batch: int


def weight_detail(name: str, weight: Tensor, *, bias: Tensor | None = None, inputs: Tensor | None = None,
                  inputs_source: str = "given", ranks: Sequence[int] | None = None, method: str = "auto",
                  exact_max_entries: int = EXACT_MAX_ENTRIES, randomized_rank: int = RANDOMIZED_RANK,
                  batch: int = 256, seed: int = 0, device=None) -> WeightDetail:
    """The spectrum of one weight and its errors against rank, measured beside Eckart–Young.

    Parameters
    ----------
    name : str
    weight : Tensor of shape (out, in, ...)
        Treated as (m, n) = (out, in·kh·kw).
    bias : Tensor of shape (m,), optional
        Added to the outputs (it cancels in the difference, not in ‖Z‖).
    inputs : Tensor of shape (batch, n), optional
        Default: ``batch`` standard normal rows (seeded), ``inputs_source`` "random normal".
    ranks : ranks to measure at (0..k); default ``curve_ranks(k)``.
    method, exact_max_entries, randomized_rank, device : as in ``inspect_weight``.
    """
    matrix = weight.detach().reshape(weight.shape[0], -1)  # (m, n)
    m, n = matrix.shape
    device = choose_device(device)
    resolved = resolve_method(method, m * n, min(m, n), exact_max_entries, randomized_rank)
    factorization = _factorize_weight(matrix, method=resolved, randomized_rank=randomized_rank, device=device)
    k = factorization.max_rank
    ranks = curve_ranks(k) if ranks is None else sorted({int(r) for r in ranks})
    if ranks and not 0 <= ranks[0] <= ranks[-1] <= k:
        raise RankError(f"ranks must lie in 0..{k}; got {ranks[0]}..{ranks[-1]}")
    if inputs is None:
        generator = torch.Generator().manual_seed(derived_seed(seed, "checkpoint-inputs"))
        inputs = torch.randn(int(batch), n, generator=generator)  # (batch, n)
        inputs_source = "random normal"
    if inputs.dim() != 2 or inputs.shape[1] != n:
        raise LowRankError(f"inputs must have shape (batch, {n}); got {tuple(inputs.shape)}")
    W = matrix.to(device, torch.float32)  # (m, n)
    X = inputs.to(device, torch.float32)  # (batch, n)
    b = None if bias is None else bias.detach().reshape(-1).to(device, torch.float32)  # (m,)
    Z = X @ W.T + (0 if b is None else b)  # (batch, m)
    projected = X @ factorization.Vh.T  # (batch, k): x in the right singular basis
    norm_w = float(torch.linalg.vector_norm(W, dtype=torch.float64))
    norm_z = float(torch.linalg.vector_norm(Z, dtype=torch.float64))
    residual = factorization.residual_energy().cpu()  # (k + 1,)
    total = float(factorization.total_energy.cpu())
    S = factorization.S.double().cpu()
    rounding = torch.finfo(torch.float32).eps * max(m, n) * (float(S[0]) if k else 0.0)
    input_norms = torch.linalg.vector_norm(X.double(), dim=1)  # (batch,)
    measured, predicted, output, worst = [], [], [], []
    for r in ranks:
        a, bh = factorization.factors(r)  # (m, r), (r, n)
        measured.append(float(torch.linalg.vector_norm(W - a @ bh, dtype=torch.float64)) / norm_w
                        if norm_w > 0 else 0.0)
        predicted.append(math.sqrt(max(float(residual[r]), 0.0) / total) if total > 0 else 0.0)
        Z_r = (projected[:, :r] * factorization.S[:r]) @ factorization.U[:, :r].T + (0 if b is None else b)
        difference = (Z - Z_r).double()  # (batch, m)
        output.append(float(torch.linalg.vector_norm(difference)) / norm_z if norm_z > 0 else 0.0)
        bound = (float(S[r]) if r < k else 0.0) + rounding
        allowed = bound * input_norms
        ratios = torch.linalg.vector_norm(difference, dim=1) / allowed.clamp_min(1e-300)
        worst.append(float(torch.where(allowed > 0, ratios, torch.zeros_like(ratios)).max()))
    return WeightDetail(
        name=name, matrix_shape=(m, n), method=factorization.method, S=S,
        energy=factorization.energy().double().cpu(), ranks=tuple(ranks),
        relative_error=torch.tensor(measured, dtype=torch.float64),
        predicted_relative_error=torch.tensor(predicted, dtype=torch.float64),
        output_relative_error=torch.tensor(output, dtype=torch.float64),
        output_worst_ratio=torch.tensor(worst, dtype=torch.float64),
        inputs=inputs_source, batch=int(X.shape[0]),
    )


def digits_mlp_activations(tensors: Mapping[str, Tensor], *, samples: int | None = None
                           ) -> dict[str, Tensor] | None:
    """The input each linear layer sees on the digits test images, when ``tensors`` is the shipped MLP.

    The shipped MLP (``training.make_mlp``) is ``nn.Sequential(Linear, ReLU, ..., Linear)`` from 64 pixels to
    10 classes, so its state dict holds ``0.weight, 0.bias, 2.weight, 2.bias, ...`` (possibly all under one
    wrapper name, ``model.0.weight``...). Returns {weight name:
    activations of shape (N, in)} (the test split of ``split_digits()``), or None when the tensors are not
    such a model.
    """
    prefixes = {key.split(".", 1)[0] for key in tensors}
    if len(prefixes) == 1 and all("." in key for key in tensors) and not next(iter(prefixes)).isdigit():
        # one wrapper around the state dict ({"model": {...}} saved as "model.0.weight", ...)
        prefix = next(iter(prefixes)) + "."
        inner = digits_mlp_activations({key.removeprefix(prefix): value for key, value in tensors.items()},
                                       samples=samples)
        return None if inner is None else {prefix + key: value for key, value in inner.items()}
    count = sum(1 for key in tensors if key.endswith(".weight"))
    expected = {f"{2 * i}.{part}" for i in range(count) for part in ("weight", "bias")}
    if count == 0 or set(tensors) != expected:
        return None
    shapes = []
    for i in range(count):
        weight, bias = tensors.get(f"{2 * i}.weight"), tensors.get(f"{2 * i}.bias")
        if weight is None or bias is None or weight.dim() != 2 or tuple(bias.shape) != (weight.shape[0],):
            return None
        shapes.append(tuple(weight.shape))
    if shapes[0][1] != DIGITS_FEATURES or shapes[-1][0] != DIGITS_CLASSES:
        return None
    if any(shapes[i][0] != shapes[i + 1][1] for i in range(len(shapes) - 1)):
        return None
    X = split_digits().X_test  # (N, 64)
    if samples is not None:
        X = X[:samples]
    activations = {}
    with torch.no_grad():
        for i in range(len(shapes)):
            activations[f"{2 * i}.weight"] = X
            weight = tensors[f"{2 * i}.weight"].float()
            X = X @ weight.T + tensors[f"{2 * i}.bias"].float()  # (N, out)
            if i < len(shapes) - 1:
                X = X.relu()
    return activations


def layer_inputs(checkpoint: Checkpoint, name: str, *, batch: int = 256, seed: int = 0
                 ) -> tuple[Tensor, str]:
    """Inputs for the output error of weight ``name``: (X of shape (N, in·kh·kw), where they come from).

    The digits test images pushed through the earlier layers when the checkpoint is the shipped digits MLP
    ("digits activations"), else ``batch`` seeded standard normal rows ("random normal").
    """
    matrix = checkpoint.matrix(name)  # (m, n)
    activations = digits_mlp_activations(checkpoint.tensors)
    if activations is not None and name in activations:
        return activations[name], "digits activations"
    generator = torch.Generator().manual_seed(derived_seed(seed, "checkpoint-inputs"))
    return torch.randn(int(batch), matrix.shape[1], generator=generator), "random normal"


def weight_timing(matrix_shape: tuple[int, int], *, ranks: Sequence[int] | None = None, batch: int = 64,
                  device=None, min_run_time: float = 0.2, threads: int | None = 1) -> list:
    """Dense against factored forward time at a weight's own shape (m, n): ``time_forward(m, n, ranks)``.

    Default ranks: 1/16, 1/8, 1/4 and 1/2 of the break-even rank mn/(m + n), and the break-even itself
    (at least 1). Returns a list of ForwardTiming.
    """
    m, n = (int(side) for side in matrix_shape)
    if ranks is None:
        even = break_even_rank(m, n)
        shares = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1)
        ranks = sorted({max(1, min(min(m, n), int(even * share))) for share in shares})
    return time_forward(m, n, list(ranks), batch=batch, device=device, min_run_time=min_run_time,
                        threads=threads)


# ============================================================================================== export


