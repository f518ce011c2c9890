"""Benchmark of the tile-wise SVD codec: its speed against the global SVD, and its quality against JPEG.

    python benchmarks/tiles.py [--json] [--repeats N] [--threads N] [--skip-timing] [--qualities 10,30,...]

1. Time to factor the 1920×1080 RGB photograph (``sources.sample_photo_1080p()``) in tiles of 8, 16, 32 and
   64 (``tiles.factorize_tiles``: one batched SVD) against the global SVD of the same image
   (``image.prepare_codec(..., method="exact")``), round-robin within each repeat, medians and ratios; and
   the time of one ``compress`` at 1 bit per pixel (allocation, file, decode, PSNR).
2. On each shipped photograph (``sources.PHOTO_NAMES``), at the bytes of Pillow's JPEG at several
   qualities: PSNR and SSIM (``metrics``) of JPEG, of the global SVD (best of RGB/YCbCr × float16/int8,
   factor payload only, ``ImageCodec.rank_for_bytes``) and of the tile SVD (best of tile side × RGB/YCbCr ×
   float16/int8, the whole file); and the bytes the tile SVD needs to reach JPEG's PSNR
   (``compress(target_psnr=...)``, smallest over the same settings), as a multiple of JPEG's bytes.

All quality figures are measured on 8-bit decodes against the 8-bit reference. The JPEG bytes are whole
files (headers, quantisation and Huffman tables included); the tile bytes are whole tile files (header,
rank codes, means, factors, scales); the global SVD bytes are the factor payload without any header.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lowrank_core.errors import LowRankError  # noqa: E402
from lowrank_core.image import jpeg_roundtrip, prepare_codec, to_uint8  # noqa: E402
from lowrank_core.image.tiles import TILE_SIDES, factorize_tiles  # noqa: E402
from lowrank_core.metrics import psnr, ssim  # noqa: E402
from lowrank_core.sources import PHOTO_NAMES, load_sample, sample_photo_1080p  # noqa: E402

QUALITIES = (10, 30, 50, 75, 90)
DTYPES = ("float16", "int8")


def _timed(function):
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def measure_speed(repeats: int) -> dict:
    """Median seconds of the global SVD and of each tile side's factorization, side by side."""
    photo = sample_photo_1080p()  # (3, 1080, 1920)
    budget = 1080 * 1920 // 8  # 1 bit per pixel
    times: dict[str, list[float]] = {"global": [], **{f"tiles {s}": [] for s in TILE_SIDES}}
    compress_times: dict[int, list[float]] = {s: [] for s in TILE_SIDES}
    for _ in range(repeats):
        seconds, _ = _timed(lambda: prepare_codec(photo, "rgb", method="exact"))
        times["global"].append(seconds)
        for s in TILE_SIDES:
            seconds, factorization = _timed(lambda s=s: factorize_tiles(photo, mode="rgb", tile_side=s))
            times[f"tiles {s}"].append(seconds)
            seconds, _ = _timed(lambda f=factorization: f.compress(budget=budget, dtype="int8"))
            compress_times[s].append(seconds)
    medians = {name: statistics.median(values) for name, values in times.items()}
    rows = []
    for s in TILE_SIDES:
        tiles = -(-1080 // s) * -(-1920 // s) * 3
        rows.append({"tile_side": s, "tiles": tiles, "factor_seconds": medians[f"tiles {s}"],
                     "over_global": medians[f"tiles {s}"] / medians["global"],
                     "compress_1bpp_seconds": statistics.median(compress_times[s])})
    return {"global_seconds": medians["global"], "rows": rows, "repeats": repeats}


def _quality(reference: torch.Tensor, image8: torch.Tensor) -> tuple[float, float]:
    """(PSNR, SSIM) of an 8-bit image against the reference."""
    test = image8.float() / 255.0
    return psnr(reference, test), ssim(reference, test)


def _global_best(codecs: dict, reference: torch.Tensor, budget: int) -> dict | None:
    """The global SVD's best PSNR within ``budget`` bytes of factor payload, over modes and dtypes."""
    best = None
    for mode, codec in codecs.items():
        for dtype in DTYPES:
            ranks = codec.rank_for_bytes(budget, dtype=dtype)
            if not any(ranks):
                continue
            value_psnr, value_ssim = _quality(reference, to_uint8(codec.reconstruct(ranks, dtype=dtype)))
            setting = f"{mode} {dtype} rank {'/'.join(map(str, ranks))}"
            if best is None or value_psnr > best["psnr"]:
                best = {"psnr": value_psnr, "ssim": value_ssim, "bytes": codec.storage(ranks).of(dtype),
                        "setting": setting}
    return best


def _tiles_best(factorizations: dict, budget: int) -> dict | None:
    """The tile SVD's best PSNR within ``budget`` file bytes, over tile sides, modes and dtypes."""
    best = None
    for (mode, side), factorization in factorizations.items():
        for dtype in DTYPES:
            if factorization.minimum_bytes(dtype) > budget:
                continue
            result = factorization.compress(budget=budget, dtype=dtype)
            if best is None or result.measured_psnr > best["psnr"]:
                best = {"psnr": result.measured_psnr, "result": result, "setting": f"{mode} {dtype} {side}"}
    if best is not None:
        result = best.pop("result")
        reference = factorizations[(result.mode, result.tile_side)].reference
        best["ssim"] = ssim(reference, result.image.float() / 255)
        best["bytes"] = result.total_bytes
        best["raw_tiles"] = result.raw_tiles
    return best


def _tiles_bytes_for(factorizations: dict, target: float) -> dict | None:
    """The fewest tile-file bytes that reach ``target`` dB (measured), over sides, modes and dtypes."""
    best = None
    for (mode, side), factorization in factorizations.items():
        for dtype in DTYPES:
            try:
                result = factorization.compress(target_psnr=target, dtype=dtype)
            except LowRankError:  # beyond what this setting reaches
                continue
            if best is None or result.total_bytes < best["bytes"]:
                best = {"bytes": result.total_bytes, "psnr": result.measured_psnr,
                        "setting": f"{mode} {dtype} {side}"}
    return best


def measure_quality(qualities, log) -> list[dict]:
    """One row per photograph and JPEG quality."""
    rows = []
    for name in PHOTO_NAMES:
        pixels = load_sample(name).pixels  # (C, H, W)
        colour = pixels.shape[0] == 3
        modes = ("rgb", "ycbcr") if colour else ("rgb",)
        codecs = {mode: prepare_codec(pixels, mode, method="exact") for mode in modes}
        factorizations = {(mode, side): factorize_tiles(pixels, mode=mode, tile_side=side)
                          for mode in modes for side in TILE_SIDES}
        reference = pixels
        H, W = pixels.shape[1:]
        for quality in qualities:
            size, decoded = jpeg_roundtrip(reference, quality)
            jpeg_psnr, jpeg_ssim = _quality(reference, to_uint8(decoded))
            row = {"photo": name, "height": H, "width": W, "channels": pixels.shape[0],
                   "jpeg_quality": quality, "bytes": size, "bits_per_pixel": 8 * size / (H * W),
                   "jpeg_psnr": jpeg_psnr, "jpeg_ssim": jpeg_ssim,
                   "global": _global_best(codecs, reference, size),
                   "tiles": _tiles_best(factorizations, size), "tiles_for_jpeg_psnr": None}
            match = _tiles_bytes_for(factorizations, jpeg_psnr)
            if match is not None:
                match["over_jpeg"] = match["bytes"] / size
                row["tiles_for_jpeg_psnr"] = match
            rows.append(row)
            log(f"  {name} q{quality}: done")
    return rows


def _number(value, spec: str) -> str:
    """A figure, or a dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return format(value, spec)


def format_report(report: dict) -> str:
    """The tables and the verdict as text."""
    out = [f"torch {torch.__version__}, threads {report['threads']}, load average "
           f"{report['load_average']}, device for the tile SVD: cpu"]
    speed = report.get("speed")
    if speed:
        out += ["", f"## Factoring the 1920×1080 RGB photograph (median of {speed['repeats']})", "",
                f"global SVD (prepare_codec, exact): {speed['global_seconds']:.2f} s", "",
                "| tile side | tiles | one batched SVD | × global | compress at 1 bpp (int8) |",
                "| --- | --- | --- | --- | --- |"]
        for row in speed["rows"]:
            out.append(f"| {row['tile_side']} | {row['tiles']:,} | {row['factor_seconds']:.2f} s | "
                       f"{row['over_global']:.2f}× | {row['compress_1bpp_seconds']:.2f} s |")
    rows = report["quality"]
    out += ["", "## At JPEG's bytes: PSNR (dB) / SSIM", "",
            "| photo | JPEG q | bytes | bpp | JPEG | global SVD (best setting) | tile SVD (best setting) | "
            "tile − JPEG | tile bytes for JPEG's PSNR |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        g, t, m = row["global"], row["tiles"], row["tiles_for_jpeg_psnr"]
        glob = f"{g['psnr']:.2f} / {g['ssim']:.3f} ({g['setting']})" if g else "— (not even rank 1 fits)"
        tile = f"{t['psnr']:.2f} / {t['ssim']:.3f} ({t['setting']})" if t else "— (below the smallest file)"
        delta = _number(t["psnr"] - row["jpeg_psnr"], "+.2f") if t else "—"
        match = f"{m['over_jpeg']:.2f}× ({m['setting']})" if m else "— (out of reach)"
        out.append(f"| {row['photo']} | {row['jpeg_quality']} | {row['bytes']:,} | "
                   f"{row['bits_per_pixel']:.2f} | {row['jpeg_psnr']:.2f} / {row['jpeg_ssim']:.3f} | "
                   f"{glob} | {tile} | {delta} | {match} |")
    out += ["", "## Verdict", "", *report["verdict"]]
    return "\n".join(out)


def verdict(rows: list[dict]) -> list[str]:
    """Plain sentences: where the tile SVD stands against JPEG and against the global SVD."""
    compared = [r for r in rows if r["tiles"]]
    deltas = [r["tiles"]["psnr"] - r["jpeg_psnr"] for r in compared]
    ssim_deltas = [r["tiles"]["ssim"] - r["jpeg_ssim"] for r in compared]
    wins = sum(d > 0 for d in deltas)
    ratios = [r["tiles_for_jpeg_psnr"]["over_jpeg"] for r in rows if r["tiles_for_jpeg_psnr"]]
    lines = []
    if not compared:
        return ["The tile SVD fits none of JPEG's sizes."]
    closest = max(compared, key=lambda r: r["tiles"]["psnr"] - r["jpeg_psnr"])
    farthest = min(compared, key=lambda r: r["tiles"]["psnr"] - r["jpeg_psnr"])
    lines.append(f"- Tile SVD against JPEG at the same bytes: higher PSNR at {wins} of {len(compared)} "
                 f"points; median {statistics.median(deltas):+.2f} dB (from {min(deltas):+.2f} to "
                 f"{max(deltas):+.2f}); SSIM median {statistics.median(ssim_deltas):+.3f}.")
    global_deltas = [r["global"]["psnr"] - r["jpeg_psnr"] for r in compared if r["global"]]
    if global_deltas:
        lines.append(f"- The global SVD against JPEG at the same points: median "
                     f"{statistics.median(global_deltas):+.2f} dB (from {min(global_deltas):+.2f} to "
                     f"{max(global_deltas):+.2f}).")
    lines.append(f"- Closest: {closest['photo']} at JPEG quality {closest['jpeg_quality']} "
                 f"({closest['bits_per_pixel']:.2f} bpp, "
                 f"{closest['tiles']['psnr'] - closest['jpeg_psnr']:+.2f} dB); farthest: {farthest['photo']} "
                 f"at quality {farthest['jpeg_quality']} "
                 f"({farthest['bits_per_pixel']:.2f} bpp, "
                 f"{farthest['tiles']['psnr'] - farthest['jpeg_psnr']:+.2f} dB).")
    by_quality = {}
    for r in compared:
        by_quality.setdefault(r["jpeg_quality"], []).append(r["tiles"]["psnr"] - r["jpeg_psnr"])
    lines.append("- Median gap by JPEG quality: " + ", ".join(
        f"q{q} {statistics.median(v):+.2f} dB" for q, v in sorted(by_quality.items())) + ".")
    if ratios:
        lines.append(f"- To reach JPEG's PSNR the tile SVD needs {statistics.median(ratios):.2f}× JPEG's "
                     f"bytes (median; from {min(ratios):.2f}× to {max(ratios):.2f}×).")
    against_global = [r["tiles"]["psnr"] - r["global"]["psnr"] for r in compared if r["global"]]
    if against_global:
        lines.append(f"- Tile SVD against the global SVD at the same bytes: median "
                     f"{statistics.median(against_global):+.2f} dB (from {min(against_global):+.2f} to "
                     f"{max(against_global):+.2f}); the global SVD counts its factor payload only, no "
                     "header.")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the timing (default 3)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    parser.add_argument("--skip-timing", action="store_true", help="only the quality table")
    parser.add_argument("--qualities", default=",".join(map(str, QUALITIES)),
                        help="JPEG qualities, comma-separated (default %(default)s)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    qualities = [int(q) for q in args.qualities.split(",")]

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    report = {"threads": torch.get_num_threads(),
              "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg())}
    if not args.skip_timing:
        log("timing the 1080p factorizations...")
        report["speed"] = measure_speed(args.repeats)
    log("quality at JPEG's bytes...")
    report["quality"] = measure_quality(qualities, log)
    report["verdict"] = verdict(report["quality"])
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
