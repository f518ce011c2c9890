"""``demo``: the notebook replayed, its numbers as the tour prints them."""

from __future__ import annotations

import torch

from .. import sources
from ..factorize import factorize
from ..rank import numerical_rank

__all__ = ["DEMO_SIZE", "DEMO_RANK", "demo_report", "format_demo"]

DEMO_SIZE, DEMO_RANK = 15, 4  # the notebook's W = rand(15, 4) @ rand(4, 15)


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
    U, S, Vh = torch.linalg.svd(W)  # torch.linalg.svd returns Vh = Vᵀ (the notebook's torch.svd returned V)
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
        "v_shape": list(Vh.shape),  # the key the notebook's V gave it; the array is Vh (square: same shape)
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
        f"U, S, Vh = torch.linalg.svd(W): U {tuple(report['u_shape'])}, S {tuple(report['s_shape'])}, "
        f"Vh {tuple(report['v_shape'])}   (Vh = Vᵀ; the notebook's torch.svd returned V)",
        f"S: [{values}]",
        f"a = U[:, :{r}] @ diag(S[:{r}]): {tuple(report['a_shape'])}",
        f"b = Vh[:{r}]: {tuple(report['b_shape'])}",
        f"W.nelement() = {report['w_nelement']}",
        f"a.nelement() + b.nelement() = {report['ab_nelement']}",
        f"z = W @ x + bias  vs  a @ (b @ x) + bias at rank {r}: "
        f"max |difference| = {report['max_abs_difference']:.3g}",
        f"the same at rank {lower}: max |difference| = {report['lower_rank_max_abs_difference']:.3g}",
    ])
