"""``info``: describe an image or a matrix file (shape, ranks, leading singular values, notices)."""

from __future__ import annotations

from pathlib import Path

import torch

from .. import sources
from ..factorize import factorize
from ..rank import numerical_rank, optimal_hard_threshold_rank, rank_for_energy
from .files import kind_of, read_file

__all__ = ["ENERGY_TARGETS", "LEADING_SINGULAR_VALUES", "info_report", "format_info"]

ENERGY_TARGETS = {"rank_energy_90": 0.9, "rank_energy_99": 0.99, "rank_energy_999": 0.999}
LEADING_SINGULAR_VALUES = 10  # how many singular values ``info`` lists per channel


def _load(path: str | Path) -> tuple[str, torch.Tensor, dict]:
    """Read an image or a matrix: (kind, values (C, H, W) or (m, n), extra report fields)."""
    kind = kind_of(path)
    data = read_file(path)
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
