"""The SVD engine: one factorization per matrix (or per colour channel), many cheap truncations.

``factorize`` runs the SVD once; every question afterwards (a rank-r reconstruction, a rank-one term, the
notebook's factors a and b, the energy kept) is a method of the returned ``Factorization`` and only slices
the stored factors. That is what makes a rank slider cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ._checks import whole_value
from .errors import ConvergenceError, NonFiniteError, RankError, ShapeError

__all__ = [
    "Factorization",
    "factorize",
    "choose_device",
    "sign_flip",
    "RANDOMIZED_MIN_PIXELS",
    "RANDOMIZED_OVERSAMPLES",
    "RANDOMIZED_NITER",
    "RANDOMIZED_SEED",
    "METHODS",
]

METHODS = ("auto", "exact", "randomized")
RANDOMIZED_MIN_PIXELS = 3_000_000  # per channel; below this the exact SVD is fast enough
RANDOMIZED_OVERSAMPLES = 10  # q = max_rank + 10
RANDOMIZED_NITER = 4  # power iterations of torch.svd_lowrank
RANDOMIZED_SEED = 0  # seed of svd_lowrank's random test matrix: the same input gives the same output
RANDOMIZED_MAX_FRACTION = 0.25  # "well below": max_rank <= a quarter of min(m, n)


def choose_device(device: str | torch.device | None = None) -> torch.device:
    """The device to compute on: CUDA when asked for (or "auto") and present, else the CPU.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", None} or torch.device
        ``None`` and ``"auto"`` take CUDA when available. Asking for CUDA on a machine without it falls
        back to the CPU rather than failing, so a shared link works everywhere.
    """
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        return torch.device("cpu")
    return device


def sign_flip(U: Tensor, Vh: Tensor) -> tuple[Tensor, Tensor]:
    """Make SVD signs deterministic, as scikit-learn's ``svd_flip``.

    Each singular pair (u_i, v_i) is negated when needed so that the entry of u_i with the largest
    absolute value is positive. Works on batches: U (..., m, k), Vh (..., k, n).
    """
    index = U.abs().argmax(dim=-2, keepdim=True)  # (..., 1, k)
    signs = torch.sign(torch.gather(U, -2, index))  # (..., 1, k)
    signs = torch.where(signs == 0, torch.ones_like(signs), signs)
    return U * signs, Vh * signs.transpose(-2, -1)


@dataclass(frozen=True)
class Factorization:
    """A (possibly truncated) SVD ``x ≈ U diag(S) Vh``, per channel for a stack.

    Attributes
    ----------
    U : Tensor of shape (..., m, k)
        Left singular vectors (orthonormal columns).
    S : Tensor of shape (..., k)
        Singular values, descending, non-negative.
    Vh : Tensor of shape (..., k, n)
        Right singular vectors as rows (torch's ``Vh``; the notebook's ``V.T``).
    method : str
        The method that actually ran: "exact" or "randomized".
    total_energy : Tensor of shape (...)
        ‖x‖_F² per channel (float64), so a truncated factorization still knows what it discards.
    """

    U: Tensor
    S: Tensor
    Vh: Tensor
    method: str = "exact"
    total_energy: Tensor | None = None

    def __post_init__(self):
        if self.total_energy is None:
            object.__setattr__(self, "total_energy", (self.S.double() ** 2).sum(-1))

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the factorized input: (m, n) or (C, m, n)."""
        return (*self.U.shape[:-1], self.Vh.shape[-1])

    @property
    def max_rank(self) -> int:
        """Number of singular triplets stored (min(m, n) for an exact SVD)."""
        return self.S.shape[-1]

    @property
    def channels(self) -> int:
        """Number of independently factorized channels (1 for a plain matrix)."""
        return 1 if self.S.dim() == 1 else int(self.S.shape[0])

    def _check_rank(self, rank: int) -> int:
        """Validate a truncation rank against the stored factors."""
        rank = whole_value(rank, "rank", error=RankError)
        if rank < 0:
            raise RankError(f"rank must be >= 0; got {rank}")
        if rank > self.max_rank:
            raise RankError(f"rank must be <= {self.max_rank} (the number of singular values); got {rank}")
        return rank

    def factors(self, rank: int) -> tuple[Tensor, Tensor]:
        """The notebook's factors: ``a = U_r diag(S_r)`` of shape (..., m, r) and ``b = Vh_r`` (..., r, n).

        ``a @ b`` is the best rank-r approximation; ``a.numel() + b.numel()`` numbers store it.
        """
        r = self._check_rank(rank)
        a = self.U[..., :, :r] * self.S[..., None, :r]  # (..., m, r)
        b = self.Vh[..., :r, :]  # (..., r, n)
        return a, b

    def reconstruct(self, rank: int) -> Tensor:
        """The rank-r truncation ``U_r diag(S_r) Vh_r``, shape (..., m, n). Rank 0 gives zeros."""
        a, b = self.factors(rank)
        return a @ b  # (..., m, n)

    def entries(self, rank: int, rows, cols) -> Tensor:
        """Some entries of the rank-r truncation, ``W_r[rows][:, cols]``, without forming W_r.

        The block product ``a[rows] @ b[:, cols]`` of the notebook's factors: p·q·r multiply-adds instead
        of m·n·r, so a heatmap that shows a sample of a large matrix's entries stays cheap at any rank.

        Parameters
        ----------
        rank : int
            0..max_rank (rank 0 gives zeros).
        rows, cols : 1-D integer tensors, arrays or sequences
            Indices in 0..m-1 and 0..n-1 (any order, repeats allowed).

        Returns
        -------
        Tensor of shape (..., p, q) with p = len(rows), q = len(cols), on the factors' device; entry
        (i, j) is entry (rows[i], cols[j]) of ``reconstruct(rank)``.
        """
        r = self._check_rank(rank)
        m, n = self.shape[-2:]
        rows = _indices(rows, m, "rows", self.U.device)  # (p,)
        cols = _indices(cols, n, "cols", self.U.device)  # (q,)
        a = self.U[..., rows, :r] * self.S[..., None, :r]  # (..., p, r)
        return a @ self.Vh[..., :r, cols]  # (..., p, q)

    def component(self, i: int) -> Tensor:
        """The i-th rank-one term ``S_i u_i v_iᵀ`` (0-based), shape (..., m, n)."""
        i = whole_value(i, "component index", error=RankError)
        if not 0 <= i < self.max_rank:
            raise RankError(f"component index must be in 0..{self.max_rank - 1}; got {i}")
        return self.S[..., None, None, i] * (self.U[..., :, i, None] @ self.Vh[..., None, i, :])

    def energy(self) -> Tensor:
        """Cumulative fraction of the squared singular values, shape (..., k + 1), starting at 0 for rank 0.

        ``energy()[..., r]`` is the share of ‖x‖_F² kept at rank r. An all-zero input keeps everything (1.0)
        at every rank, since nothing is lost.
        """
        squared = self.S.double() ** 2  # (..., k)
        cumulative = torch.cat([torch.zeros_like(squared[..., :1]), squared.cumsum(-1)], dim=-1)  # (..., k+1)
        total = self.total_energy.to(cumulative.device)[..., None]
        ratio = (cumulative / total.clamp_min(1e-300)).clamp(max=1.0)
        return torch.where(total > 0, ratio, torch.ones_like(cumulative))

    @property
    def is_complete(self) -> bool:
        """True when every singular value is stored (k = min(m, n)), as after an exact, untruncated SVD."""
        return self.max_rank == min(self.shape[-2:])

    def residual_energy(self) -> Tensor:
        """‖x - x_r‖_F² predicted by Eckart–Young for r = 0..k, per channel: shape (..., k + 1), float64.

        With the full spectrum this is the tail sum of σᵢ² (no cancellation); for a truncated
        factorization it is ‖x‖_F² minus the kept σᵢ².
        """
        squared = self.S.double() ** 2  # (..., k)
        if self.is_complete:
            tail = squared.flip(-1).cumsum(-1).flip(-1)  # (..., k): Σ_{i>=r} σᵢ²
            return torch.cat([tail, torch.zeros_like(tail[..., :1])], dim=-1)
        kept = torch.cat([torch.zeros_like(squared[..., :1]), squared.cumsum(-1)], dim=-1)
        return (self.total_energy.to(kept.device)[..., None] - kept).clamp_min(0.0)

    def to(self, device: str | torch.device) -> Factorization:
        """The same factorization on another device."""
        return Factorization(
            self.U.to(device), self.S.to(device), self.Vh.to(device), self.method,
            self.total_energy.to(device),
        )


def _indices(values, size: int, name: str, device: torch.device) -> Tensor:
    """A 1-D int64 index tensor on ``device`` with every entry in 0..size-1, else ShapeError naming it."""
    source = values.detach() if isinstance(values, Tensor) else np.asarray(values)
    if isinstance(source, Tensor):
        whole = not (source.is_floating_point() or source.is_complex() or source.dtype == torch.bool)
    else:
        whole = source.dtype.kind in "iu"
    if source.ndim != 1 or (len(source) and not whole):
        raise ShapeError(f"{name} must be a 1-D sequence of whole-number indices; got {source.dtype} values "
                         f"of shape {tuple(source.shape)}")
    index = source if isinstance(source, Tensor) else torch.from_numpy(source.astype(np.int64))
    if len(index) and not (0 <= int(index.min()) and int(index.max()) < size):
        bad = index[(index < 0) | (index >= size)][0]
        raise ShapeError(f"{name} must be indices in 0..{size - 1}; got {int(bad)}")
    return index.to(device=device, dtype=torch.int64)


def _validate_input(x: Tensor) -> Tensor:
    """Check dimensions and finiteness; return a float32 tensor."""
    if not isinstance(x, Tensor):
        raise ShapeError(f"expected a torch.Tensor; got {type(x).__name__}")
    if x.dim() not in (2, 3):
        raise ShapeError(f"expected an (m, n) matrix or a (C, m, n) stack; got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ShapeError(f"the matrix is empty; got shape {tuple(x.shape)}")
    if x.is_complex():
        raise ShapeError("complex matrices are not supported")
    x = x.to(torch.float32)
    if not torch.isfinite(x).all():
        raise NonFiniteError("the matrix contains NaN or infinite values")
    return x


def _pick_method(method: str, shape: tuple[int, ...], max_rank: int | None) -> str:
    """Resolve "auto" to "exact" or "randomized"."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if method != "auto":
        return method
    m, n = shape[-2:]
    large = m * n >= RANDOMIZED_MIN_PIXELS
    low = max_rank is not None and max_rank <= RANDOMIZED_MAX_FRACTION * min(m, n)
    return "randomized" if large and low else "exact"


RESCALE_ABOVE = 1e18  # entries larger than this (or positive and smaller than 1/this) are scaled first


def _rescale(x: Tensor) -> tuple[Tensor, float]:
    """Divide by the largest |entry| when it is extreme, so the SVD neither overflows nor underflows."""
    largest = float(x.abs().max())
    if largest == 0.0 or 1.0 / RESCALE_ABOVE <= largest <= RESCALE_ABOVE:
        return x, 1.0
    return x / largest, largest


def _exact_svd(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Thin SVD with a float64 fallback when LAPACK's divide-and-conquer does not converge."""
    try:
        return torch.linalg.svd(x, full_matrices=False)
    except torch.linalg.LinAlgError as err:  # LAPACK's divide-and-conquer did not converge
        try:
            U, S, Vh = torch.linalg.svd(x.double(), full_matrices=False, driver=None)
        except torch.linalg.LinAlgError:
            raise ConvergenceError(f"the SVD did not converge ({err})") from err
        return U.float(), S.float(), Vh.float()


def _randomized_svd(x: Tensor, rank: int) -> tuple[Tensor, Tensor, Tensor]:
    """Top-``rank`` SVD by ``torch.svd_lowrank`` with q = rank + oversamples; works on batches.

    The random test matrix comes from ``RANDOMIZED_SEED`` under a forked RNG, so the result is reproducible
    and the caller's random stream is left untouched.
    """
    q = min(rank + RANDOMIZED_OVERSAMPLES, *x.shape[-2:])
    with torch.random.fork_rng(devices=[x.device.index] if x.is_cuda else []):
        if x.is_cuda:  # seed only the generator svd_lowrank draws from
            with torch.cuda.device(x.device):
                torch.cuda.manual_seed(RANDOMIZED_SEED)
        else:
            torch.default_generator.manual_seed(RANDOMIZED_SEED)
        U, S, V = torch.svd_lowrank(x, q=q, niter=RANDOMIZED_NITER)
    return U[..., :rank], S[..., :rank], V[..., :rank].transpose(-2, -1)


def factorize(
    x: Tensor,
    *,
    method: str = "auto",
    max_rank: int | None = None,
    device: str | torch.device | None = None,
) -> Factorization:
    """Factorize a matrix, or each channel of a stack, by the SVD.

    Parameters
    ----------
    x : Tensor of shape (m, n) or (C, m, n)
        The matrix, or C channels factorized independently (an RGB image is (3, H, W)).
    method : {"auto", "exact", "randomized"}
        "exact" is the thin SVD (``torch.linalg.svd``, float32). "randomized" is ``torch.svd_lowrank`` with
        ``q = max_rank + 10`` and ``niter = 4``, seeded (``RANDOMIZED_SEED``). "auto" picks randomized only
        when a channel has at least ``RANDOMIZED_MIN_PIXELS`` entries and ``max_rank`` is at most a quarter
        of min(m, n).
    max_rank : int, optional
        Keep only the leading ``max_rank`` triplets (required by "randomized").
    device : str or torch.device, optional
        Where to compute; see ``choose_device``. The result stays on that device.

    Returns
    -------
    Factorization
        ``U`` (..., m, k), ``S`` (..., k), ``Vh`` (..., k, n) with k = max_rank or min(m, n), signs fixed,
        and ``method`` saying which method ran.
    """
    x = _validate_input(x)
    limit = min(x.shape[-2:])
    if max_rank is not None:
        max_rank = whole_value(max_rank, "max_rank", error=RankError)
        if not 1 <= max_rank <= limit:
            raise RankError(f"max_rank must be between 1 and min(m, n) = {limit}; got {max_rank!r}")
    resolved = _pick_method(method, tuple(x.shape), max_rank)
    if resolved == "randomized" and max_rank is None:
        raise RankError("the randomized SVD needs max_rank")
    x = x.to(choose_device(device))
    total_energy = torch.linalg.vector_norm(x, dim=(-2, -1), dtype=torch.float64) ** 2  # (...)
    x, scale = _rescale(x)
    if resolved == "exact":
        U, S, Vh = _exact_svd(x)
        if max_rank is not None:
            U, S, Vh = U[..., :max_rank], S[..., :max_rank], Vh[..., :max_rank, :]
    else:
        U, S, Vh = _randomized_svd(x, max_rank)
    if scale != 1.0:
        largest = float(S.double().max()) * scale
        if largest > torch.finfo(torch.float32).max:
            raise NonFiniteError(
                f"the singular values of this matrix overflow float32 (the largest is about {largest:.3g}; "
                "float32 stops at 3.4e38): divide the values by a constant and load it again"
            )
        S = (S.double() * scale).float()
    U, Vh = sign_flip(U, Vh)
    return Factorization(U.contiguous(), S.contiguous(), Vh.contiguous(), resolved, total_energy)
