"""The tile codec: factorize every tile once (``factorize_tiles``), then compress with chosen ranks."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ...budget import DTYPE_BYTES
from ...errors import (
    LowRankError,
    RankError,
    ShapeError,
)
from ...factorize import choose_device, sign_flip
from ...metrics import psnr
from .. import reference_image, to_color_space, to_uint8
from .allocation import Hull, exact_for_budget
from .fileformat import decode_tiles, encode_tiles
from .geometry import (
    HEADER_BYTES,
    MAX_BUDGET,
    MAX_PSNR_ATTEMPTS,
    MAX_TARGET_PSNR,
    MEAN_BYTES,
    RAW_RANK,
    Geometry,
    batched_svd,
    channel_offsets,
    check_dtype,
    check_mode,
    check_pixels,
    check_tile_side,
    error_weights,
    real_mask,
    stored_means,
    tile_geometry,
    to_codes,
    to_tiles,
    whole_number,
)

__all__ = ["SOLVERS", "TileFactorization", "TileCompression", "factorize_tiles", "compress_tiles"]

SOLVERS = ("auto", "exact", "greedy")  # how a byte budget is spent (``TileFactorization.compress``)


@dataclass(frozen=True, eq=False)
class TileFactorization:
    """The SVD of every tile of an image in a colour mode: the one expensive step of the tile codec.

    Build it with ``factorize_tiles``; ``compress`` then chooses ranks (given, under a byte budget, or for a
    target PSNR) and encodes them, which only slices the stored factors.

    Attributes
    ----------
    mode : {"rgb", "luminance", "ycbcr"}
    tile_side : int
        s, one of ``TILE_SIDES``.
    reference : Tensor of shape (C_out, H, W)
        The reference a decode is measured against (``image.reference_image``), float32 in [0, 1], CPU.
    channels : Tensor of shape (C, H, W)
        The image in the mode's colour space (``image.to_color_space``), float32, CPU.
    means : Tensor of shape (C, R, K)
        Each tile's mean over its real pixels, float64, CPU (rounded to the dtype only when stored).
    U : Tensor of shape (C, R, K, s, s)
        Left singular vectors of the mean-removed, zero-padded tiles, on the device of the SVD.
    S : Tensor of shape (C, R, K, s)
        Their singular values, descending (those past min(h', w') are zero up to rounding).
    Vh : Tensor of shape (C, R, K, s, s)
        Right singular vectors as rows; signs fixed with ``sign_flip``.
    raw_codes : Tensor of shape (C, R, K, s, s), uint8
        round(255·(x + offset)) of each tile (offset 128/255 for chroma): what a raw tile stores. CPU.
    raw_error : Tensor of shape (C, R, K), float64
        Squared error of each tile stored raw (its 8-bit rounding), in the colour space. CPU.
    truncation_sums : Tensor of shape (C, R, K, s + 1), float64
        The sum of the entries of each tile's rank-r truncation, r = 0 .. s: Σ_{i<r} σᵢ (1ᵀuᵢ)(vᵢᵀ1). A
        zero-mean tile's truncation need not sum to zero, so a rounded mean (error δ) adds 2δ·(0 − this)
        to the squared error besides h'w'δ²; the prediction counts both. CPU.
    """

    mode: str
    tile_side: int
    reference: Tensor
    channels: Tensor
    means: Tensor
    U: Tensor
    S: Tensor
    Vh: Tensor
    raw_codes: Tensor
    raw_error: Tensor
    truncation_sums: Tensor

    # --------------------------------------------------------------------------------------- shape
    @property
    def height(self) -> int:
        """H."""
        return int(self.channels.shape[1])

    @property
    def width(self) -> int:
        """W."""
        return int(self.channels.shape[2])

    @property
    def channel_count(self) -> int:
        """C: channels factored (3 for RGB and YCbCr, 1 for luminance or a grey image)."""
        return int(self.channels.shape[0])

    @property
    def tile_rows(self) -> int:
        """R = ceil(H / s)."""
        return int(self.means.shape[1])

    @property
    def tile_cols(self) -> int:
        """K = ceil(W / s)."""
        return int(self.means.shape[2])

    @property
    def max_ranks(self) -> Tensor:
        """min(h', w') per tile: (C, R, K) int64 (s inside the image, less on its bottom and right edges)."""
        return torch.from_numpy(self.tile_geometry().max_ranks.reshape(self.means.shape).copy())

    def tile_geometry(self) -> Geometry:
        """The flattened tile layout."""
        return tile_geometry(self.channel_count, self.height, self.width, self.tile_side)

    # --------------------------------------------------------------------------------------- options
    def _options(self, dtype: str) -> tuple[np.ndarray, np.ndarray]:
        """(bytes, weighted squared error) of every option of every tile: two (N, s + 2) arrays.

        Column r (0 <= r <= s) is rank r (impossible above min(h', w'): error inf), column s + 1 is raw.
        """
        geometry = self.tile_geometry()
        s, h, w = self.tile_side, geometry.heights, geometry.widths
        ranks = np.arange(s + 1)  # (s + 1,)
        factor_bytes = ranks[None, :] * (h + w)[:, None] * DTYPE_BYTES[dtype]  # (N, s + 1)
        if dtype == "int8":
            factor_bytes = factor_bytes + np.where(ranks > 0, 2 * ranks + 2, 0)[None, :]  # the scales
        rank_bytes = 1 + MEAN_BYTES[dtype] + factor_bytes  # (N, s + 1)
        raw_bytes = 1 + h * w  # (N,)
        size = np.concatenate([rank_bytes, raw_bytes[:, None]], axis=1)  # (N, s + 2)

        squared = self.S.reshape(-1, s).double().cpu().numpy() ** 2  # (N, s)
        tail = np.concatenate([np.cumsum(squared[:, ::-1], axis=1)[:, ::-1], np.zeros((len(h), 1))], 1)
        _, restored = stored_means(self.means.reshape(-1), geometry.channel, self.mode, dtype)
        delta = self.means.reshape(-1).numpy() - restored  # (N,): true mean - stored mean
        sums = self.truncation_sums.reshape(-1, s + 1).numpy()  # (N, s + 1)
        # ‖X - X_r + δ‖² = ‖X - X_r‖² + 2δ·Σ(X - X_r) + h'w'δ², with ΣX = 0 for the mean-removed tile X
        error = tail - 2 * delta[:, None] * sums + ((h * w) * delta**2)[:, None]  # (N, s + 1)
        error[ranks[None, :] > geometry.max_ranks[:, None]] = np.inf
        error = np.concatenate([error, self.raw_error.reshape(-1, 1).numpy()], axis=1)  # (N, s + 2)
        weights = error_weights(self.mode, self.channel_count)[geometry.channel]  # (N,)
        return size.astype(np.int64), error * weights[:, None]

    def minimum_bytes(self, dtype: str = "float16") -> int:
        """The smallest file the codec can write for this image: the header and every tile's cheapest option
        (its rank code and mean, or its raw pixels when fewer)."""
        size, _ = self._options(check_dtype(dtype))
        return HEADER_BYTES + int(size.min(axis=1).sum())

    def maximum_bytes(self, dtype: str = "float16") -> int:
        """The bytes at which every tile is at its most accurate option; a larger budget buys nothing."""
        size, error = self._options(check_dtype(dtype))
        hull = Hull.build(size, error)
        return HEADER_BYTES + int(size[np.arange(len(size)), hull.final].sum())

    # --------------------------------------------------------------------------------------- compress
    def compress(self, *, budget: int | None = None, target_psnr: float | None = None,
                 ranks: Tensor | None = None, dtype: str = "float16",
                 solver: str = "auto") -> TileCompression:
        """Choose a rank for every tile, encode, decode the bytes and measure; exactly one rule.

        Parameters
        ----------
        budget : int, optional
            Bytes of the whole file (header included), at least ``minimum_bytes(dtype)``. The greedy spends
            them in order of squared error removed per byte (see the module's docstring).
        target_psnr : float, optional
            dB, in (0, MAX_TARGET_PSNR]. The result's 8-bit decode reaches it, measured with
            ``metrics.psnr`` against ``reference``; LowRankError when this mode and precision cannot.
        ranks : Tensor of shape (C, R, K), optional
            The rank of each tile (0 .. min(h', w'), or ``RAW_RANK`` for raw), e.g. a uniform rank.
        dtype : {"float32", "float16", "int8"}
            Precision of the stored factors (and means; see the module's docstring).
        solver : {"auto", "exact", "greedy"}
            How ``budget`` is spent: the exact knapsack (only where it is small enough: ``EXACT_MAX_CELLS``,
            ``EXACT_MAX_OPTIONS``; LowRankError above), the hull greedy and its fill, or "auto": exact where
            small, else greedy. The result's ``solver`` says which ran. Ignored by the other rules.

        Returns
        -------
        TileCompression
        """
        dtype = check_dtype(dtype)
        if solver not in SOLVERS:
            raise LowRankError(f"solver must be one of {SOLVERS}; got {solver!r}")
        given = [name for name, value in (("budget", budget), ("target_psnr", target_psnr), ("ranks", ranks))
                 if value is not None]
        if len(given) != 1:
            raise LowRankError(f"give exactly one of budget, target_psnr or ranks; got {given or 'none'}")
        size, error = self._options(dtype)
        if ranks is not None:
            return self._encode(self._options_of(ranks), dtype, size, error, "ranks", None, "given")
        if budget is not None:
            budget = self._check_budget(budget, dtype, size)
            options = None
            if solver != "greedy":
                options = exact_for_budget(size, error, budget - HEADER_BYTES)
                if options is None and solver == "exact":
                    raise LowRankError(
                        f"solver 'exact' is for small problems: this image has {size.shape[0]:,} tiles in "
                        f"{self.tile_side}×{self.tile_side} tiles, too many for the exact knapsack at "
                        f"{budget:,} bytes; use solver 'greedy' or 'auto'")
            used = "exact" if options is not None else "greedy"
            if options is None:  # too large for the exact knapsack: the greedy and its fill
                options = Hull.build(size, error).for_budget(size, error, budget - HEADER_BYTES)
            return self._encode(options, dtype, size, error, "bytes", float(budget), used)
        target = _check_target(target_psnr)
        return self._compress_for_psnr(target, dtype, size, error, Hull.build(size, error))

    def _check_budget(self, budget, dtype: str, size: np.ndarray) -> int:
        """A whole number of bytes between the smallest file and MAX_BUDGET."""
        budget = whole_number(budget, "byte budget")
        smallest = HEADER_BYTES + int(size.min(axis=1).sum())
        if budget < smallest:
            raise LowRankError(
                f"byte budget must be at least {smallest:,} bytes for this image in "
                f"{self.tile_side}×{self.tile_side} tiles at {dtype} (a {HEADER_BYTES}-byte header, then a "
                f"rank byte and a mean per tile); got {budget:,}. Larger tiles need fewer bytes.")
        if budget > MAX_BUDGET:
            raise LowRankError(f"byte budget must be at most {MAX_BUDGET:,}; got {budget:,}")
        return budget

    def _options_of(self, ranks) -> np.ndarray:
        """Option index per tile (N,) from a (C, R, K) ranks tensor, validated."""
        expected = tuple(self.means.shape)
        if not isinstance(ranks, Tensor) or tuple(ranks.shape) != expected:
            shape = tuple(ranks.shape) if isinstance(ranks, Tensor) else type(ranks).__name__
            raise ShapeError(f"ranks must be a tensor of shape (C, R, K) = {expected}; got {shape}")
        if ranks.is_floating_point() or ranks.is_complex() or ranks.dtype == torch.bool:
            raise RankError(f"ranks must be whole numbers (an integer tensor); got {ranks.dtype}")
        flat = ranks.reshape(-1).cpu().numpy().astype(np.int64)  # (N,)
        limit = self.tile_geometry().max_ranks
        bad = np.nonzero((flat != RAW_RANK) & ((flat < 0) | (flat > limit)))[0]
        if len(bad):
            n = int(bad[0])
            c, rest = divmod(n, self.tile_rows * self.tile_cols)
            row, col = divmod(rest, self.tile_cols)
            raise RankError(f"the rank of tile (channel {c}, row {row}, column {col}) must be between 0 and "
                            f"{int(limit[n])} or {RAW_RANK} (raw); got {int(flat[n])}")
        return np.where(flat == RAW_RANK, self.tile_side + 1, flat)

    def _compress_for_psnr(self, target: float, dtype: str, size: np.ndarray, error: np.ndarray,
                           hull: Hull) -> TileCompression:
        """The smallest prefix of the greedy whose measured 8-bit PSNR reaches ``target``."""
        count = self.reference.numel()
        needed = 10 ** (-target / 10) * count  # squared error allowed, over every value of the output
        last = hull.segments

        def attempt(k: int) -> TileCompression:
            return self._encode(hull.prefix_options(k), dtype, size, error, "psnr", target, "greedy")

        passing: TileCompression | None = None
        failing_k, goal, k = -1, needed, hull.prefix_for_error(needed)
        for _ in range(MAX_PSNR_ATTEMPTS):
            result = attempt(k)
            if result.measured_psnr >= target:
                return result
            failing_k = k
            if k == last:
                break
            goal *= 0.9 * min(1.0, needed / max(result.measured_mse * count, 1e-300))
            k = max(hull.prefix_for_error(goal), k + 1)
        if failing_k != last:
            passing = attempt(last)
        if passing is None or passing.measured_psnr < target:
            best = (passing or result).measured_psnr
            raise LowRankError(
                f"target PSNR must be at most {best:.2f} dB for this image in {self.mode} mode at {dtype} "
                f"(that is what every tile at its most accurate option reaches); got {target:g} dB")
        low, high = failing_k, last  # low fails, high passes: bisect for the smallest passing prefix
        while high - low > 1 and high - low > hull.segments // 4096:
            middle = (low + high) // 2
            result = attempt(middle)
            if result.measured_psnr >= target:
                high, passing = middle, result
            else:
                low = middle
        return passing

    def _encode(self, options: np.ndarray, dtype: str, size: np.ndarray, error: np.ndarray, rule: str,
                target: float | None, solver: str) -> TileCompression:
        """Write the file for one option per tile, decode it, and measure."""
        geometry = self.tile_geometry()
        data = encode_tiles(self, geometry, options, dtype)
        rows = np.arange(geometry.count)
        tile_bytes = size[rows, options]  # (N,)
        assert len(data) == HEADER_BYTES + int(tile_bytes.sum()), "byte model and file disagree"
        image = to_uint8(decode_tiles(data))  # (C_out, H, W) uint8
        measured = psnr(self.reference, image.float() / 255.0)  # as the 8-bit image is read everywhere
        predicted_mse = float(error[rows, options].sum()) / self.reference.numel()
        ranks = np.where(options == self.tile_side + 1, RAW_RANK, options)
        shape = tuple(self.means.shape)
        histogram = np.bincount(ranks[ranks >= 0], minlength=self.tile_side + 1)
        return TileCompression(
            mode=self.mode, tile_side=self.tile_side, dtype=dtype, rule=rule, target=target, solver=solver,
            ranks=torch.from_numpy(ranks.reshape(shape).copy()),
            tile_bytes=torch.from_numpy(tile_bytes.reshape(shape).copy()),
            header_bytes=HEADER_BYTES, total_bytes=len(data),
            rank_histogram=tuple(int(n) for n in histogram), raw_tiles=int((ranks == RAW_RANK).sum()),
            predicted_mse=predicted_mse, predicted_psnr=_psnr_of(predicted_mse),
            measured_mse=0.0 if math.isinf(measured) else 10 ** (-measured / 10), measured_psnr=measured,
            image=image, data=data,
        )


def _psnr_of(mse: float) -> float:
    """10 log10(1 / mse), inf for 0."""
    return math.inf if mse <= 0 else 10 * math.log10(1.0 / mse)


def _check_target(target) -> float:
    """A target PSNR in (0, MAX_TARGET_PSNR] dB."""
    try:
        value = float(target)
        valid = not isinstance(target, bool) and 0 < value <= MAX_TARGET_PSNR
    except (TypeError, ValueError, OverflowError):
        valid = False
    if not valid:
        raise LowRankError(f"target PSNR must be a number of dB above 0 and at most {MAX_TARGET_PSNR:g}; "
                           f"got {target!r}")
    return value


def factorize_tiles(pixels: Tensor, *, mode: str = "rgb", tile_side: int = 16,
                    device=None) -> TileFactorization:
    """Cut an image into tiles in a colour mode and factor every tile by one batched SVD.

    Parameters
    ----------
    pixels : Tensor of shape (C, H, W), C = 1 or 3
        Values in [0, 1] (uint8 is read as value / 255); at most ``MAX_PIXELS`` pixels.
    mode : {"rgb", "luminance", "ycbcr"}
        As ``image.to_color_space``; "ycbcr" needs a colour image.
    tile_side : {8, 16, 32, 64}
    device : optional
        Where the SVD runs (``choose_device``: CUDA when present); U, S and Vh stay there.

    Returns
    -------
    TileFactorization
        Tiles are mean-removed, then zero-padded at the image's bottom and right edges (see the module's
        docstring for why that keeps each tile's SVD exact).
    """
    pixels = check_pixels(pixels).cpu()
    mode = check_mode(mode)
    tile_side = check_tile_side(tile_side)
    channels = to_color_space(pixels, mode).contiguous()  # (C, H, W), float32
    reference = reference_image(pixels, mode).contiguous()  # (C_out, H, W)
    target = choose_device(device)
    C, H, W = channels.shape
    tiles = to_tiles(channels.to(target), tile_side)  # (C, R, K, s, s)
    mask = real_mask(H, W, tile_side, target)  # (R, K, s, s)
    real = mask.sum((-2, -1)).to(torch.float64)  # (R, K): h'·w'
    means = tiles.double().sum((-2, -1)) / real  # (C, R, K), float64
    centred = (tiles - means.float()[..., None, None]) * mask  # (C, R, K, s, s), zero outside the image
    rows, cols = int(means.shape[1]), int(means.shape[2])
    U, S, Vh = batched_svd(centred.reshape(-1, tile_side, tile_side))  # (N, s, s), (N, s), (N, s, s)
    U, Vh = sign_flip(U, Vh)
    offsets = torch.from_numpy(channel_offsets(mode, C)).float().to(target)[:, None, None, None, None]
    raw_codes = to_codes(tiles + offsets) * mask  # (C, R, K, s, s) uint8
    restored = raw_codes.float() / 255.0 - offsets  # (C, R, K, s, s)
    raw_error = ((restored - tiles) * mask).square().sum((-2, -1)).double()  # (C, R, K)
    terms = S.double() * U.sum(-2).double() * Vh.sum(-1).double()  # (N, s): σᵢ (1ᵀuᵢ)(vᵢᵀ1)
    sums = torch.cat([torch.zeros_like(terms[:, :1]), terms.cumsum(-1)], dim=-1)  # (N, s + 1)
    shape = (C, rows, cols)
    return TileFactorization(
        mode=mode, tile_side=tile_side, reference=reference, channels=channels, means=means.cpu(),
        U=U.reshape(*shape, tile_side, tile_side).contiguous(), S=S.reshape(*shape, tile_side).contiguous(),
        Vh=Vh.reshape(*shape, tile_side, tile_side).contiguous(), raw_codes=raw_codes.cpu().contiguous(),
        raw_error=raw_error.cpu(), truncation_sums=sums.reshape(*shape, tile_side + 1).cpu(),
    )


def compress_tiles(pixels: Tensor, *, mode: str = "rgb", tile_side: int = 16, dtype: str = "float16",
                   budget: int | None = None, target_psnr: float | None = None, solver: str = "auto",
                   device=None) -> TileCompression:
    """``factorize_tiles(pixels, ...).compress(budget=..., target_psnr=..., dtype=..., solver=...)`` in one
    call.

    Parameters and result as ``factorize_tiles`` and ``TileFactorization.compress`` (give exactly one of
    ``budget`` and ``target_psnr``).
    """
    check_dtype(dtype)
    factorization = factorize_tiles(pixels, mode=mode, tile_side=tile_side, device=device)
    return factorization.compress(budget=budget, target_psnr=target_psnr, dtype=dtype, solver=solver)


# ============================================================================================= results


@dataclass(frozen=True, eq=False)
class TileCompression:
    """A tile-coded image: the ranks chosen, the file, and its quality measured on the 8-bit decode.

    Attributes
    ----------
    mode : str
    tile_side : int
    dtype : {"float32", "float16", "int8"}
    rule : {"ranks", "bytes", "psnr"}
        How the ranks were chosen.
    target : float or None
        The byte budget or the target PSNR (dB) asked for; None for given ranks.
    solver : {"exact", "greedy", "given"}
        What chose the ranks: the exact knapsack, the hull greedy (the PSNR rule's prefixes included), or
        the caller (``ranks``).
    ranks : Tensor of shape (C, R, K), int64
        Each tile's rank (0 = its mean only), or ``RAW_RANK`` (-1) for a tile stored as raw 8-bit pixels.
    tile_bytes : Tensor of shape (C, R, K), int64
        Bytes each tile takes in the file (rank code, mean, factors and scales, or raw pixels): where the
        bytes went. Their sum plus ``header_bytes`` is ``total_bytes``.
    header_bytes : int
    total_bytes : int
        ``len(to_bytes())``: everything stored.
    rank_histogram : tuple of int
        Tiles (over all channels) at rank 0, 1, ..., tile_side; raw tiles are counted in ``raw_tiles``.
    raw_tiles : int
    predicted_mse, predicted_psnr : float
        From the singular values and the stored means (the allocation's model; exact in the colour space
        before factor rounding, clipping and 8 bits; YCbCr errors weighted into RGB).
    measured_mse, measured_psnr : float
        Of ``image`` against the reference (``metrics.psnr``): what a PSNR card beside it shows.
    image : Tensor of shape (C_out, H, W), uint8
        ``image.to_uint8(decode_tiles(data))``.
    data : bytes
        The file.
    """

    mode: str
    tile_side: int
    dtype: str
    rule: str
    target: float | None
    solver: str
    ranks: Tensor
    tile_bytes: Tensor
    header_bytes: int
    total_bytes: int
    rank_histogram: tuple[int, ...]
    raw_tiles: int
    predicted_mse: float
    predicted_psnr: float
    measured_mse: float
    measured_psnr: float
    image: Tensor
    data: bytes

    def to_bytes(self) -> bytes:
        """The file: ``decode_tiles`` rebuilds ``image`` from it alone."""
        return self.data

    @property
    def height(self) -> int:
        """H."""
        return int(self.image.shape[1])

    @property
    def width(self) -> int:
        """W."""
        return int(self.image.shape[2])

    @property
    def bits_per_pixel(self) -> float:
        """8 · total_bytes / (H·W)."""
        return 8 * self.total_bytes / (self.height * self.width)

    def histogram(self) -> dict[str, int]:
        """The rank histogram for JSON: {"0": n0, "1": n1, ..., "raw": n_raw}, ranks with no tile left out."""
        out = {str(r): n for r, n in enumerate(self.rank_histogram) if n}
        out["raw"] = self.raw_tiles
        return out
