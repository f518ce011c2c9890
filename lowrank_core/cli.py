"""The command line, ``python -m lowrank_core``: the notebook replayed, a file described, an image compressed.

Each command is a function that returns a plain dict (the JSON report, snake_case keys); printing is
separate (``format_*``), and ``main`` maps user errors to exit status 2 with one line on stderr.

    python -m lowrank_core demo [--seed S] [--json]
    python -m lowrank_core info FILE [--json]
    python -m lowrank_core compress IMAGE (--rank R | --energy F | --psnr DB) -o OUT [--json]
    python -m lowrank_core model FILE [--json]
    python -m lowrank_core model FILE --budget F -o OUT.safetensors [--allocation greedy|uniform|energy]
        [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import checkpoint as checkpoints
from . import sources
from .allocation import ALLOCATIONS, allocate_ranks
from .budget import storage_bytes
from .errors import InputError, LowRankError, RankError, TooLargeError, UnsupportedFormatError
from .factorize import factorize
from .limits import MAX_FILE_BYTES
from .metrics import psnr, ssim
from .rank import numerical_rank, optimal_hard_threshold_rank, rank_for_energy, rank_for_psnr

__all__ = [
    "IMAGE_EXTENSIONS",
    "MATRIX_EXTENSIONS",
    "MAX_FILE_BYTES",
    "ENERGY_TARGETS",
    "demo_report",
    "info_report",
    "compress_image",
    "model_report",
    "compress_model_file",
    "format_demo",
    "format_info",
    "format_compress",
    "format_model",
    "build_parser",
    "main",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
MATRIX_EXTENSIONS = (".csv", ".tsv", ".txt", ".npy", ".npz", ".pt")
ENERGY_TARGETS = {"rank_energy_90": 0.9, "rank_energy_99": 0.99, "rank_energy_999": 0.999}
LEADING_SINGULAR_VALUES = 10  # how many singular values ``info`` lists per channel
DEMO_SIZE, DEMO_RANK = 15, 4  # the notebook's W = rand(15, 4) @ rand(4, 15)


# ============================================================================================== helpers


def _read_file(path: str | Path) -> bytes:
    """The bytes of a file, or InputError naming it (missing, a folder, unreadable, too large)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise InputError(f"{str(path)!r} is a folder, not a file")
        if size > MAX_FILE_BYTES:
            limit = MAX_FILE_BYTES // 2**20
            raise TooLargeError(f"{str(path)!r} is {size / 2**20:.0f} MB; the limit is {limit} MB")
        return path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read {str(path)!r}: {err.strerror or err}") from err


def _kind(path: str | Path) -> str:
    """"image" or "matrix" from the extension, else UnsupportedFormatError."""
    extension = Path(path).suffix.lower()
    if extension in IMAGE_EXTENSIONS:
        return "image"
    if extension in MATRIX_EXTENSIONS:
        return "matrix"
    raise UnsupportedFormatError(
        f"cannot tell the type of {str(path)!r} from its extension {extension or '(none)'!r}; "
        f"images: {' '.join(IMAGE_EXTENSIONS)}; matrices: {' '.join(MATRIX_EXTENSIONS)}"
    )


def _finite(value: float) -> float | None:
    """``value`` as a float, or None for inf/NaN (JSON has no infinity)."""
    value = float(value)
    return value if math.isfinite(value) else None


def _to_8bit(pixels: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] -> (H, W) or (H, W, 3) uint8, clipped and rounded."""
    array = (pixels.clamp(0.0, 1.0) * 255).round().to(torch.uint8).cpu().numpy()  # (C, H, W)
    return array[0] if array.shape[0] == 1 else np.ascontiguousarray(array.transpose(1, 2, 0))


def _output_format(path: str | Path) -> str:
    """Pillow's format name for the extension of ``path``, or UnsupportedFormatError."""
    extension = Path(path).suffix.lower()
    image_format = Image.registered_extensions().get(extension)
    if image_format is None or image_format not in Image.SAVE:
        raise UnsupportedFormatError(
            f"cannot write an image named {str(path)!r}: unknown extension {extension or '(none)'!r} "
            f"(try .png, .jpg, .webp, .bmp, .tif)"
        )
    return image_format


# ================================================================================================= demo


def demo_report(seed: int = 0) -> dict:
    """Replay the notebook: W = rand(15, 4) @ rand(4, 15), its rank, its SVD, the factors a and b, and a
    layer z = W @ x + bias against the factored one at rank 4 (equal) and rank 3 (not).

    Returns
    -------
    dict with keys seed, w_shape, matrix_rank, numerical_rank, singular_values, u_shape, s_shape, v_shape,
    rank, a_shape, b_shape, w_nelement, ab_nelement, max_abs_difference, lower_rank,
    lower_rank_max_abs_difference.
    """
    W = sources.notebook_matrix(DEMO_SIZE, DEMO_SIZE, DEMO_RANK, seed=seed)  # (15, 15)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(DEMO_SIZE, generator=generator)  # (15,)
    bias = torch.randn(DEMO_SIZE, generator=generator)  # (15,)
    U, S, V = torch.linalg.svd(W)  # the notebook's full SVD: U (15, 15), S (15,), V (15, 15) (V is Vh = Vᵀ)
    factorization = factorize(W)
    rank = numerical_rank(factorization.S, tuple(W.shape))
    a, b = factorization.factors(rank)  # (15, r), (r, 15)
    z = W @ x + bias  # (15,)
    z_low_rank = a @ (b @ x) + bias
    lower = max(rank - 1, 0)
    a_lower, b_lower = factorization.factors(lower)
    z_lower = a_lower @ (b_lower @ x) + bias
    return {
        "seed": seed,
        "w_shape": list(W.shape),
        "matrix_rank": int(torch.linalg.matrix_rank(W)),
        "numerical_rank": rank,
        "singular_values": [float(s) for s in S],
        "u_shape": list(U.shape),
        "s_shape": list(S.shape),
        "v_shape": list(V.shape),
        "rank": rank,
        "a_shape": list(a.shape),
        "b_shape": list(b.shape),
        "w_nelement": W.nelement(),
        "ab_nelement": a.nelement() + b.nelement(),
        "max_abs_difference": float((z - z_low_rank).abs().max()),
        "lower_rank": lower,
        "lower_rank_max_abs_difference": float((z - z_lower).abs().max()),
    }


def format_demo(report: dict) -> str:
    """The demo as the notebook prints it."""
    r, lower = report["rank"], report["lower_rank"]
    values = ", ".join(f"{s:.3g}" for s in report["singular_values"])
    return "\n".join([
        f"W = rand(15, {DEMO_RANK}) @ rand({DEMO_RANK}, 15)   (seed {report['seed']})",
        f"W.shape: {tuple(report['w_shape'])}",
        f"torch.linalg.matrix_rank(W): {report['matrix_rank']}",
        f"lowrank_core.numerical_rank: {report['numerical_rank']}",
        f"U, S, V = torch.linalg.svd(W): U {tuple(report['u_shape'])}, S {tuple(report['s_shape'])}, "
        f"V {tuple(report['v_shape'])}   (V holds Vᵀ)",
        f"S: [{values}]",
        f"a = U[:, :{r}] @ diag(S[:{r}]): {tuple(report['a_shape'])}",
        f"b = V[:{r}, :]: {tuple(report['b_shape'])}",
        f"W.nelement() = {report['w_nelement']}",
        f"a.nelement() + b.nelement() = {report['ab_nelement']}",
        f"z = W @ x + bias  vs  a @ (b @ x) + bias at rank {r}: "
        f"max |difference| = {report['max_abs_difference']:.3g}",
        f"the same at rank {lower}: max |difference| = {report['lower_rank_max_abs_difference']:.3g}",
    ])


# ================================================================================================= info


def _load(path: str | Path) -> tuple[str, torch.Tensor, dict]:
    """Read an image or a matrix: (kind, values (C, H, W) or (m, n), extra report fields)."""
    kind = _kind(path)
    data = _read_file(path)
    name = Path(path).name
    if kind == "image":
        loaded = sources.load_image(data, name=name)
        extra = {"mode": loaded.mode, "original_size": list(loaded.original_size),
                 "notices": list(loaded.notices)}
        return kind, loaded.pixels, extra
    loaded = sources.load_matrix(data, name=name)
    return kind, loaded.values, {"source_format": loaded.source_format, "notices": list(loaded.notices)}


def info_report(path: str | Path) -> dict:
    """Describe an image or a matrix file: shape, ranks, leading singular values, the loader's notices.

    Returns
    -------
    dict with keys file, kind, shape, channels, numerical_rank (one per channel), singular_values (the first
    10 per channel), rank_energy_90, rank_energy_99, rank_energy_999 (over all channels),
    optimal_hard_threshold_rank, noise_sigma_estimate, notices; images add mode and original_size
    ([width, height]); matrices add source_format.
    """
    kind, values, extra = _load(path)
    factorization = factorize(values, method="exact")
    S = factorization.S.cpu()  # (k,) or (C, k)
    shape = tuple(values.shape)
    ranks = numerical_rank(S, shape)
    per_channel = S.reshape(-1, S.shape[-1])  # (C, k)
    threshold = optimal_hard_threshold_rank(S, shape)
    report = {
        "file": str(path),
        "kind": kind,
        "shape": list(shape),
        "channels": factorization.channels,
        "numerical_rank": [int(r) for r in torch.as_tensor(ranks).reshape(-1)],
        "singular_values": [[float(s) for s in row[:LEADING_SINGULAR_VALUES]] for row in per_channel],
    }
    for key, fraction in ENERGY_TARGETS.items():
        report[key] = rank_for_energy(S, fraction, total_energy=factorization.total_energy,
                                      shape=factorization.shape)
    report["optimal_hard_threshold_rank"] = threshold.rank
    report["noise_sigma_estimate"] = threshold.noise_sigma
    report.update(extra)
    return report


def format_info(report: dict) -> str:
    """The info report as lines of text."""
    lines = [f"file: {report['file']}  ({report['kind']})", f"shape: {tuple(report['shape'])}",
             f"channels: {report['channels']}"]
    if report["kind"] == "image":
        lines.append(f"mode: {report['mode']}, original size (w × h): {tuple(report['original_size'])}")
    else:
        lines.append(f"format: {report['source_format']}")
    lines.append(f"numerical rank (per channel): {', '.join(map(str, report['numerical_rank']))}")
    for channel, values in enumerate(report["singular_values"]):
        prefix = f"channel {channel} " if report["channels"] > 1 else ""
        lines.append(f"{prefix}leading singular values: " + ", ".join(f"{s:.4g}" for s in values))
    lines.append(f"rank for 90% / 99% / 99.9% energy: {report['rank_energy_90']} / {report['rank_energy_99']}"
                 f" / {report['rank_energy_999']}")
    lines.append(f"optimal hard threshold rank (Gavish–Donoho, noise unknown): "
                 f"{report['optimal_hard_threshold_rank']}  (noise σ ≈ {report['noise_sigma_estimate']:.3g})")
    lines.extend(f"notice: {notice}" for notice in report["notices"])
    return "\n".join(lines)


# ============================================================================================= compress


def _choose_rank(pixels: torch.Tensor, *, rank, energy, psnr_db):
    """(factorization, rank, rule, target) for exactly one of rank / energy / psnr_db."""
    given = {name: value for name, value in (("rank", rank), ("energy", energy), ("psnr", psnr_db))
             if value is not None}
    if len(given) != 1:
        raise LowRankError(f"give exactly one of rank, energy or psnr; got {sorted(given) or 'none'}")
    (rule, target), = given.items()
    limit = min(pixels.shape[-2:])
    if rule == "rank":
        if not isinstance(rank, int) or isinstance(rank, bool) or not 1 <= rank <= limit:
            raise RankError(f"rank must be between 1 and {limit} (the smaller side of the image); got {rank}")
        factorization = factorize(pixels, max_rank=int(rank))  # randomized when the image is large
        return factorization, int(rank), rule, rank
    factorization = factorize(pixels, method="exact")
    shape = tuple(pixels.shape)
    if rule == "energy":
        if not 0.0 < energy <= 1.0:
            raise LowRankError(f"energy must be a fraction in (0, 1], e.g. 0.99; got {energy}")
        chosen = rank_for_energy(factorization.S, energy, total_energy=factorization.total_energy,
                                 shape=shape)
    else:
        chosen = rank_for_psnr(factorization.S, shape, psnr_db, total_energy=factorization.total_energy)
    return factorization, chosen, rule, target


def compress_image(image_path: str | Path, output_path: str | Path, *, rank: int | None = None,
                   energy: float | None = None, psnr_db: float | None = None) -> dict:
    """Factorize an image per channel, keep a rank, write the 8-bit reconstruction and measure it.

    The rank is given (``rank``), or the smallest reaching a share of the energy (``energy``) or a PSNR
    before 8-bit rounding (``psnr_db``). PSNR, SSIM and the relative error are measured on the written
    file, read back, against the loaded image.

    Returns
    -------
    dict with keys input, output, width, height, channels, rule, target, rank, method, energy_kept,
    psnr_predicted_db, psnr_db, ssim, relative_error, factor_bytes {float32, float16, int8}, raw_bytes,
    compression_ratio_raw_to_float16, notices.
    """
    if _kind(image_path) != "image":
        raise UnsupportedFormatError(
            f"{str(image_path)!r} is not an image; use one of {' '.join(IMAGE_EXTENSIONS)}"
        )
    image_format = _output_format(output_path)  # refuse a bad output name before any work
    loaded = sources.load_image(_read_file(image_path), name=Path(image_path).name)
    pixels = loaded.pixels  # (C, H, W)
    C, H, W = pixels.shape
    factorization, chosen, rule, target = _choose_rank(pixels, rank=rank, energy=energy, psnr_db=psnr_db)
    reconstruction = factorization.reconstruct(chosen).cpu()  # (C, H, W), unclipped

    options = {"quality": 95} if image_format in ("JPEG", "WEBP") else {}  # lossy formats: keep them close
    try:
        Image.fromarray(_to_8bit(reconstruction)).save(output_path, format=image_format, **options)
    except OSError as err:
        raise InputError(f"cannot write {str(output_path)!r}: {err.strerror or err}") from err
    written = sources.load_image(_read_file(output_path), max_pixels=H * W, name=Path(output_path).name)
    written = written.pixels  # (C', H, W)
    if written.shape[0] == 3 and C == 1:  # a format that stores grey as colour (GIF palettes)
        written = written.mean(0, keepdim=True)

    discarded = float(factorization.residual_energy()[..., chosen].sum())
    total = float(factorization.total_energy.sum())
    norm = float(torch.linalg.vector_norm(pixels, dtype=torch.float64))
    error = float(torch.linalg.vector_norm(pixels.double() - written.double()))
    predicted_mse = discarded / pixels.numel()
    size = storage_bytes(H, W, chosen, channels=C)
    notices = list(loaded.notices)
    measured_psnr = psnr(pixels, written)
    if rule == "psnr" and measured_psnr < target:
        notices.append(f"The written 8-bit image reaches {measured_psnr:.2f} dB, below the {target} dB "
                       "target: clipping and 8-bit rounding add to the truncation error.")
    return {
        "input": str(image_path),
        "output": str(output_path),
        "width": W,
        "height": H,
        "channels": C,
        "rule": rule,
        "target": target,
        "rank": chosen,
        "method": factorization.method,
        "energy_kept": min(max(1.0 - discarded / total, 0.0), 1.0) if total > 0 else 1.0,
        "psnr_predicted_db": _finite(10 * math.log10(1.0 / predicted_mse)) if predicted_mse > 0 else None,
        "psnr_db": _finite(measured_psnr),
        "ssim": ssim(pixels, written) if min(H, W) >= 11 else None,
        "relative_error": error / norm if norm > 0 else 0.0,
        "factor_bytes": {"float32": size.float32, "float16": size.float16, "int8": size.int8},
        "raw_bytes": size.raw,
        "compression_ratio_raw_to_float16": _finite(size.ratio("float16")),
        "notices": notices,
    }


def format_compress(report: dict) -> str:
    """The compress report as lines of text."""
    def number(value, spec):
        return "n/a" if value is None else format(value, spec)

    sizes = report["factor_bytes"]
    lines = [
        f"{report['input']} ({report['width']}×{report['height']}, {report['channels']} channel(s)) "
        f"-> {report['output']}",
        f"rank {report['rank']} (by {report['rule']} = {report['target']}, {report['method']} SVD), "
        f"energy kept {report['energy_kept']:.4%}",
        f"PSNR {number(report['psnr_db'], '.2f')} dB (predicted before 8-bit rounding: "
        f"{number(report['psnr_predicted_db'], '.2f')} dB), SSIM {number(report['ssim'], '.4f')}, "
        f"relative error {report['relative_error']:.4g}",
        f"factor bytes: float32 {sizes['float32']:,}, float16 {sizes['float16']:,}, int8 {sizes['int8']:,}; "
        f"raw 8-bit pixels {report['raw_bytes']:,}",
        "compression ratio (raw / float16 factors): "
        f"{number(report['compression_ratio_raw_to_float16'], '.2f')}",
    ]
    lines.extend(f"notice: {notice}" for notice in report["notices"])
    return "\n".join(lines)


# ================================================================================================ model


def _read_checkpoint_file(path: str | Path, method: str) -> tuple[checkpoints.Checkpoint,
                                                                 checkpoints.CheckpointInspection]:
    """Read and inspect a checkpoint file (the bytes are refused above the checkpoint byte limit)."""
    limits = checkpoints.DEFAULT_CHECKPOINT_LIMITS
    extension = Path(path).suffix.lower()
    if extension not in checkpoints.CHECKPOINT_EXTENSIONS:
        raise UnsupportedFormatError(
            f"{str(path)!r} is not a checkpoint; use one of {' '.join(checkpoints.CHECKPOINT_EXTENSIONS)}"
        )
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as err:
        raise InputError(f"cannot read {str(path)!r}: {err.strerror or err}") from err
    if size > limits.max_file_bytes:
        raise TooLargeError(f"{str(path)!r} is {size / 2**20:.0f} MB; the limit for a checkpoint is "
                            f"{limits.max_file_bytes // 2**20} MB")
    checkpoint = checkpoints.read_checkpoint(_read_file(path), name=path.name, limits=limits)
    return checkpoint, checkpoints.inspect_checkpoint(checkpoint, method=method)


def _skipped(inspection: checkpoints.CheckpointInspection) -> list[dict]:
    """The skipped weights as plain values."""
    return [{"name": s.name, "shape": list(s.shape), "dtype": s.dtype, "reason": s.reason}
            for s in inspection.skipped]


def model_report(path: str | Path, *, method: str = "auto") -> dict:
    """Describe every weight of a checkpoint (.safetensors, .pt, .pth, .bin).

    Returns
    -------
    dict with keys file, source_format, weights (one row per weight: name, shape, matrix_shape, dtype,
    parameters, method, singular_values_computed, numerical_rank, numerical_rank_lower_bound, stable_rank,
    rank_energy_90, rank_energy_99, optimal_hard_threshold_rank, break_even_rank, spectral_norm,
    frobenius_norm; None where a randomized SVD cannot tell), parameters, skipped (name, shape, dtype,
    reason), other_tensors, notices.
    """
    _, inspection = _read_checkpoint_file(path, method)
    return {
        "file": str(path),
        "source_format": inspection.source_format,
        "weights": [weight.row() for weight in inspection.weights],
        "parameters": inspection.parameters,
        "skipped": _skipped(inspection),
        "other_tensors": inspection.other_tensors,
        "notices": list(inspection.notices),
    }


def compress_model_file(path: str | Path, output_path: str | Path, *, budget: float,
                        allocation: str = "greedy", method: str = "auto",
                        rank_pattern_path: str | Path | None = None) -> dict:
    """Share a budget (a fraction of the parameters) across a checkpoint's weights; write it factored.

    Returns
    -------
    dict with keys input, output, allocation, solver, budget, budget_parameters, layers (per weight: name,
    shape, rank, factored, parameters_before, parameters, relative_error measured on the written factors),
    parameters_before, parameters_after, rank_pattern, skipped, notices.
    """
    if Path(output_path).suffix.lower() != ".safetensors":
        raise UnsupportedFormatError(f"the output {str(output_path)!r} must end in .safetensors")
    if allocation not in ALLOCATIONS:
        raise LowRankError(f"--allocation must be one of {', '.join(ALLOCATIONS)}; got {allocation!r}")
    if not (isinstance(budget, float | int) and math.isfinite(budget) and 0.0 < budget <= 1.0):
        raise LowRankError(f"--budget must be a fraction of the parameters in (0, 1], e.g. 0.3; got {budget}")
    checkpoint, inspection = _read_checkpoint_file(path, method)
    if not inspection.weights:
        raise InputError(f"{str(path)!r} holds no weight that can be factored")
    chosen = allocate_ranks(inspection.spectra(), fraction=float(budget), method=allocation)
    exported = checkpoints.export_factored(checkpoint, chosen)
    try:
        Path(output_path).write_bytes(exported.data)
        if rank_pattern_path is not None:
            Path(rank_pattern_path).write_text(checkpoints.rank_pattern_json(exported.rank_pattern) + "\n")
    except OSError as err:
        raise InputError(f"cannot write {str(output_path)!r}: {err.strerror or err}") from err
    return {
        "input": str(path),
        "output": str(output_path),
        "allocation": allocation,
        "solver": chosen.solver,
        "budget": float(budget),
        "budget_parameters": chosen.budget_parameters,
        "layers": [{"name": layer.name, "shape": list(layer.shape), "rank": layer.rank,
                    "factored": layer.factored, "parameters_before": layer.parameters_before,
                    "parameters": layer.parameters_after, "relative_error": layer.relative_error}
                   for layer in exported.layers],
        "parameters_before": exported.parameters_before,
        "parameters_after": exported.parameters_after,
        "rank_pattern": dict(exported.rank_pattern),
        "skipped": _skipped(inspection),
        "notices": list(inspection.notices),
    }


def format_model(report: dict) -> str:
    """The model table, or the compression report, as lines of text."""
    def value(x, spec=""):
        return "?" if x is None else format(x, spec)

    lines = []
    if "weights" in report:
        lines.append(f"file: {report['file']}  ({report['source_format']}), {len(report['weights'])} "
                     f"weight(s), {report['parameters']:,} parameters, "
                     f"{report['other_tensors']} other tensor(s)")
        header = (f"{'name':<32} {'shape':<16} {'params':>10} {'svd':>5} {'num.rank':>8} {'stable':>7} "
                  f"{'r90%':>5} {'r99%':>5} {'oht':>5} {'break-even':>10}")
        lines += [header, "-" * len(header)]
        for row in report["weights"]:
            rank = f"{'>=' if row['numerical_rank_lower_bound'] else ''}{row['numerical_rank']}"
            lines.append(
                f"{row['name'][:32]:<32} {'×'.join(map(str, row['shape'])):<16} {row['parameters']:>10,} "
                f"{row['method'][:5]:>5} {rank:>8} {row['stable_rank']:>7.2f} "
                f"{value(row['rank_energy_90']):>5} {value(row['rank_energy_99']):>5} "
                f"{value(row['optimal_hard_threshold_rank']):>5} {row['break_even_rank']:>10.1f}"
            )
    else:
        lines.append(f"{report['input']} -> {report['output']}: {report['allocation']} allocation "
                     f"({report['solver']}), budget {report['budget']:.3g} = "
                     f"{report['budget_parameters']:,} parameters")
        header = f"{'name':<32} {'shape':<16} {'rank':>6} {'params':>10} {'rel.error':>10}"
        lines += [header, "-" * len(header)]
        for row in report["layers"]:
            rank = row["rank"] if row["factored"] else "dense"
            lines.append(f"{row['name'][:32]:<32} {'×'.join(map(str, row['shape'])):<16} {rank:>6} "
                         f"{row['parameters']:>10,} {row['relative_error']:>10.4f}")
        lines.append(f"parameters: {report['parameters_before']:,} -> {report['parameters_after']:,}")
        lines.append(f"rank_pattern: {json.dumps(report['rank_pattern'])}")
    lines.extend(f"skipped: {s['name']} {'×'.join(map(str, s['shape']))} ({s['dtype']}): {s['reason']}"
                 for s in report["skipped"])
    lines.extend(f"notice: {notice}" for notice in report["notices"])
    return "\n".join(lines)


# ================================================================================================= main


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``python -m lowrank_core``."""
    parser = _Parser(prog="python -m lowrank_core",
                     description="Low-rank approximation on torch, from a shell.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{demo,info,compress,model}")

    demo = commands.add_parser("demo", help="replay the notebook: a rank-4 15×15 matrix and its factors")
    demo.add_argument("--seed", type=int, default=0, help="seed of W, x and bias (default 0)")
    demo.add_argument("--json", action="store_true", help="print the report as JSON")

    info = commands.add_parser("info", help="describe an image or a matrix file")
    info.add_argument("file", help="image (" + " ".join(IMAGE_EXTENSIONS) + ") or matrix ("
                      + " ".join(MATRIX_EXTENSIONS) + ")")
    info.add_argument("--json", action="store_true", help="print the report as JSON")

    compress = commands.add_parser("compress", help="write a low-rank version of an image")
    compress.add_argument("image", help="the input image")
    rule = compress.add_mutually_exclusive_group(required=True)
    rule.add_argument("--rank", type=int, help="keep this many singular values per channel")
    rule.add_argument("--energy", type=float, help="smallest rank keeping this fraction of the energy (0-1]")
    rule.add_argument("--psnr", type=float,
                      help="smallest rank reaching this PSNR in dB (before 8-bit rounding)")
    compress.add_argument("-o", "--output", required=True, help="the output image; format from its extension")
    compress.add_argument("--json", action="store_true", help="print the report as JSON")

    model = commands.add_parser("model", help="list a checkpoint's weights; with --budget, write it factored")
    model.add_argument("file", help="checkpoint (" + " ".join(checkpoints.CHECKPOINT_EXTENSIONS) + ")")
    model.add_argument("--budget", type=float,
                       help="fraction of the weights' parameters to keep, in (0, 1]; needs -o")
    model.add_argument("-o", "--output", help="the factored checkpoint to write (.safetensors)")
    model.add_argument("--allocation", choices=ALLOCATIONS, default="greedy",
                       help="how the budget is shared across layers (default greedy)")
    model.add_argument("--method", choices=("auto", "exact", "randomized"), default="auto",
                       help="the SVD of each weight (default auto: exact up to "
                       f"{checkpoints.EXACT_MAX_ENTRIES:,} entries)")
    model.add_argument("--rank-pattern", help="also write the {name: rank} JSON to this file")
    model.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def _run(args: argparse.Namespace) -> str:
    """Run the chosen command; return what to print."""
    if args.command == "demo":
        report, text = demo_report(args.seed), format_demo
    elif args.command == "info":
        report, text = info_report(args.file), format_info
    elif args.command == "model":
        if (args.budget is None) != (args.output is None):
            raise LowRankError("--budget and -o go together: give both to write a factored checkpoint")
        if args.budget is None:
            report = model_report(args.file, method=args.method)
        else:
            report = compress_model_file(args.file, args.output, budget=args.budget,
                                         allocation=args.allocation, method=args.method,
                                         rank_pattern_path=args.rank_pattern)
        text = format_model
    else:
        report = compress_image(args.image, args.output, rank=args.rank, energy=args.energy,
                                psnr_db=args.psnr)
        text = format_compress
    return json.dumps(report, indent=2, allow_nan=False) if args.json else text(report)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 on success, 2 on bad input (one line on stderr, no traceback)."""
    args = build_parser().parse_args(argv)
    # Our own header check refuses bombs with one clear line; Pillow's warning would add two more.
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
    try:
        output = _run(args)
    except (LowRankError, OSError) as err:
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: not enough memory for this input", file=sys.stderr)
        return 2
    try:
        print(output)
        sys.stdout.flush()
    except BrokenPipeError:  # `... | head`: the reader left; not an error of ours
        sys.stdout = open(os.devnull, "w")  # the interpreter's final flush stays silent
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

