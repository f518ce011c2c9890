"""Linear layers with a low-rank weight: ``LowRankLinear`` (W ≈ a b), model compression, and LoRA.

A dense ``nn.Linear`` stores W of shape (out, in) and computes ``x Wᵀ + bias``. Its rank-r truncation
``W_r = a b`` with ``a = U_r diag(S_r)`` (out, r) and ``b = Vh_r`` (r, in) — the notebook's a and b —
stores r(out + in) numbers and computes ``(x bᵀ) aᵀ + bias`` in 2r(out + in) FLOPs per input instead of
2·out·in. By Eckart–Young–Mirsky, for every input x

    ‖(W − W_r) x‖ ≤ σ_{r+1} ‖x‖,

so the layer's output moves by at most σ_{r+1}‖x‖ (the bias cancels). ``compress_model`` applies this to
every ``nn.Linear`` of a model and reports what each layer kept.

LoRA (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models", arXiv:2106.09685) keeps a base
layer frozen and learns only a low-rank change ΔW = (α/r) B A, with A (r, in) random and B (out, r) zero at
the start, so the adapted model starts out equal to the base.
"""

from __future__ import annotations

import copy
import hashlib
import math
import numbers
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import is_whole, layer_rank, layer_sizes
from .errors import LowRankError, RankError, ShapeError
from .factorize import Factorization, factorize
from .rank import rank_for_energy

__all__ = [
    "LowRankLinear",
    "LoRALinear",
    "LayerReport",
    "compress_model",
    "apply_lora",
    "effective_weights",
    "trainable_parameters",
    "weight_spectra",
    "layer_factorizations",
    "LayerError",
    "layer_error",
    "sample_inputs",
    "derived_seed",
]


def _check_linear(linear) -> nn.Linear:
    """An nn.Linear, else a LowRankError."""
    if not isinstance(linear, nn.Linear):
        raise LowRankError(f"expected a torch.nn.Linear; got {type(linear).__name__}")
    return linear


def _weight_svd(linear: nn.Linear) -> Factorization:
    """The exact SVD of ``linear``'s (out, in) weight, on the weight's device."""
    weight = linear.weight.detach()  # (out, in)
    return factorize(weight, method="exact", device=weight.device)


class LowRankLinear(nn.Module):
    """A linear layer whose weight is stored as a product ``a @ b`` of rank ``rank``.

    ``forward(x) = x bᵀ aᵀ + bias`` — two thin matrix products, never forming the (out, in) weight.

    Parameters
    ----------
    in_features, out_features : int
    rank : int
        1 <= rank <= min(in_features, out_features).
    bias : bool
    device, dtype : optional
        As for ``nn.Linear``.

    Attributes
    ----------
    a : Parameter of shape (out_features, rank)
        The notebook's a, ``U_r diag(S_r)`` after ``from_linear``.
    b : Parameter of shape (rank, in_features)
        The notebook's b, ``Vh_r`` after ``from_linear``.
    bias : Parameter of shape (out_features,) or None
    """

    def __init__(self, in_features: int, out_features: int, rank: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        layer_sizes(in_features, out_features)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.rank = layer_rank(rank, self.in_features, self.out_features)
        options = {"device": device, "dtype": dtype}
        self.a = nn.Parameter(torch.empty(self.out_features, self.rank, **options))
        self.b = nn.Parameter(torch.empty(self.rank, self.in_features, **options))
        if bias:
            self.bias = nn.Parameter(torch.empty(self.out_features, **options))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Random factors whose product has the scale of ``nn.Linear``'s default weight.

        b is drawn like an ``nn.Linear(in, r)`` weight (uniform, bound 1/√in) and a uniform with bound
        √(3/r), so each entry of a b has variance 1/(3·in), as nn.Linear's U(±1/√in) weight has.
        """
        with torch.no_grad():
            bound_b = 1 / math.sqrt(self.in_features)
            self.b.uniform_(-bound_b, bound_b, generator=generator)
            bound_a = math.sqrt(3 / self.rank)
            self.a.uniform_(-bound_a, bound_a, generator=generator)
            if self.bias is not None:
                self.bias.uniform_(-bound_b, bound_b, generator=generator)

    @classmethod
    def from_linear(cls, linear: nn.Linear, rank: int) -> LowRankLinear:
        """The best rank-r replacement of ``linear`` (Eckart–Young), by an exact SVD of its weight.

        ``a = U_r diag(S_r)`` and ``b = Vh_r`` come from ``factorize(weight, method="exact")`` through
        ``Factorization.factors``; the bias is copied. The result lives on the weight's device and dtype;
        the SVD itself runs in float32, the engine's precision, also for a float64 layer.
        """
        linear = _check_linear(linear)
        rank = layer_rank(rank, linear.in_features, linear.out_features)
        return cls._from_factorization(linear, _weight_svd(linear), rank)

    @classmethod
    def _from_factorization(cls, linear: nn.Linear, factorization, rank: int) -> LowRankLinear:
        """Build from an existing factorization of ``linear.weight`` (no new SVD)."""
        weight = linear.weight
        # skip_init: the factors are overwritten below, so draw nothing from the global RNG
        layer = torch.nn.utils.skip_init(cls, linear.in_features, linear.out_features, rank,
                                         bias=linear.bias is not None, device=weight.device,
                                         dtype=weight.dtype)
        a, b = factorization.factors(rank)  # (out, r), (r, in)
        with torch.no_grad():
            layer.a.copy_(a)
            layer.b.copy_(b)
            if linear.bias is not None:
                layer.bias.copy_(linear.bias.detach())
        return layer

    def weight(self) -> Tensor:
        """The rank-r weight ``a @ b``, shape (out_features, in_features)."""
        return self.a @ self.b

    def forward(self, x: Tensor) -> Tensor:
        """``(x bᵀ) aᵀ + bias`` for x of shape (..., in_features); returns (..., out_features)."""
        return F.linear(F.linear(x, self.b), self.a, self.bias)  # (..., r) -> (..., out)

    def parameter_count(self) -> int:
        """Numbers stored: r(out + in) for a and b, plus out for the bias."""
        return sum(p.numel() for p in self.parameters())

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}, "
                f"bias={self.bias is not None}")


@dataclass(frozen=True)
class LayerReport:
    """What ``compress_model`` did to one ``nn.Linear``.

    Attributes
    ----------
    name : str
        The layer's name in ``model.named_modules()`` ("" for a model that is itself a Linear).
    shape : tuple of int
        The weight's (out_features, in_features).
    rank : int
        Rank of the layer as compressed (min(out, in) when kept dense).
    requested_rank : int
        The rank asked for, or the one the energy target chose, before clipping to min(out, in).
    parameters_before, parameters_after : int
        Weight and bias numbers: out·in + out before; r(out + in) + out after (out·in + out when dense).
    energy_kept : float
        Σ_{i<r} σᵢ² / ‖W‖_F² (1.0 when kept dense).
    spectral_bound : float
        σ_{r+1} of W (0.0 when nothing is discarded): ‖(W − W_r) x‖ ≤ spectral_bound · ‖x‖ for every x.
    factored : bool
        True when the layer became a ``LowRankLinear``; False when it was kept as a dense ``nn.Linear``.
    note : str
        Why the rank was clipped or the layer kept dense ("" otherwise).
    """

    name: str
    shape: tuple[int, int]
    rank: int
    requested_rank: int
    parameters_before: int
    parameters_after: int
    energy_kept: float
    spectral_bound: float
    factored: bool
    note: str = ""


def _linear_layers(model: nn.Module) -> list[tuple[str, nn.Linear]]:
    """Every nn.Linear in the model, by name, in registration order."""
    return [(name, module) for name, module in model.named_modules() if isinstance(module, nn.Linear)]


def _replace(model: nn.Module, name: str, new: nn.Module) -> nn.Module:
    """Put ``new`` where the submodule ``name`` was; returns the (possibly new) root."""
    if name == "":
        return new
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)
    return model


def _check_choice(rank, energy) -> None:
    """Exactly one of rank and energy, each in range."""
    if (rank is None) == (energy is None):
        raise LowRankError("give exactly one of rank or energy")
    if rank is not None and (not is_whole(rank) or rank < 1):
        raise RankError(f"rank must be a whole number >= 1; got {rank!r}")
    if energy is not None and not (isinstance(energy, numbers.Real) and 0.0 < energy <= 1.0):
        raise LowRankError(f"energy must be a fraction in (0, 1]; got {energy!r}")


def compress_model(model: nn.Module, *, rank: int | None = None, energy: float | None = None,
                   dense_fallback: bool = True, layers: Collection[str] | None = None,
                   factorizations: Mapping[str, Factorization] | None = None,
                   ) -> tuple[nn.Module, list[LayerReport]]:
    """Replace every ``nn.Linear`` of a deep copy of ``model`` by its best rank-r ``LowRankLinear``.

    The input model is never modified. Each weight is factorized once (exact SVD on its own device), or
    not at all when ``factorizations`` holds its SVD (a sweep over ranks then costs one SVD per layer).

    Policy, per layer of weight shape (out, in):

    - the rank is ``rank``, or with ``energy`` the smallest rank keeping that fraction of ‖W‖_F²
      (at least 1);
    - a rank above min(out, in) is clipped to min(out, in), with a note;
    - with ``dense_fallback`` (the default), a layer whose factors would hold at least as many numbers as
      the dense weight (r(out + in) >= out·in, i.e. r >= the break-even out·in/(out + in)) is kept as an
      exact dense ``nn.Linear`` copy and reported with ``factored=False``: factoring it would cost more
      and be less accurate. With ``dense_fallback=False`` every layer is factored (to study a rank sweep).

    Parameters
    ----------
    model : nn.Module
    rank : int, optional
        The same rank for every layer (>= 1).
    energy : float in (0, 1], optional
        Per-layer energy target.
    dense_fallback : bool
    layers : collection of str, optional
        Names (as in ``named_modules()``) of the linear layers to compress; the others stay as they are
        and get no report. Default: every ``nn.Linear``.
    factorizations : mapping of str to Factorization, optional
        Complete SVDs of weights by layer name (``layer_factorizations``), used instead of a new SVD.

    Returns
    -------
    (nn.Module, list of LayerReport)
        The compressed copy (same device, in the input's training mode) and one report per Linear, in the
        order of ``model.named_modules()``.
    """
    _check_choice(rank, energy)
    if not isinstance(model, nn.Module):
        raise LowRankError(f"expected a torch.nn.Module; got {type(model).__name__}")
    names = [name for name, _ in _linear_layers(model)]
    if not names:
        raise LowRankError("the model has no torch.nn.Linear layer to compress")
    if layers is not None:
        unknown = sorted(set(layers) - set(names))
        if unknown:
            raise LowRankError(f"no linear layer named {unknown[0]!r}; the model's are {names}")
    _check_factorizations(model, factorizations)
    return _compress(model, rank=rank, energy=energy, dense_fallback=dense_fallback, layers=layers,
                     factorizations=factorizations)


def layer_factorizations(model: nn.Module) -> dict[str, Factorization]:
    """The exact SVD of every ``nn.Linear`` weight, by name, on the weight's device.

    For ``compress_model(..., factorizations=...)``: many compressions of one model, one SVD per layer.
    """
    return {name: _weight_svd(linear) for name, linear in _linear_layers(model)}


def _check_factorizations(model: nn.Module, factorizations) -> None:
    """None, or each entry the complete SVD of the weight of the linear layer so named; else LowRankError."""
    if factorizations is not None and not isinstance(factorizations, Mapping):
        raise LowRankError(f"factorizations must map layer names to Factorization; got "
                           f"{type(factorizations).__name__}")
    shapes = {name: tuple(linear.weight.shape) for name, linear in _linear_layers(model)}
    for name, factorization in (factorizations or {}).items():
        if name not in shapes:
            raise LowRankError(f"no linear layer named {name!r}; the model's are {list(shapes)}")
        if not (isinstance(factorization, Factorization) and factorization.shape == shapes[name]
                and factorization.is_complete):
            raise ShapeError(f"factorizations[{name!r}] must be the complete SVD of the layer's "
                             f"{shapes[name]} weight")


def _compress(model: nn.Module, *, rank, energy, dense_fallback: bool, layers,
              factorizations: Mapping[str, Factorization] | None) -> tuple[nn.Module, list[LayerReport]]:
    """The work of ``compress_model``, after validation."""
    compressed = copy.deepcopy(model)
    reports = []
    for name, linear in _linear_layers(compressed):
        if layers is not None and name not in layers:
            continue
        out_features, in_features = linear.weight.shape
        limit = min(out_features, in_features)
        factorization = (factorizations or {}).get(name) or _weight_svd(linear)
        energies = factorization.energy()  # (k + 1,)
        if rank is not None:
            requested = int(rank)
        else:
            requested = max(1, rank_for_energy(factorization.S, float(energy),
                                               total_energy=factorization.total_energy,
                                               shape=factorization.shape))
        kept = min(requested, limit)
        notes = []
        if requested > limit:
            notes.append(f"rank {requested} clipped to min(out, in) = {limit}")
        bias = out_features if linear.bias is not None else 0
        before = out_features * in_features + bias
        factored_numbers = kept * (out_features + in_features)
        if dense_fallback and factored_numbers >= out_features * in_features:
            notes.append(f"kept dense: rank {kept} factors would hold {factored_numbers} numbers, "
                         f"the dense weight {out_features * in_features}")
            reports.append(LayerReport(
                name=name, shape=(out_features, in_features), rank=limit, requested_rank=requested,
                parameters_before=before, parameters_after=before, energy_kept=1.0, spectral_bound=0.0,
                factored=False, note="; ".join(notes),
            ))
            continue
        layer = LowRankLinear._from_factorization(linear, factorization, kept)
        layer.train(linear.training)
        compressed = _replace(compressed, name, layer)
        S = factorization.S
        reports.append(LayerReport(
            name=name, shape=(out_features, in_features), rank=kept, requested_rank=requested,
            parameters_before=before, parameters_after=factored_numbers + bias,
            energy_kept=float(energies[kept]), spectral_bound=float(S[kept]) if kept < limit else 0.0,
            factored=True, note="; ".join(notes),
        ))
    return compressed, reports


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank change: ``base(x) + (α/r) · x Aᵀ Bᵀ``.

    The base layer is wrapped, not copied: its parameters get ``requires_grad = False`` and are never
    changed by training the adapter. Copy the base first (``apply_lora`` does) to leave a model untouched.

    Parameters
    ----------
    base : nn.Linear
    rank : int
        1 <= rank <= min(in, out).
    alpha : float, optional
        Scale numerator; the change is multiplied by alpha / rank. Default: rank (scale 1).
    generator : torch.Generator, optional
        A CPU generator for the random init of ``lora_A`` (drawn on the CPU, then moved to the base's
        device); the global RNG when None.

    Attributes
    ----------
    lora_A : Parameter of shape (rank, in_features)
        Kaiming-uniform init (as ``nn.Linear``'s weight, a = √5).
    lora_B : Parameter of shape (out_features, rank)
        Zeros, so the adapted layer starts equal to the base.
    scale : float
        alpha / rank.
    """

    def __init__(self, base: nn.Linear, rank: int, alpha: float | None = None, *,
                 generator: torch.Generator | None = None):
        super().__init__()
        base = _check_linear(base)
        self.rank = layer_rank(rank, base.in_features, base.out_features)
        if alpha is None:
            alpha = float(self.rank)
        if not (isinstance(alpha, numbers.Real) and not isinstance(alpha, bool) and math.isfinite(alpha)
                and alpha > 0):
            raise LowRankError(f"alpha must be a positive number; got {alpha!r}")
        self.alpha = float(alpha)
        self.scale = self.alpha / self.rank
        self.base = base
        self.in_features, self.out_features = base.in_features, base.out_features
        for parameter in self.base.parameters():
            parameter.requires_grad_(False)
        options = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_A = nn.Parameter(torch.empty(self.rank, base.in_features, **options))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, self.rank, **options))
        with torch.no_grad():  # drawn on the CPU, so a seeded generator gives the same A on every device
            init = torch.empty(self.lora_A.shape, dtype=torch.float32)
            nn.init.kaiming_uniform_(init, a=math.sqrt(5), generator=generator)
            self.lora_A.copy_(init)

    def forward(self, x: Tensor) -> Tensor:
        """``base(x) + scale · (x Aᵀ) Bᵀ`` for x of shape (..., in); returns (..., out)."""
        return self.base(x) + self.scale * F.linear(F.linear(x, self.lora_A), self.lora_B)

    def delta_weight(self) -> Tensor:
        """The learned change ``scale · B @ A``, shape (out, in), rank <= r."""
        return self.scale * (self.lora_B @ self.lora_A)

    def merged_weight(self) -> Tensor:
        """``base.weight + scale · B @ A``: the dense weight an inference-time merge would store."""
        return self.base.weight + self.delta_weight()

    def trainable_parameters(self) -> int:
        """Numbers that training changes: r(in + out) (lora_A and lora_B; the base is frozen)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def extra_repr(self) -> str:
        return f"rank={self.rank}, alpha={self.alpha:g}, scale={self.scale:g}"


def apply_lora(model: nn.Module, rank: int, alpha: float | None = None, *, seed: int = 0) -> nn.Module:
    """A deep copy of ``model`` with every parameter frozen and every ``nn.Linear`` wrapped in ``LoRALinear``.

    Only the adapters (``lora_A``, ``lora_B``) are trainable. The rank is clipped per layer to
    min(in, out) (a 64→10 layer gets at most rank 10). ``lora_A`` is drawn from a generator seeded with
    ``seed`` on the CPU, so the init does not depend on the device.
    """
    if not isinstance(model, nn.Module):
        raise LowRankError(f"expected a torch.nn.Module; got {type(model).__name__}")
    if not is_whole(rank) or rank < 1:
        raise RankError(f"rank must be a whole number >= 1; got {rank!r}")
    layers = _linear_layers(model)
    if not layers:
        raise LowRankError("the model has no torch.nn.Linear layer to adapt")
    adapted = copy.deepcopy(model)
    for parameter in adapted.parameters():
        parameter.requires_grad_(False)
    generator = torch.Generator().manual_seed(int(seed))
    for name, _ in layers:
        linear = adapted.get_submodule(name) if name else adapted
        adapter_rank = min(int(rank), linear.in_features, linear.out_features)
        wrapped = LoRALinear(linear, adapter_rank, alpha, generator=generator)
        adapted = _replace(adapted, name, wrapped)
    return adapted


def effective_weights(model: nn.Module) -> dict[str, Tensor]:
    """The dense (out, in) weight each linear layer applies, by name, detached.

    ``nn.Linear`` gives its weight, ``LowRankLinear`` ``a @ b``, ``LoRALinear`` its merged weight (listed
    under its own name, not its base's). Names match across a model, its compressed copy and its LoRA copy.
    """
    weights = {}
    skip = set()
    for name, module in model.named_modules():
        if name in skip:
            continue
        if isinstance(module, LoRALinear):
            weights[name] = module.merged_weight().detach()
            skip.add(f"{name}.base" if name else "base")
        elif isinstance(module, LowRankLinear):
            weights[name] = module.weight().detach()
        elif isinstance(module, nn.Linear):
            weights[name] = module.weight.detach()
    return weights


def weight_spectra(model: nn.Module) -> dict[str, Tensor]:
    """Singular values of each linear layer's effective weight, by name: float64 on the CPU, descending."""
    weights = effective_weights(model)
    return {name: torch.linalg.svdvals(weight.double().cpu()) for name, weight in weights.items()}


def trainable_parameters(model: nn.Module) -> int:
    """Number of parameter entries with ``requires_grad`` (what an optimizer would update)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@dataclass(frozen=True)
class LayerError:
    """A dense layer against its rank-r truncation on a batch of inputs.

    Attributes
    ----------
    rank : int
    z, z_r : Tensor of shape (batch, out)
        ``x Wᵀ + bias`` and ``x W_rᵀ + bias`` (float32, on the CPU).
    max_abs_error : float
        max |z − z_r| over every entry.
    relative_error : float
        ‖Z − Z_r‖_F / ‖Z‖_F (0.0 when Z is all zero).
    bound : float
        σ_{r+1} (0.0 at full rank).
    worst_ratio : float
        max over the batch of ‖z_i − z_r,i‖ / ((σ_{r+1} + tolerance) ‖x_i‖): at most 1 by
        Eckart–Young–Mirsky. ``tolerance`` is float32 rounding (see ``rounding_tolerance``).
    rounding_tolerance : float
        eps(float32) · max(out, in) · σ_1, the allowance for float32 arithmetic (the ``matrix_rank``
        tolerance), which matters only when σ_{r+1} is itself at rounding level.
    error_norms, bound_norms : Tensor of shape (batch,)
        ‖z_i − z_r,i‖ and σ_{r+1} ‖x_i‖ per input, float64.
    """

    rank: int
    z: Tensor
    z_r: Tensor
    max_abs_error: float
    relative_error: float
    bound: float
    worst_ratio: float
    rounding_tolerance: float
    error_norms: Tensor
    bound_norms: Tensor


def derived_seed(seed: int, stream: str) -> int:
    """A seed for a named stream, independent of ``seed`` itself: the first 8 bytes of SHA-256("stream:seed").

    Why: ``sources.random_full_rank(m, n, seed=s)`` draws ``randn`` from a generator seeded with s; inputs
    drawn from the same seed would repeat the weight's rows (z_ii = ‖w_i‖²). An offset is no cure, since
    torch's CPU generator (mt19937) keeps only the low 32 bits of a seed: s and s + 2**32 give one stream.
    """
    digest = hashlib.sha256(f"{stream}:{int(seed)}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1  # below 2**63


def sample_inputs(batch: int, in_features: int, *, seed: int = 0) -> Tensor:
    """A seeded batch of standard normal inputs, shape (batch, in_features), float32 on the CPU.

    Drawn from ``derived_seed(seed, "inputs")``, a stream apart from the weight generators' ``seed``.
    """
    if not is_whole(batch) or batch < 1:
        raise LowRankError(f"batch must be a whole number >= 1; got {batch!r}")
    layer_sizes(in_features, 1)
    generator = torch.Generator().manual_seed(derived_seed(seed, "inputs"))
    return torch.randn(int(batch), int(in_features), generator=generator)


def layer_error(weight: Tensor, bias: Tensor | None, factorization, rank: int, x: Tensor) -> LayerError:
    """Run ``x`` through the dense layer and its rank-r ``LowRankLinear`` and compare with σ_{r+1}‖x‖.

    Parameters
    ----------
    weight : Tensor of shape (out, in)
    bias : Tensor of shape (out,) or None
    factorization : Factorization
        Of ``weight`` (exact, complete), e.g. from ``factorize(weight)``; only sliced here.
    rank : int
        1..min(out, in).
    x : Tensor of shape (batch, in)
    """
    if weight.dim() != 2:
        raise ShapeError(f"expected an (out, in) weight; got shape {tuple(weight.shape)}")
    out_features, in_features = weight.shape
    if x.dim() != 2 or x.shape[1] != in_features:
        raise ShapeError(f"inputs must have shape (batch, {in_features}); got {tuple(x.shape)}")
    rank = layer_rank(rank, in_features, out_features)
    device = factorization.U.device
    dense = torch.nn.utils.skip_init(nn.Linear, in_features, out_features, bias=bias is not None,
                                     device=device)  # filled below: no random init
    with torch.no_grad():
        dense.weight.copy_(weight)
        if bias is not None:
            dense.bias.copy_(bias)
        low = LowRankLinear._from_factorization(dense, factorization, rank)
        x = x.to(device, torch.float32)
        z = dense(x)  # (batch, out)
        z_r = low(x)  # (batch, out)
    difference = (z - z_r).double()  # (batch, out)
    S = factorization.S.double()
    bound = float(S[rank]) if rank < S.shape[-1] else 0.0
    tolerance = torch.finfo(torch.float32).eps * max(out_features, in_features) * float(S[0])
    error_norms = torch.linalg.vector_norm(difference, dim=1).cpu()  # (batch,)
    input_norms = torch.linalg.vector_norm(x.double(), dim=1).cpu()  # (batch,)
    allowed = (bound + tolerance) * input_norms
    ratios = torch.where(allowed > 0, error_norms / allowed.clamp_min(1e-300), torch.zeros_like(allowed))
    norm_z = float(torch.linalg.vector_norm(z.double()))
    return LayerError(
        rank=rank,
        z=z.cpu(),
        z_r=z_r.cpu(),
        max_abs_error=float(difference.abs().max()) if difference.numel() else 0.0,
        relative_error=float(torch.linalg.vector_norm(difference)) / norm_z if norm_z > 0 else 0.0,
        bound=bound,
        worst_ratio=float(ratios.max()) if ratios.numel() else 0.0,
        rounding_tolerance=tolerance,
        error_norms=error_norms,
        bound_norms=bound * input_norms,
    )
