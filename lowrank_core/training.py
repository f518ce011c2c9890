"""A small network to compress and adapt: the 8×8 digits, a 64 → 128 → 64 → 10 MLP, and its fine-tunes.

Everything is seeded (a local ``torch.Generator`` for the split, the init and the batches; the global RNG
is never touched), so a run gives the same model on every call on the same device and thread count.

The data are the UCI "Optical Recognition of Handwritten Digits" test set (1797 images), shipped in
``lowrank_core/data/digits/`` (see LICENSE.md there).

The shifted task for fine-tuning mirrors every image left-right: strokes move to the other side, so the
base model's accuracy drops, while the classes stay the same.
"""

from __future__ import annotations

import copy
import gzip
import math
import zlib
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import DataFileError, LowRankError, ShapeError
from .factorize import choose_device
from .layers import apply_lora, compress_model, effective_weights, layer_factorizations, trainable_parameters
from .limits import MAX_EPOCHS
from .rank import rank_for_energy

__all__ = [
    "fit_model",
    "DIGITS_PATH",
    "DIGITS_LICENSE_PATH",
    "DIGITS_SAMPLES",
    "DIGITS_FEATURES",
    "DIGITS_CLASSES",
    "DigitsSplit",
    "load_digits",
    "split_digits",
    "mirror_digits",
    "make_mlp",
    "TrainResult",
    "train_mlp",
    "accuracy",
    "finetune_full",
    "finetune_lora",
    "DeltaSpectrum",
    "delta_spectrum",
    "SweepPoint",
    "compression_sweep",
    "parameter_count",
]

DIGITS_DIR = Path(__file__).parent / "data" / "digits"
DIGITS_PATH = DIGITS_DIR / "digits.csv.gz"
DIGITS_LICENSE_PATH = DIGITS_DIR / "LICENSE.md"
DIGITS_SAMPLES = 1797
DIGITS_FEATURES = 64  # 8×8 pixels, row by row
DIGITS_CLASSES = 10
DIGITS_MAX_VALUE = 16.0  # pixel counts 0..16 (on-pixels in a 4×4 block)

Progress = Callable[[float], None]


@lru_cache(maxsize=1)
def _read_digits() -> tuple[np.ndarray, np.ndarray]:
    """Parse the shipped CSV once (65 integer columns, the last one the label)."""
    try:
        with gzip.open(DIGITS_PATH, "rt", encoding="ascii") as handle:
            table = np.loadtxt(handle, delimiter=",", dtype=np.float64)  # (N, 65)
    except (OSError, EOFError, ValueError, zlib.error) as err:  # missing, unreadable or corrupt: a message
        reason = getattr(err, "strerror", None) or type(err).__name__
        raise DataFileError(f"The digits data ({DIGITS_PATH.name}) could not be read ({reason}); the app's "
                            "installation may be incomplete.") from err
    if table.shape != (DIGITS_SAMPLES, DIGITS_FEATURES + 1):
        raise DataFileError(f"{DIGITS_PATH.name} should hold {DIGITS_SAMPLES}×{DIGITS_FEATURES + 1} numbers; "
                            f"got {table.shape}")
    pixels = (table[:, :DIGITS_FEATURES] / DIGITS_MAX_VALUE).astype(np.float32)  # (N, 64) in [0, 1]
    labels = table[:, DIGITS_FEATURES].astype(np.int64)  # (N,)
    pixels.setflags(write=False)
    labels.setflags(write=False)
    return pixels, labels


def load_digits() -> tuple[Tensor, Tensor]:
    """The 1797 handwritten digits as (X, y).

    Returns
    -------
    X : Tensor of shape (1797, 64), float32 in [0, 1]
        8×8 images flattened row by row (pixel counts 0..16 divided by 16).
    y : Tensor of shape (1797,), int64 in 0..9
    """
    pixels, labels = _read_digits()
    return torch.tensor(pixels), torch.tensor(labels)  # copies: callers may modify them


@dataclass(frozen=True)
class DigitsSplit:
    """A seeded train/test split: X_* of shape (N, 64) float32, y_* of shape (N,) int64."""

    X_train: Tensor
    y_train: Tensor
    X_test: Tensor
    y_test: Tensor

    def mirrored(self) -> DigitsSplit:
        """The same split with every image mirrored left-right (the shifted task)."""
        return DigitsSplit(mirror_digits(self.X_train), self.y_train, mirror_digits(self.X_test), self.y_test)


def split_digits(*, test_fraction: float = 0.25, seed: int = 0) -> DigitsSplit:
    """Shuffle the digits with a seeded generator and hold out ``test_fraction`` of them for testing."""
    if not 0.0 < test_fraction < 1.0:
        raise LowRankError(f"test_fraction must be between 0 and 1; got {test_fraction!r}")
    X, y = load_digits()
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(int(seed)))
    test_count = int(round(test_fraction * len(y)))
    test, train = order[:test_count], order[test_count:]
    return DigitsSplit(X[train], y[train], X[test], y[test])


def mirror_digits(X: Tensor) -> Tensor:
    """Mirror each flattened 8×8 image left-right: (N, 64) -> (N, 64)."""
    if X.dim() != 2 or X.shape[1] != DIGITS_FEATURES:
        raise ShapeError(f"expected digits of shape (N, {DIGITS_FEATURES}); got {tuple(X.shape)}")
    return X.reshape(-1, 8, 8).flip(-1).reshape(-1, DIGITS_FEATURES)


def make_mlp(hidden: Sequence[int] = (128, 64), *, inputs: int = DIGITS_FEATURES,
             classes: int = DIGITS_CLASSES, seed: int = 0, device=None) -> nn.Sequential:
    """``Linear(inputs, h1), ReLU, ..., Linear(h_last, classes)`` with a seeded ``nn.Linear``-style init.

    Each weight and bias is U(±1/√fan_in), drawn from a CPU generator seeded with ``seed`` (the global RNG
    is not used), then moved to ``device``.
    """
    sizes = [int(inputs), *[int(h) for h in hidden], int(classes)]
    if any(size < 1 for size in sizes):
        raise ShapeError(f"layer sizes must be positive; got {sizes}")
    generator = torch.Generator().manual_seed(int(seed))
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        linear = torch.nn.utils.skip_init(nn.Linear, fan_in, fan_out)  # no draw from the global RNG
        bound = 1 / math.sqrt(fan_in)
        with torch.no_grad():
            linear.weight.uniform_(-bound, bound, generator=generator)
            linear.bias.uniform_(-bound, bound, generator=generator)
        layers += [linear, nn.ReLU()]
    return nn.Sequential(*layers[:-1]).to(choose_device(device))


@torch.no_grad()
def accuracy(model: nn.Module, X: Tensor, y: Tensor) -> float:
    """Fraction of rows of X (N, features) whose arg-max logit equals y (N,); the model's mode is kept."""
    if X.shape[0] != y.shape[0]:
        raise ShapeError(f"X and y differ in length: {X.shape[0]} vs {y.shape[0]}")
    if X.shape[0] == 0:
        raise ShapeError("accuracy needs at least one sample")
    device = next(model.parameters()).device
    predictions = model(X.to(device)).argmax(dim=1).cpu()  # (N,)
    return float((predictions == y.cpu()).double().mean())


@dataclass(frozen=True)
class TrainResult:
    """A trained (or fine-tuned) model and how it got there.

    Attributes
    ----------
    model : nn.Module
        In eval mode, on the device it trained on.
    losses : tuple of float
        Mean training cross-entropy of each epoch.
    train_accuracy, test_accuracy : float
    trainable_parameters : int
        Parameter entries the optimizer updated.
    epochs : int
    """

    model: nn.Module
    losses: tuple[float, ...]
    train_accuracy: float
    test_accuracy: float
    trainable_parameters: int
    epochs: int


def _check_training(epochs, batch_size, lr) -> None:
    """Whole epochs and batch size in range, a positive finite learning rate."""
    if isinstance(epochs, bool) or int(epochs) != epochs or not 1 <= epochs <= MAX_EPOCHS:
        raise LowRankError(f"epochs must be a whole number between 1 and {MAX_EPOCHS}; got {epochs!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or int(batch_size) != batch_size
                                   or batch_size < 1):
        raise LowRankError(f"batch_size must be a whole number >= 1 (or None for full batch); "
                           f"got {batch_size!r}")
    if not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise LowRankError(f"lr must be a positive number; got {lr!r}")


@contextmanager
def _cpu_threads(device: torch.device, threads: int | None):
    """Limit torch's intra-op threads while training on the CPU, then restore the previous count.

    A 64 → 128 → 64 → 10 MLP on batches of 64 gains nothing from more than one thread, and on cores shared
    with other work extra threads spin and wait: measured here, 20 epochs took 0.35 s on 1 thread and
    2 to 20 s on 2 threads while the 2 cores were busy. The setting is process-wide while it lasts.
    """
    if device.type != "cpu" or threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, int(threads)))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def fit_model(model: nn.Module, split: DigitsSplit, *, epochs: int, batch_size: int | None, lr: float,
         seed: int, progress: Progress | None, threads: int | None = 1) -> TrainResult:
    """Train a model on the digits: Adam on the trainable parameters, cross-entropy, seeded shuffling; eval
    mode afterwards. The one training loop behind ``train_*`` and ``budget_study``."""
    _check_training(epochs, batch_size, lr)
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise LowRankError("the model has no trainable parameter")
    device = parameters[0].device
    with _cpu_threads(device, threads):
        return _fit_loop(model, split, parameters, device, epochs=epochs, batch_size=batch_size, lr=lr,
                         seed=seed, progress=progress)


def _fit_loop(model: nn.Module, split: DigitsSplit, parameters: list, device: torch.device, *, epochs: int,
              batch_size: int | None, lr: float, seed: int, progress: Progress | None) -> TrainResult:
    """The training loop of ``fit_model``."""
    X, y = split.X_train.to(device), split.y_train.to(device)
    count = len(y)
    size = count if batch_size is None else min(int(batch_size), count)
    generator = torch.Generator().manual_seed(int(seed))
    optimizer = torch.optim.Adam(parameters, lr=lr)
    losses = []
    model.train()
    for epoch in range(int(epochs)):
        order = torch.randperm(count, generator=generator).to(device)
        total = 0.0
        for start in range(0, count, size):
            batch = order[start:start + size]
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(X[batch]), y[batch])
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        losses.append(total / count)
        if progress is not None:
            progress((epoch + 1) / epochs)
    model.eval()
    return TrainResult(
        model=model,
        losses=tuple(losses),
        train_accuracy=accuracy(model, split.X_train, split.y_train),
        test_accuracy=accuracy(model, split.X_test, split.y_test),
        trainable_parameters=trainable_parameters(model),
        epochs=int(epochs),
    )


def train_mlp(split: DigitsSplit | None = None, *, hidden: Sequence[int] = (128, 64), epochs: int = 20,
              batch_size: int | None = 64, lr: float = 3e-3, seed: int = 0, device=None,
              progress: Progress | None = None, threads: int | None = 1) -> TrainResult:
    """Train ``make_mlp(hidden)`` on the digits with Adam and mini-batches.

    Parameters
    ----------
    split : DigitsSplit, optional
        Default ``split_digits(seed=0)`` (1348 training, 449 test images).
    hidden : sizes of the hidden layers; the default is the 64 → 128 → 64 → 10 MLP.
    epochs, batch_size, lr : the optimisation (batch_size None = full batch).
    seed : seeds the init and the shuffling.
    device : see ``choose_device``.
    progress : callable, optional
        Called with the fraction done (0..1] after each epoch.
    threads : int or None
        torch's intra-op threads while training on the CPU (restored afterwards); None leaves them alone.
        One is fastest for this small network, far more so when the cores are shared.
    """
    split = split_digits() if split is None else split
    model = make_mlp(hidden, seed=seed, device=device)
    return fit_model(model, split, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, progress=progress,
                threads=threads)


def finetune_full(base: nn.Module, split: DigitsSplit, *, epochs: int = 20, batch_size: int | None = 64,
                  lr: float = 1e-3, seed: int = 0, progress: Progress | None = None,
                  threads: int | None = 1) -> TrainResult:
    """Fine-tune a deep copy of ``base`` with every parameter trainable (``base`` is not modified).

    Adam, as ``train_mlp``; ``trainable_parameters`` counts every parameter.
    """
    model = copy.deepcopy(base)
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return fit_model(model, split, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, progress=progress,
                threads=threads)


def finetune_lora(base: nn.Module, rank: int, split: DigitsSplit, *, alpha: float | None = None,
                  epochs: int = 20, batch_size: int | None = 64, lr: float = 1e-2, seed: int = 0,
                  progress: Progress | None = None, threads: int | None = 1) -> TrainResult:
    """Train LoRA adapters of ``rank`` on every linear layer of a frozen copy of ``base``.

    ``apply_lora`` makes the copy (``base`` is not modified) and clips the rank per layer to min(in, out).
    Only ``lora_A`` and ``lora_B`` train; ``trainable_parameters`` counts them: Σ r(in + out).
    """
    model = apply_lora(base, rank, alpha, seed=seed)
    return fit_model(model, split, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, progress=progress,
                threads=threads)


@dataclass(frozen=True)
class DeltaSpectrum:
    """Singular values of one layer's fine-tuning change ΔW = W_ft − W_base beside W_base's own.

    Attributes
    ----------
    name : str
    shape : (out, in)
    base_S, delta_S : Tensor of shape (min(out, in),), float64, descending
    base_energy_rank, delta_energy_rank : int
        Smallest rank keeping ``energy`` of ‖W_base‖_F², resp. ‖ΔW‖_F².
    energy : float
    relative_change : float
        ‖ΔW‖_F / ‖W_base‖_F.
    """

    name: str
    shape: tuple[int, int]
    base_S: Tensor
    delta_S: Tensor
    base_energy_rank: int
    delta_energy_rank: int
    energy: float
    relative_change: float


def delta_spectrum(base: nn.Module, finetuned: nn.Module, *, energy: float = 0.9) -> list[DeltaSpectrum]:
    """Per linear layer, the spectra of W_base and of ΔW = W_ft − W_base (float64 SVD on the CPU).

    Layers are matched by name (``effective_weights``), so ``finetuned`` may be a full fine-tune of a copy
    of ``base`` or its LoRA copy (whose merged weights are compared).
    """
    if not 0.0 < energy <= 1.0:
        raise LowRankError(f"energy must be a fraction in (0, 1]; got {energy!r}")
    base_weights = effective_weights(base)
    tuned_weights = effective_weights(finetuned)
    if set(base_weights) != set(tuned_weights):
        raise ShapeError(f"the models' linear layers differ: {sorted(base_weights)} vs "
                         f"{sorted(tuned_weights)}")
    spectra = []
    for name, W_base in base_weights.items():
        W_base = W_base.double().cpu()  # (out, in)
        W_tuned = tuned_weights[name].double().cpu()
        if W_base.shape != W_tuned.shape:
            raise ShapeError(f"layer {name!r} changed shape: {tuple(W_base.shape)} vs {tuple(W_tuned.shape)}")
        delta = W_tuned - W_base
        base_S = torch.linalg.svdvals(W_base)  # (k,)
        delta_S = torch.linalg.svdvals(delta)  # (k,)
        base_norm = float(torch.linalg.vector_norm(W_base))
        spectra.append(DeltaSpectrum(
            name=name,
            shape=tuple(W_base.shape),
            base_S=base_S,
            delta_S=delta_S,
            base_energy_rank=rank_for_energy(base_S, energy),
            delta_energy_rank=rank_for_energy(delta_S, energy),
            energy=float(energy),
            relative_change=float(torch.linalg.vector_norm(delta)) / base_norm if base_norm > 0 else 0.0,
        ))
    return spectra


def parameter_count(model: nn.Module) -> int:
    """Every parameter entry of the model (trainable or frozen), as ``sum(p.numel())``."""
    return sum(p.numel() for p in model.parameters())


@dataclass(frozen=True)
class SweepPoint:
    """Accuracy of a model with some linear layers truncated to one rank.

    Attributes
    ----------
    scope : str
        "all" (every linear layer at ``rank``) or the name of the one layer truncated.
    rank : int
        The requested rank (each layer's is clipped to min(out, in)).
    accuracy : float
    parameters : int
        All parameter entries of the truncated model (factors, biases and untouched layers).
    """

    scope: str
    rank: int
    accuracy: float
    parameters: int


def compression_sweep(model: nn.Module, X: Tensor, y: Tensor, ranks: Sequence[int], *,
                      scopes: Sequence[str] | None = None, threads: int | None = 1) -> list[SweepPoint]:
    """Accuracy against rank for each linear layer truncated alone and for all of them together.

    Every layer is factored (``compress_model(..., dense_fallback=False)``), so the curve shows the
    truncation itself even above the break-even rank; ``model`` is not modified. A layer alone is swept
    only up to its own min(out, in).

    Parameters
    ----------
    model : nn.Module
    X, y : the evaluation data, (N, features) and (N,).
    ranks : ranks to try (each >= 1).
    scopes : "all" and/or layer names; default "all" followed by every linear layer.
    threads : torch's intra-op threads on the CPU during the sweep (many tiny SVDs and forwards); None
        leaves them alone.
    """
    device = next(model.parameters()).device
    with _cpu_threads(device, threads):
        return _sweep(model, X, y, ranks, scopes)


def _sweep(model: nn.Module, X: Tensor, y: Tensor, ranks: Sequence[int],
           scopes: Sequence[str] | None) -> list[SweepPoint]:
    """The loop of ``compression_sweep``."""
    names = list(effective_weights(model))
    scopes = ["all", *names] if scopes is None else list(scopes)
    limits = {name: min(weight.shape) for name, weight in effective_weights(model).items()}
    factorizations = layer_factorizations(model)  # one SVD per layer; every point only slices them
    points = []
    for scope in scopes:
        layers = None if scope == "all" else [scope]
        if scope != "all" and scope not in limits:
            raise LowRankError(f"no linear layer named {scope!r}; the model's are {names}")
        limit = max(limits.values()) if scope == "all" else limits[scope]
        for rank in sorted({int(r) for r in ranks}):
            if rank > limit:
                continue
            compressed, _ = compress_model(model, rank=rank, dense_fallback=False, layers=layers,
                                           factorizations=factorizations)
            points.append(SweepPoint(scope=scope, rank=rank, accuracy=accuracy(compressed, X, y),
                                     parameters=parameter_count(compressed)))
    return points
