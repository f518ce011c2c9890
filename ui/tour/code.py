"""The torch code the tour shows, one block per step, with the page's numbers filled in.

The blocks run top to bottom in a fresh Python namespace (a test does exactly that) and compute what
``lowrank_core.notebook.run_notebook`` computes, with the same calls in the same order, so every number the
page prints is the number a reader gets by running them.
"""

from __future__ import annotations

__all__ = ["SVD_NOTE", "tour_code"]

SVD_NOTE = ("The notebook called `torch.svd(W)`, which returns V itself (so there `b = V[:, :r].T`); "
            "`torch.linalg.svd(W)` returns Vh = Vᵀ, so here `b = Vh[:r]`.")


def tour_code(step: int, *, m: int, n: int, k: int, seed: int, rank: int, lower_rank: int) -> str:
    """The code block of tour step ``step`` (1..7) for these settings."""
    blocks = {
        1: f"import torch\n\nm, n, k = {m}, {n}, {k}\ng = torch.Generator().manual_seed({seed})\n"
           "W = torch.rand(m, k, generator=g) @ torch.rand(k, n, generator=g)",
        2: "rank = torch.linalg.matrix_rank(W)",
        3: "U, S, Vh = torch.linalg.svd(W, full_matrices=False)\n"
           "tolerance = torch.finfo(W.dtype).eps * max(m, n) * S[0]  # what matrix_rank counts above\n"
           "U.shape, S.shape, Vh.shape",
        4: f"r = {rank}\na = U[:, :r] @ torch.diag(S[:r])\nb = Vh[:r]\nW_lr = a @ b\n(W_lr - W).abs().max()",
        5: "W.nelement(), a.nelement() + b.nelement()",
        6: f"g = torch.Generator().manual_seed({seed})\nx = torch.randn(n, generator=g)\n"
           "bias = torch.randn(m, generator=g)\nz = W @ x + bias\nz_lr = W_lr @ x + bias\n"
           "(z - z_lr).abs().max()",
        7: f"r2 = {lower_rank}\nz_r2 = U[:, :r2] @ torch.diag(S[:r2]) @ Vh[:r2] @ x + bias\n"
           "(z - z_r2).abs().max()" + (", S[r2]  # the first singular value dropped"
                                       if lower_rank < min(m, n) else ""),
    }
    if step not in blocks:
        raise ValueError(f"the tour has steps 1 to 7; got {step}")
    return blocks[step]
