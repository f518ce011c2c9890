"""``model``: a checkpoint's weights as a table, or the checkpoint written factored under a budget."""

from __future__ import annotations

import json
import math
from pathlib import Path

from .. import checkpoint as checkpoints
from ..allocation import ALLOCATIONS, allocate_ranks
from ..errors import InputError, LowRankError, TooLargeError, UnsupportedFormatError
from .files import read_file

__all__ = ["model_report", "compress_model_file", "format_model"]


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
    checkpoint = checkpoints.read_checkpoint(read_file(path), name=path.name, limits=limits)
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
