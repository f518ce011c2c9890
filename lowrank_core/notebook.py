"""The notebook the app starts from, replayed with exactly the torch calls the tour shows.

``run_notebook`` executes, step by step and in the same order, the lines the tour page prints
(``ui/tour/code.py``): ``W = rand(m, k) @ rand(k, n)``, ``matrix_rank``, ``torch.linalg.svd``, the factors
``a = U[:, :r] @ diag(S[:r])`` and ``b = Vh[:r]``, the layer ``z = W @ x + bias`` against ``W_lr @ x + bias``,
and a lower rank. Because the operations are the same, a reader who runs the shown code gets the very
numbers the page prints, not numbers equal up to rounding. Everything runs on the CPU (the matrices are at
most a few thousand entries).

The notebook's ``torch.svd`` returned V (so ``b = V[:, :r].T``); ``torch.linalg.svd``, used here, returns
``Vh = Vᵀ`` (so ``b = Vh[:r]``). The thin SVD (``full_matrices=False``) gives the shapes the page shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ._checks import whole_number
from .errors import InputError
from .limits import MAX_GENERATED_SIDE, MAX_SEED

__all__ = ["NotebookRun", "run_notebook"]


@dataclass(frozen=True)
class NotebookRun:
    """Every object and number of one replay.

    Attributes
    ----------
    m, n, k, seed : int
        The settings: ``W = rand(m, k) @ rand(k, n)`` from ``torch.Generator().manual_seed(seed)``.
    W : Tensor of shape (m, n)
    rank : int
        ``torch.linalg.matrix_rank(W)``.
    U : Tensor of shape (m, p), S : (p,), Vh : (p, n), with p = min(m, n)
        ``torch.linalg.svd(W, full_matrices=False)``, signs as LAPACK returns them.
    tolerance : float
        ``eps(float32) · max(m, n) · S[0]``, the tolerance ``matrix_rank`` counts above.
    a : Tensor of shape (m, rank), b : (rank, n), W_lr : (m, n)
        ``U[:, :r] @ torch.diag(S[:r])``, ``Vh[:r]`` and ``a @ b`` at r = rank.
    w_lr_max_abs_difference : float
        ``(W_lr - W).abs().max()``: float32 rounding only, since W has rank ``rank``.
    x : Tensor of shape (n,), bias : (m,)
        ``randn(n)`` then ``randn(m)`` from ``torch.Generator().manual_seed(seed)``.
    z, z_lr : Tensor of shape (m,)
        ``W @ x + bias`` and ``W_lr @ x + bias``.
    max_abs_difference : float
        ``(z - z_lr).abs().max()``.
    lower_rank : int
        The rank of the last step (``r2``), 1..p.
    z_lower : Tensor of shape (m,)
        ``U[:, :r2] @ torch.diag(S[:r2]) @ Vh[:r2] @ x + bias``.
    lower_max_abs_difference : float
        ``(z - z_lower).abs().max()``.
    first_dropped : float
        ``S[r2]``, the first singular value the lower rank drops (0.0 when r2 = p).
    bound_share : float
        ‖z − z_lower‖ / (S[r2]·‖x‖), at most 1 by Eckart–Young–Mirsky up to rounding (0.0 when S[r2] = 0).
    """

    m: int
    n: int
    k: int
    seed: int
    W: Tensor
    rank: int
    U: Tensor
    S: Tensor
    Vh: Tensor
    tolerance: float
    a: Tensor
    b: Tensor
    W_lr: Tensor
    w_lr_max_abs_difference: float
    x: Tensor
    bias: Tensor
    z: Tensor
    z_lr: Tensor
    max_abs_difference: float
    lower_rank: int
    z_lower: Tensor
    lower_max_abs_difference: float
    first_dropped: float
    bound_share: float


def run_notebook(m: int = 15, n: int = 15, k: int = 4, *, seed: int = 0,
                 lower_rank: int | None = None) -> NotebookRun:
    """Replay the notebook (see the module docstring) for ``W = rand(m, k) @ rand(k, n)``.

    Parameters
    ----------
    m, n, k : int
        In 1..MAX_GENERATED_SIDE; k is clipped to nothing: the rank is min(k, m, n).
    seed : int
        In 0..MAX_SEED.
    lower_rank : int, optional
        The last step's rank, in 1..min(m, n); default one below the rank (1 at least).

    Returns
    -------
    NotebookRun
    """
    m, n, k = (whole_number(name, value, minimum=1, maximum=MAX_GENERATED_SIDE, error=InputError)
               for name, value in (("m", m), ("n", n), ("k", k)))
    seed = whole_number("seed", seed, minimum=0, maximum=MAX_SEED, error=InputError)
    g = torch.Generator().manual_seed(seed)
    W = torch.rand(m, k, generator=g) @ torch.rand(k, n, generator=g)  # (m, n)
    rank = int(torch.linalg.matrix_rank(W))
    U, S, Vh = torch.linalg.svd(W, full_matrices=False)  # (m, p), (p,), (p, n)
    tolerance = float(torch.finfo(W.dtype).eps * max(m, n) * S[0])
    r = rank
    a = U[:, :r] @ torch.diag(S[:r])  # (m, r)
    b = Vh[:r]  # (r, n)
    W_lr = a @ b  # (m, n)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=g)  # (n,)
    bias = torch.randn(m, generator=g)  # (m,)
    z = W @ x + bias  # (m,)
    z_lr = W_lr @ x + bias  # (m,)
    p = S.shape[0]
    r2 = max(rank - 1, 1) if lower_rank is None else whole_number(
        "lower_rank", lower_rank, minimum=1, maximum=p, error=InputError)
    z_lower = U[:, :r2] @ torch.diag(S[:r2]) @ Vh[:r2] @ x + bias  # (m,)
    first_dropped = float(S[r2]) if r2 < p else 0.0
    error = float(torch.linalg.vector_norm((z - z_lower).double()))
    bound = first_dropped * float(torch.linalg.vector_norm(x.double()))
    return NotebookRun(
        m=m, n=n, k=k, seed=seed, W=W, rank=rank, U=U, S=S, Vh=Vh, tolerance=tolerance, a=a, b=b, W_lr=W_lr,
        w_lr_max_abs_difference=float((W_lr - W).abs().max()), x=x, bias=bias, z=z, z_lr=z_lr,
        max_abs_difference=float((z - z_lr).abs().max()), lower_rank=r2, z_lower=z_lower,
        lower_max_abs_difference=float((z - z_lower).abs().max()), first_dropped=first_dropped,
        bound_share=error / bound if bound > 0 else 0.0,
    )
