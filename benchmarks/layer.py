"""Forward time of a dense nn.Linear against LowRankLinear (x bᵀ aᵀ), side by side, by torch.utils.benchmark.

    python benchmarks/layer.py                 # table; exit status 1 when a target fails
    python benchmarks/layer.py --sizes 1024    # fewer sizes
    python benchmarks/layer.py --no-fail       # always exit 0
    python benchmarks/layer.py --json          # one JSON object per row as well
    python benchmarks/layer.py --page          # instead: how long the Layers and LoRA page takes

For each square size n (1024, 2048, 4096) and each rank r < n among 16, 64, 256, 512, 1024, 2048, 3072, a
batch of 64 random inputs goes through a random dense layer and a random ``LowRankLinear`` of rank r under
``torch.no_grad()``. Each repeat times the dense layer and then every rank, round-robin (so a load spike on
a shared machine hits them alike); the table shows medians over the repeats of the
``Timer.blocked_autorange`` medians, the speed-up dense / factored, the FLOP ratio n² / (2rn) = n / (2r),
and per size the measured crossover rank (``measured_crossover_rank``: the smallest measured rank from
which on the factored layer is never faster) beside the FLOP break-even n/2.

Threads: one by default (``--threads 0`` keeps torch's own count). On this project's shared 2-core
machines two threads spin and wait whenever other work runs: measured here, the same 4096×4096 rank-16
layer took 0.26 ms in one repeat and 48 ms at rank 64 in the next, while one thread tracked the FLOP
ratio within about 10 % (31.5× measured against 32× at n = 4096, r = 64).

``--page`` drives the page with ``streamlit.testing.v1.AppTest`` in this (fresh) process instead: the
first visit of each section (the lab, then the compress section, which trains the MLP, then LoRA, which
fine-tunes five times), then a second visit of each (everything cached), and a rank move in the lab.
The About page's first run is the baseline (Streamlit, torch import and the app shell).

Target (exit status 1 when it fails, unless --no-fail): at n = 4096 and r = 64 the factored layer is at
least 4× faster than the dense one (its FLOP ratio is 32×; the margin absorbs a noisy machine).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils import benchmark

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lowrank_core.budget import break_even_rank, flops  # noqa: E402
from lowrank_core.factorize import choose_device  # noqa: E402
from lowrank_core.layers import LowRankLinear, sample_inputs  # noqa: E402
from lowrank_core.timing import ForwardTiming, measured_crossover_rank  # noqa: E402

SIZES = (1024, 2048, 4096)
RANKS = (16, 64, 256, 512, 1024, 2048, 3072)
BATCH = 64
TARGET_SIZE, TARGET_RANK, TARGET_SPEEDUP = 4096, 64, 4.0


def median_seconds(module: nn.Module, x: torch.Tensor, min_run_time: float) -> float:
    """Median seconds of module(x) by blocked_autorange, with torch's thread count."""
    timer = benchmark.Timer(stmt="with torch.no_grad(): module(x)",
                            globals={"module": module, "x": x, "torch": torch},
                            num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median


def run_size(n: int, ranks: list[int], *, repeats: int, min_run_time: float, device) -> list[dict]:
    """Rows for one size: dense and every rank, round-robin over the repeats."""
    torch.manual_seed(0)
    x = sample_inputs(BATCH, n, seed=0).to(device)
    dense = nn.Linear(n, n, device=device)
    factored = {r: LowRankLinear(n, n, r, device=device) for r in ranks}
    dense_times, factored_times = [], {r: [] for r in ranks}
    for _ in range(repeats):
        dense_times.append(median_seconds(dense, x, min_run_time))
        for r in ranks:
            factored_times[r].append(median_seconds(factored[r], x, min_run_time))
    dense_median = statistics.median(dense_times)
    rows = []
    for r in ranks:
        dense_flops, factored_flops = flops(n, n, r, batch=BATCH)
        factored_median = statistics.median(factored_times[r])
        rows.append({"n": n, "rank": r, "dense_ms": 1e3 * dense_median, "factored_ms": 1e3 * factored_median,
                     "speedup": dense_median / factored_median, "flop_ratio": dense_flops / factored_flops})
    return rows


def page_timings() -> int:
    """Time the Layers and LoRA page's sections under AppTest: first and second visits."""
    import time

    from streamlit.testing.v1 import AppTest

    app = str(Path(__file__).resolve().parents[1] / "app.py")
    start = time.perf_counter()
    at = AppTest.from_file(app, default_timeout=300)
    at.run()
    at.switch_page("pages/about.py").run()
    baseline = time.perf_counter() - start
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; baseline (app shell, About page, "
          f"imports): {baseline:.2f} s")
    at.switch_page("pages/layer.py")
    rows = []
    for visit in ("first", "second"):
        for section in ("Layer lab", "Compress a trained network", "LoRA fine-tuning"):
            at.session_state["layer_section"] = section
            start = time.perf_counter()
            at.run()
            rows.append((visit, section, time.perf_counter() - start))
            if at.exception:
                print(at.exception)
                return 1
    at.session_state["layer_section"] = "Layer lab"
    at.run()
    start = time.perf_counter()
    at.slider(key="layer_rank").set_value(8).run()
    rows.append(("rerun", "lab: rank slider move", time.perf_counter() - start))
    print(f"{'visit':<7} {'section':<30} {'seconds':>8}")
    for visit, section, seconds in rows:
        print(f"{visit:<7} {section:<30} {seconds:>8.2f}")
    first = sum(seconds for visit, _, seconds in rows if visit == "first")
    second = sum(seconds for visit, _, seconds in rows if visit == "second")
    print(f"all three sections: first visit {first:.2f} s, second visit {second:.2f} s "
          f"({first / max(second, 1e-9):.0f}× faster)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--ranks", type=int, nargs="+", default=list(RANKS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--min-run-time", type=float, default=0.2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1,
                        help="intra-op threads while timing (0: torch's own count); default 1")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--page", action="store_true", help="time the page's sections instead")
    parser.add_argument("--no-fail", action="store_true")
    args = parser.parse_args()
    if args.page:
        return page_timings()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = choose_device(args.device)
    print(f"torch {torch.__version__} on {device} ({torch.get_num_threads()} threads), "
          f"{platform.processor() or platform.machine()}; batch {BATCH}, {args.repeats} repeats, "
          f"min_run_time {args.min_run_time} s")
    header = f"{'n':>5} {'rank':>5} {'dense ms':>9} {'factored ms':>12} {'speed-up':>9} {'FLOP ratio':>11}"
    print(header)
    print("-" * len(header))
    all_rows, crossovers = [], {}
    for n in args.sizes:
        ranks = [r for r in args.ranks if r < n]
        rows = run_size(n, ranks, repeats=args.repeats, min_run_time=args.min_run_time, device=device)
        for row in rows:
            print(f"{row['n']:>5} {row['rank']:>5} {row['dense_ms']:>9.3f} {row['factored_ms']:>12.3f} "
                  f"{row['speedup']:>8.2f}× {row['flop_ratio']:>10.2f}×")
            if args.json:
                print(json.dumps(row))
        crossovers[n] = measured_crossover_rank([
            ForwardTiming(n, n, row["rank"], BATCH, row["dense_ms"], row["factored_ms"], str(device),
                          torch.get_num_threads()) for row in rows])
        all_rows += rows
        print()
    print(f"{'n':>5} {'measured crossover rank':>24} {'FLOP break-even n/2':>20}")
    for n, rank in crossovers.items():
        measured = f"{rank}" if rank is not None else f"> {max(r for r in args.ranks if r < n)}"
        print(f"{n:>5} {measured:>24} {break_even_rank(n, n):>20g}")
    target = [row for row in all_rows if row["n"] == TARGET_SIZE and row["rank"] == TARGET_RANK]
    if target:
        ok = target[0]["speedup"] >= TARGET_SPEEDUP
        print(f"\ntarget: n={TARGET_SIZE}, rank {TARGET_RANK}: speed-up {target[0]['speedup']:.2f}× "
              f"(>= {TARGET_SPEEDUP}×) {'PASS' if ok else 'FAIL'}")
        if not ok and not args.no_fail:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
