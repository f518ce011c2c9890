"""How fast a factored layer is: forward time of ``LowRankLinear`` against a dense ``nn.Linear``.

Timings come from ``torch.utils.benchmark`` (medians of blocked runs), side by side in one process, so a
page or a benchmark shows ratios measured together rather than absolute numbers from different runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ._checks import is_whole, layer_rank, layer_sizes
from .errors import LowRankError
from .factorize import choose_device
from .layers import LowRankLinear

__all__ = [
    "ForwardTiming",
    "time_forward",
    "measured_crossover_rank",
]


@dataclass(frozen=True)
class ForwardTiming:
    """Median forward time of a dense ``nn.Linear`` and a ``LowRankLinear`` of the same size.

    Attributes
    ----------
    out_features, in_features, rank, batch : int
    dense_seconds, factored_seconds : float
        Medians from ``torch.utils.benchmark.Timer.blocked_autorange``.
    device : str
    threads : int
        Intra-op threads the timer used.
    """

    out_features: int
    in_features: int
    rank: int
    batch: int
    dense_seconds: float
    factored_seconds: float
    device: str
    threads: int

    @property
    def speedup(self) -> float:
        """dense / factored time (above 1: the factored layer is faster)."""
        return self.dense_seconds / self.factored_seconds if self.factored_seconds > 0 else math.inf

    @property
    def flop_ratio(self) -> float:
        """Dense FLOPs / factored FLOPs: out·in / (r(out + in))."""
        return self.out_features * self.in_features / (self.rank * (self.out_features + self.in_features))


def _median_seconds(module: nn.Module, x: Tensor, min_run_time: float, threads: int) -> float:
    """Median time of ``module(x)`` under no_grad, by torch.utils.benchmark with ``threads`` threads."""
    from torch.utils import benchmark

    timer = benchmark.Timer(stmt="with torch.no_grad(): module(x)", globals={"module": module, "x": x,
                                                                            "torch": torch},
                            num_threads=threads)
    return float(timer.blocked_autorange(min_run_time=min_run_time).median)


def time_forward(out_features: int, in_features: int, ranks: Sequence[int], *, batch: int = 64,
                 device=None, min_run_time: float = 0.2, seed: int = 0,
                 threads: int | None = None) -> list[ForwardTiming]:
    """Time a dense layer once and a ``LowRankLinear`` at each rank, side by side, on random weights.

    The timing does not depend on the weight's values, so the layers are random (no SVD of a large
    matrix is needed). Inputs are a (batch, in) normal batch.

    ``threads`` is the intra-op thread count during the timing (default: torch's current one). On cores
    shared with other work, one thread gives stable numbers; several threads spin and wait, and their
    times can swing tenfold from one measurement to the next.

    Returns
    -------
    list of ForwardTiming
        One per rank, all sharing the one dense measurement.
    """
    layer_sizes(in_features, out_features)
    ranks = [layer_rank(r, in_features, out_features) for r in ranks]
    if not is_whole(batch) or batch < 1:
        raise LowRankError(f"batch must be a whole number >= 1; got {batch!r}")
    if not min_run_time > 0:
        raise LowRankError(f"min_run_time must be positive; got {min_run_time!r}")
    device = choose_device(device)
    threads = torch.get_num_threads() if threads is None else int(threads)
    if threads < 1:
        raise LowRankError(f"threads must be >= 1; got {threads}")
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(int(batch), in_features, generator=generator).to(device)
    dense = nn.Linear(in_features, out_features, device=device)
    dense_seconds = _median_seconds(dense, x, min_run_time, threads)
    timings = []
    for rank in ranks:
        low = LowRankLinear(in_features, out_features, rank, device=device)
        timings.append(ForwardTiming(
            out_features=out_features, in_features=in_features, rank=rank, batch=int(batch),
            dense_seconds=dense_seconds, factored_seconds=_median_seconds(low, x, min_run_time, threads),
            device=str(device), threads=threads,
        ))
    return timings


def measured_crossover_rank(timings: Sequence[ForwardTiming]) -> int | None:
    """The smallest measured rank from which on the factored layer is never faster than the dense one.

    That is the rank just after the largest measured rank at which it is still faster, so one noisy slow
    measurement at a small rank does not move the crossover. ``None`` when it is faster at the largest
    measured rank (the crossover lies above it).
    """
    crossover = None
    for timing in sorted(timings, key=lambda t: t.rank, reverse=True):
        if timing.factored_seconds < timing.dense_seconds:
            break
        crossover = timing.rank
    return crossover
