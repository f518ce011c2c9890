"""Benchmark of the SVD engine: exact torch and randomized top-200 against numpy's LAPACK, side by side.

    python benchmarks/factorize.py [--json] [--no-fail] [--skip-large] [--repeats N]

For each input (512×512 grey, 1920×1080 grey, 1920×1080 RGB, 4000×3000 RGB, all from a real photograph:
``sources.sample_photo_1080p()`` and a Lanczos upscale of it), the three methods run in turn within each
repeat (round-robin, so a load spike on a shared machine hits all three alike), and the table shows their
median times, the ratios numpy / exact and exact / randomized, and the Frobenius error of the randomized
rank-200 truncation over the optimal rank-200 error (Eckart–Young, from the exact singular values).

Targets (exit status 1 when one fails, unless --no-fail):
- exact torch at least 1.3× faster than numpy on the 1920×1080 RGB image;
- randomized top-200 on the 4000×3000 RGB image in at most 0.1× the exact time, and within 0.5 % of the
  optimal error.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lowrank_core.factorize import factorize  # noqa: E402
from lowrank_core.sources import sample_photo_1080p  # noqa: E402

RANK = 200
TARGET_EXACT_OVER_NUMPY = 1.3  # numpy time / exact time on 1080p RGB, at least
TARGET_RANDOMIZED_TIME = 0.1  # randomized time / exact time on 4000×3000 RGB, at most
TARGET_RANDOMIZED_ERROR = 0.005  # randomized error / optimal error - 1 on 4000×3000 RGB, at most
REPEATS = {"512x512 grey": 5, "1920x1080 grey": 3, "1920x1080 RGB": 3, "4000x3000 RGB": 1}


def _inputs(skip_large: bool) -> dict[str, torch.Tensor]:
    """name -> (m, n) or (C, m, n) float32 in [0, 1], from the shipped photograph."""
    photo = sample_photo_1080p()  # (3, 1080, 1920)
    grey = 0.299 * photo[0] + 0.587 * photo[1] + 0.114 * photo[2]  # (1080, 1920), ITU-R 601 luma
    top, left = (1080 - 512) // 2, (1920 - 512) // 2
    cases = {
        "512x512 grey": grey[top:top + 512, left:left + 512].contiguous(),
        "1920x1080 grey": grey.contiguous(),
        "1920x1080 RGB": photo,
    }
    if not skip_large:
        pixels = (photo.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()  # (1080, 1920, 3)
        large = Image.fromarray(pixels).resize((4000, 3000), Image.Resampling.LANCZOS)
        cases["4000x3000 RGB"] = torch.from_numpy(np.asarray(large, dtype=np.float32) / 255).permute(2, 0, 1)
    return cases


def _timed(function: Callable[[], object]) -> tuple[float, object]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def _numpy_svd(channels: np.ndarray) -> list:
    """numpy's thin SVD (float64, LAPACK gesdd) of each channel."""
    return [np.linalg.svd(channel, full_matrices=False) for channel in channels]


def measure(name: str, x: torch.Tensor, repeats: int, log: Callable[[str], None]) -> dict:
    """Median times of exact torch, numpy and randomized top-RANK on ``x``, and the randomized error."""
    x64 = x.double().numpy().reshape(-1, *x.shape[-2:])  # (C, m, n), converted outside the timing
    times: dict[str, list[float]] = {"exact": [], "numpy": [], "randomized": []}
    exact = randomized = None
    for repeat in range(repeats):
        seconds, exact = _timed(lambda: factorize(x, method="exact"))
        times["exact"].append(seconds)
        seconds, _ = _timed(lambda: _numpy_svd(x64))
        times["numpy"].append(seconds)
        seconds, randomized = _timed(lambda: factorize(x, method="randomized", max_rank=RANK))
        times["randomized"].append(seconds)
        log(f"{name}: repeat {repeat + 1}/{repeats}: exact {times['exact'][-1]:.2f} s, "
            f"numpy {times['numpy'][-1]:.2f} s, randomized {times['randomized'][-1]:.2f} s")
    medians = {method: statistics.median(values) for method, values in times.items()}
    optimal = float(exact.S.double()[..., RANK:].pow(2).sum().sqrt())  # Eckart–Young, all channels
    measured = float(torch.linalg.vector_norm(x - randomized.reconstruct(RANK), dtype=torch.float64))
    return {
        "case": name,
        "shape": list(x.shape),
        "repeats": repeats,
        "exact_s": medians["exact"],
        "numpy_s": medians["numpy"],
        "randomized_s": medians["randomized"],
        "numpy_over_exact": medians["numpy"] / medians["exact"],
        "exact_over_randomized": medians["exact"] / medians["randomized"],
        "randomized_over_exact": medians["randomized"] / medians["exact"],
        "optimal_error": optimal,
        "randomized_error": measured,
        "randomized_excess_error": measured / optimal - 1 if optimal > 0 else 0.0,
    }


def evaluate(rows: list[dict]) -> list[dict]:
    """The targets with their measured values and PASS / FAIL / NOT MEASURED."""
    by_case = {row["case"]: row for row in rows}
    checks = []

    def check(label, case, key, value_ok, target_text):
        row = by_case.get(case)
        value = row[key] if row else None
        status = "NOT MEASURED" if value is None else ("PASS" if value_ok(value) else "FAIL")
        checks.append({"target": label, "case": case, "measured": value, "required": target_text,
                       "status": status})

    check("exact torch vs numpy (numpy time / exact time)", "1920x1080 RGB", "numpy_over_exact",
          lambda v: v >= TARGET_EXACT_OVER_NUMPY, f">= {TARGET_EXACT_OVER_NUMPY}")
    check("randomized top-200 time / exact time", "4000x3000 RGB", "randomized_over_exact",
          lambda v: v <= TARGET_RANDOMIZED_TIME, f"<= {TARGET_RANDOMIZED_TIME}")
    check("randomized top-200 error / optimal error - 1", "4000x3000 RGB", "randomized_excess_error",
          lambda v: v <= TARGET_RANDOMIZED_ERROR, f"<= {TARGET_RANDOMIZED_ERROR}")
    return checks


def environment() -> dict:
    """What the timings depend on: threads, BLAS, the load of the machine."""
    try:
        from threadpoolctl import threadpool_info  # optional

        pools = [{key: pool.get(key) for key in ("internal_api", "num_threads", "version", "architecture")}
                 for pool in threadpool_info()]
    except ImportError:
        pools = "threadpoolctl not installed"
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "numpy_blas": f"{blas.get('name')} {blas.get('version')}",
        "threadpools": pools,
        **{name.lower(): os.environ.get(name, "(not set)")
           for name in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")},
    }


def format_table(rows: list[dict], checks: list[dict], env: dict) -> str:
    """The report as a fixed-width table."""
    header = (f"{'case':<16}{'shape':<16}{'reps':>5}{'exact s':>10}{'numpy s':>10}{'rand s':>9}"
              f"{'numpy/exact':>13}{'exact/rand':>12}{'rand err/opt':>14}")
    lines = ["Environment: " + ", ".join(f"{key}={value}" for key, value in env.items()), "", header,
             "-" * len(header)]
    for row in rows:
        shape = "x".join(map(str, row["shape"]))
        lines.append(
            f"{row['case']:<16}{shape:<16}{row['repeats']:>5}{row['exact_s']:>10.3f}"
            f"{row['numpy_s']:>10.3f}{row['randomized_s']:>9.3f}{row['numpy_over_exact']:>13.2f}"
            f"{row['exact_over_randomized']:>12.2f}{1 + row['randomized_excess_error']:>14.5f}"
        )
    lines += ["", f"Times are medians; randomized = factorize(method='randomized', max_rank={RANK}); "
              "rand err/opt = ‖x - x_200‖_F (randomized) / optimal ‖x - x_200‖_F.", "", "Targets:"]
    for item in checks:
        measured = "-" if item["measured"] is None else f"{item['measured']:.4f}"
        lines.append(f"  [{item['status']}] {item['target']} on {item['case']}: {measured} "
                     f"(required {item['required']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even when a target fails")
    parser.add_argument("--skip-large", action="store_true", help="leave out the 4000x3000 case")
    parser.add_argument("--repeats", type=int, default=None,
                        help="repeats for every case (default: 5, 3, 3 and 1 from small to large)")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    rows = []
    for name, x in _inputs(args.skip_large).items():
        rows.append(measure(name, x, args.repeats or REPEATS[name], log))
    checks = evaluate(rows)
    env = environment()
    if args.json:
        print(json.dumps({"environment": env, "rows": rows, "targets": checks}, indent=2))
    else:
        print(format_table(rows, checks, env))
    failed = any(item["status"] == "FAIL" for item in checks)
    return 1 if failed and not args.no_fail else 0


if __name__ == "__main__":
    sys.exit(main())
