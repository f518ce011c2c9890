"""Inspecting, allocating and exporting checkpoints, against numpy measured in the same run.

    python benchmarks/checkpoint.py                  # 50 weights of 1024×1024 and one of 4096×4096
    python benchmarks/checkpoint.py --weights 10 --large 2048 --repeats 1   # a quick look
    python benchmarks/checkpoint.py --json           # the rows as JSON as well

1. A safetensors checkpoint of ``--weights`` float32 weights of ``--size``² (seeded Gaussians with column
   scales decaying at a different rate per layer, so the spectra differ): ``read_checkpoint`` against
   ``safetensors.torch.load`` of the same bytes, and ``inspect_checkpoint`` (exact: singular values only;
   and randomized: the leading 256 of 512 triplets) against ``numpy.linalg.svd(compute_uv=False)`` of the
   same float32 matrices.
2. One weight of ``--large``² (default 4096): ``inspect_weight`` exact and randomized (the leading 256 of
   512 triplets) against numpy's singular values of the same matrix, and the randomized values' largest
   relative error against the exact ones.
3. The greedy allocation at a quarter of the parameters and ``export_factored`` of the 50-weight file.
4. The forward pass at each weight's own shape (``weight_timing``: ``torch.utils.benchmark``, batch 64):
   dense against factored at the greedy rank and at shares of the break-even rank, with the FLOP ratio.

One thread for torch and for numpy's BLAS (set before they are imported), as the other benchmarks: two
threads on a shared 2-core machine give meaningless timings. Each timed step is repeated ``--repeats``
times, round-robin with its baseline, and the medians are shown.
"""

from __future__ import annotations

import argparse
import os
import sys

_THREADS = "1"
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, _THREADS)

import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import safetensors.torch  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import load as load_safetensors  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lowrank_core.allocation import allocate_ranks  # noqa: E402
from lowrank_core.checkpoint import (  # noqa: E402
    RANDOMIZED_OVERSAMPLING,
    RANDOMIZED_RANK,
    export_factored,
    inspect_checkpoint,
    inspect_weight,
    read_checkpoint,
    weight_timing,
)
from lowrank_core.factorize import choose_device  # noqa: E402


def _weights(count: int, size: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """``count`` float32 (size, size) weights whose column scales decay at rates from 0.5 to 5 decades."""
    generator = torch.Generator().manual_seed(seed)
    weights = {}
    for i in range(count):
        decades = 0.5 + 4.5 * i / max(count - 1, 1)
        scales = torch.logspace(0, -decades, size)  # (size,)
        weights[f"layers.{i}.weight"] = torch.randn(size, size, generator=generator) * scales
    return weights


def _timed(function, repeats: int) -> tuple[float, object]:
    """(median seconds over ``repeats`` calls, the last result)."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _pair(first, second, repeats: int) -> tuple[float, float, object]:
    """Medians of two steps timed round-robin, and the first step's result."""
    first_times, second_times, result = [], [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = first()
        first_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        second()
        second_times.append(time.perf_counter() - start)
    return statistics.median(first_times), statistics.median(second_times), result


def _numpy_singular_values(matrices) -> list[np.ndarray]:
    return [np.linalg.svd(matrix, compute_uv=False) for matrix in matrices]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=int, default=50)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--large", type=int, default=4096)
    parser.add_argument("--budget", type=float, default=0.25)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--large-repeats", type=int, default=1)
    parser.add_argument("--min-run-time", type=float, default=0.2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    device = choose_device()
    rows = []
    print(f"torch {torch.__version__} on {device} (1 thread), numpy {np.__version__} "
          f"(BLAS threads {os.environ['OPENBLAS_NUM_THREADS']}), {platform.machine()}, "
          f"load average {os.getloadavg()[0]:.2f}")

    # 1. read and inspect the many-weight file
    weights = _weights(args.weights, args.size)
    data = safetensors.torch.save(weights)
    read_s, load_s, checkpoint = _pair(lambda: read_checkpoint(data, name="bench.safetensors"),
                                       lambda: load_safetensors(data), args.repeats)
    matrices = [weights[name].numpy() for name in checkpoint.weights]  # the checkpoint's order
    inspect_s, numpy_s, inspection = _pair(lambda: inspect_checkpoint(checkpoint, method="exact"),
                                           lambda: _numpy_singular_values(matrices), args.repeats)
    randomized_file_s, randomized_file = _timed(lambda: inspect_checkpoint(checkpoint, method="randomized"),
                                                args.repeats)
    reference = _numpy_singular_values(matrices)
    pairs = zip(inspection.weights, reference, strict=True)
    worst = max(float(np.max(np.abs(weight.S.numpy() - S) / S[0])) for weight, S in pairs)
    pairs = zip(randomized_file.weights, reference, strict=True)
    worst_randomized = max(float(np.max(np.abs(w.S.numpy() - S[:w.S.numel()]) / S[:w.S.numel()]))
                           for w, S in pairs)
    size_mb = len(data) / 2**20
    print(f"\n1. {args.weights} weights of {args.size}×{args.size} float32 ({size_mb:.0f} MB safetensors), "
          f"medians of {args.repeats}")
    print(f"{'step':<44} {'seconds':>9} {'baseline':>9} {'ratio':>7}")
    print(f"{'read_checkpoint vs safetensors.torch.load':<44} {read_s:>9.3f} {load_s:>9.3f} "
          f"{read_s / load_s:>6.2f}×")
    print(f"{'inspect_checkpoint (exact) vs numpy svdvals':<44} {inspect_s:>9.3f} {numpy_s:>9.3f} "
          f"{inspect_s / numpy_s:>6.2f}×")
    label = f"inspect_checkpoint (randomized {RANDOMIZED_RANK}) vs numpy"
    print(f"{label:<44} {randomized_file_s:>9.3f} {numpy_s:>9.3f} {randomized_file_s / numpy_s:>6.2f}×")
    print(f"   per weight: exact {inspect_s / args.weights * 1000:.0f} ms, randomized "
          f"{randomized_file_s / args.weights * 1000:.0f} ms; largest |σ − σ_numpy| / σ₁ = {worst:.1e} "
          f"(exact), largest relative error of a randomized σᵢ = {worst_randomized:.1e}")
    rows += [{"step": "read", "seconds": read_s, "baseline_seconds": load_s},
             {"step": "inspect_exact", "seconds": inspect_s, "baseline_seconds": numpy_s,
              "weights": args.weights, "size": args.size},
             {"step": "inspect_randomized", "seconds": randomized_file_s, "baseline_seconds": numpy_s,
              "weights": args.weights, "size": args.size, "max_relative_error": worst_randomized}]

    # 2. one large weight, exact and randomized
    large = _weights(1, args.large, seed=1)["layers.0.weight"]
    exact_s, numpy_large_s, exact = _pair(lambda: inspect_weight("big", large, method="exact"),
                                          lambda: np.linalg.svd(large.numpy(), compute_uv=False),
                                          args.large_repeats)
    randomized_s, randomized = _timed(lambda: inspect_weight("big", large, method="randomized"),
                                      max(args.repeats, 1))
    k = randomized.S.numel()
    relative = (randomized.S - exact.S[:k]).abs() / exact.S[:k]  # (k,)
    error, leading_error = float(relative.max()), float(relative[: k // 2].max())
    print(f"\n2. one weight of {args.large}×{args.large} float32")
    print(f"{'step':<44} {'seconds':>9} {'numpy':>9} {'numpy/this':>10}")
    print(f"{'inspect_weight exact (svdvals)':<44} {exact_s:>9.2f} {numpy_large_s:>9.2f} "
          f"{numpy_large_s / exact_s:>9.2f}×")
    label = f"inspect_weight randomized ({RANDOMIZED_RANK} of {RANDOMIZED_OVERSAMPLING * RANDOMIZED_RANK})"
    print(f"{label:<44} {randomized_s:>9.2f} "
          f"{numpy_large_s:>9.2f} {numpy_large_s / randomized_s:>9.2f}×")
    print(f"   randomized / exact time {randomized_s / exact_s:.3f}; largest relative error of its "
          f"{k} values {error:.1e} (of the leading {k // 2}: {leading_error:.1e}); stable rank exact "
          f"{exact.stable_rank:.2f}, randomized {randomized.stable_rank:.2f}")
    rows += [{"step": "inspect_large_exact", "seconds": exact_s, "baseline_seconds": numpy_large_s,
              "size": args.large},
             {"step": "inspect_large_randomized", "seconds": randomized_s, "baseline_seconds": numpy_large_s,
              "size": args.large, "max_relative_error": error, "leading_relative_error": leading_error}]

    # 3. allocation and export
    spectra = inspection.spectra()
    allocate_s, allocation = _timed(lambda: allocate_ranks(spectra, fraction=args.budget), args.repeats)
    uniform = allocate_ranks(spectra, fraction=args.budget, method="uniform")
    energy = allocate_ranks(spectra, fraction=args.budget, method="energy")
    export_s, exported = _timed(lambda: export_factored(checkpoint, allocation, method="exact"), 1)
    ranks = sorted(allocation.rank_pattern.values())
    print(f"\n3. budget {args.budget:.0%} of {allocation.parameters_before:,} parameters")
    print(f"   allocate_ranks greedy: {allocate_s * 1000:.0f} ms ({allocation.solver}); ranks "
          f"{ranks[0]}..{ranks[-1]}; relative error greedy {allocation.relative_error:.4f}, uniform "
          f"{uniform.relative_error:.4f}, energy {energy.relative_error:.4f}")
    print(f"   export_factored (exact SVD of {len(allocation.rank_pattern)} weights): {export_s:.2f} s, "
          f"{len(exported.data) / 2**20:.0f} MB written ({exported.parameters_after:,} parameters)")
    rows += [{"step": "allocate_greedy", "seconds": allocate_s, "solver": allocation.solver,
              "relative_error": {"greedy": allocation.relative_error, "uniform": uniform.relative_error,
                                 "energy": energy.relative_error}},
             {"step": "export", "seconds": export_s}]

    # 4. forward speed-up at each weight's own shape
    median_rank = ranks[len(ranks) // 2]
    print(f"\n4. forward, batch 64, dense vs factored (torch.utils.benchmark, min_run_time "
          f"{args.min_run_time} s)")
    print(f"{'shape':>11} {'rank':>6} {'dense ms':>9} {'factored ms':>12} {'speed-up':>9} "
          f"{'FLOP ratio':>11}")
    for side, extra in ((args.size, median_rank), (args.large, None)):
        chosen = sorted({max(1, int(side / 2 * share)) for share in (1 / 32, 1 / 8, 1 / 2, 1)}
                        | ({extra} if extra else set()))
        timings = weight_timing((side, side), ranks=chosen, device=device, min_run_time=args.min_run_time)
        for timing in timings:
            note = "  (greedy median)" if timing.rank == extra else ""
            print(f"{f'{side}×{side}':>11} {timing.rank:>6} {timing.dense_seconds * 1000:>9.3f} "
                  f"{timing.factored_seconds * 1000:>12.3f} {timing.speedup:>8.2f}× "
                  f"{timing.flop_ratio:>10.2f}×{note}")
            rows.append({"step": "forward", "shape": [side, side], "rank": timing.rank,
                         "dense_seconds": timing.dense_seconds, "factored_seconds": timing.factored_seconds})
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
