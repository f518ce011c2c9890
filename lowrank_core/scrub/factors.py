"""What travels to the browser (``ScrubFactors``) and how the browser rebuilds a rank from it, in torch:
``ScrubFactors.image_at`` is the reference ``scrubber.js`` is tested against."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .._checks import rank_setting
from ..errors import LowRankError
from ..image import RGB_FROM_YCBCR, to_uint8

__all__ = ["ERROR_GAIN", "ResizeMap", "ScrubFactors", "colour_index_map"]

ERROR_GAIN = 8  # the error view shows |original − reconstruction| × this


@dataclass(frozen=True)
class ResizeMap:
    """A resize along one axis as a sparse matrix: output i = Σ_j weights[i, j] · input[start[i] + j].

    Attributes
    ----------
    start : Tensor of shape (n_out,), int32
        First input index each output reads (``start[i] + taps <= n_in``).
    weights : Tensor of shape (n_out, taps), float32
        The resize's weights, zero where an output needs fewer taps.
    size_in : int
    """

    start: Tensor
    weights: Tensor
    size_in: int

    @property
    def size_out(self) -> int:
        """Number of outputs."""
        return int(self.start.shape[0])

    def apply(self, x: Tensor) -> Tensor:
        """Resize the last axis of ``x`` (..., size_in) -> (..., size_out), as the browser does (float32)."""
        taps = self.weights.shape[1]
        index = self.start[:, None].long() + torch.arange(taps)[None, :]  # (n_out, taps)
        gathered = x.float()[..., index]  # (..., n_out, taps)
        return (gathered * self.weights).sum(-1)  # (..., n_out)


@dataclass(frozen=True)
class ScrubFactors:
    """Everything the browser draws every rank from, as it travels (see the module docstring).

    Attributes
    ----------
    kind : {"image", "matrix"}
    mode : {"rgb", "luminance", "ycbcr", "matrix"}
        "luminance" also stands for a grey image in the RGB mode (one channel, drawn grey).
    dtype : {"float32", "float16", "int8"}
        The precision of ``a`` and ``b`` on the wire (matrices: float32).
    groups : tuple of tuples of int
        Channels that share one rank (``ImageCodec.groups``); ((0,),) for a matrix.
    height, width : int
        Display size h × w (matrices: the shown rows p and columns q).
    source_height, source_width : int
        H × W of the factorized image (or matrix).
    a : Tensor of shape (C, k, h) or (C, k, H)
        Rank-major: ``a[c, t]`` is column t of the codec's a = U diag(S), at the display rows (or at the
        source rows when ``row_map`` is set). torch.float32, torch.float16 or torch.int8.
    b : Tensor of shape (C, k, w) or (C, k, W)
        ``b[c, t]`` is row t of Vh, at the display columns (or the source columns with ``col_map``).
    a_scale, b_scale : Tensor of shape (C, k), float32, or None
        int8 scales: the value of ``a[c, t, i]`` is ``a_scale[c, t] · a[c, t, i]``.
    row_map, col_map : ResizeMap or None
        The resize the browser applies to int8 factors sent at the source size.
    S : Tensor of shape (C, n), float32
        The codec's singular values (every one it holds), for a spectrum's kept marker.
    codec_ranks : int
        Ranks the server holds (``ImageCodec.max_rank``); a randomized preview holds fewer than full_rank.
    full_rank : int
        min(H, W): the slider's range.
    method : {"exact", "randomized"}
    original : Tensor
        Images: (output channels, h, w) uint8, the original (its luma for "luminance") at the display size.
        Matrices: (p, q) float32, the shown entries of W.
    limit : float
        Matrices: the colour scale runs from −limit to +limit. 0 for images.
    colours : Tensor of shape (L, 3), uint8, or None
        Matrices: the diverging colour scale.
    rows, cols : Tensor of int64, or None
        Matrices: the original indices of the shown rows (p,) and columns (q,).
    """

    kind: str
    mode: str
    dtype: str
    groups: tuple[tuple[int, ...], ...]
    height: int
    width: int
    source_height: int
    source_width: int
    a: Tensor
    b: Tensor
    a_scale: Tensor | None
    b_scale: Tensor | None
    row_map: ResizeMap | None
    col_map: ResizeMap | None
    S: Tensor
    codec_ranks: int
    full_rank: int
    method: str
    original: Tensor
    limit: float = 0.0
    colours: Tensor | None = None
    rows: Tensor | None = None
    cols: Tensor | None = None

    # ------------------------------------------------------------------------------------ shape
    @property
    def channels(self) -> int:
        """C: factor channels (3 for RGB and YCbCr, 1 for luminance, grey or a matrix)."""
        return int(self.a.shape[0])

    @property
    def rank_cap(self) -> int:
        """k: ranks the blob holds; the browser draws ranks 0..k."""
        return int(self.a.shape[1])

    @property
    def output_channels(self) -> int:
        """3 (colour) or 1 (grey, or a matrix)."""
        return 3 if self.mode in ("rgb", "ycbcr") and self.channels == 3 else 1

    def ranks(self, ranks) -> tuple[int, ...]:
        """Validate a rank setting against the cap: an int (every group) or one int per group."""
        return rank_setting(ranks, groups=len(self.groups), mode=self.mode, top=self.rank_cap)

    # ------------------------------------------------------------------------------------ as the browser
    def display_factors(self) -> tuple[Tensor, Tensor]:
        """The float32 factors the browser accumulates: a (C, k, h) and b (C, k, w).

        float16 is widened, int8 is multiplied by its scales and then resized by ``row_map``/``col_map``.
        """
        a, b = self.a.float(), self.b.float()
        if self.a_scale is not None:
            a = a * self.a_scale[:, :, None]
            b = b * self.b_scale[:, :, None]
        if self.row_map is not None:
            a = self.row_map.apply(a)  # (C, k, h)
        if self.col_map is not None:
            b = self.col_map.apply(b)  # (C, k, w)
        return a, b

    def channels_at(self, ranks) -> Tensor:
        """Σ_{t < r} a[c, t] ⊗ b[c, t] per channel, float32: (C, h, w) (matrices: (1, p, q))."""
        ranks = self.ranks(ranks)
        a, b = self.display_factors()
        out = torch.zeros(self.channels, self.height, self.width)
        for group, r in zip(self.groups, ranks, strict=True):
            for c in group:
                if r:
                    out[c] = a[c, :r].T @ b[c, :r]  # (h, w)
        return out

    def image_at(self, ranks) -> Tensor:
        """The 8-bit image the browser shows at a rank setting: (3 or 1, h, w) uint8.

        The colour conversion uses ``RGB_FROM_YCBCR`` rounded to float32, then clip and round as
        ``to_uint8`` (the browser does the same in float32, term order aside).
        """
        if self.kind != "image":
            raise LowRankError("image_at needs an image payload; this one is a matrix")
        channels = self.channels_at(ranks)  # (C, h, w)
        if self.mode == "ycbcr":
            matrix = RGB_FROM_YCBCR.float()
            channels = torch.einsum("ij,jhw->ihw", matrix, channels)  # (3, h, w)
        return to_uint8(channels)

    def error_at(self, ranks) -> Tensor:
        """The error view: min(|original − image_at(ranks)| · ERROR_GAIN, 255), uint8 of the same shape."""
        shown = self.image_at(ranks).int()
        return ((self.original.int() - shown).abs() * ERROR_GAIN).clamp(max=255).to(torch.uint8)

    def heatmaps_at(self, rank: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The matrix mode's three pictures at a rank: W, W_r, W − W_r, each (p, q, 3) uint8.

        Values are mapped as ``colours[rint(clip((v / limit + 1) / 2, 0, 1) · (L − 1))]``, in float64.
        """
        if self.kind != "matrix":
            raise LowRankError("heatmaps_at needs a matrix payload; this one is an image")
        (r,) = self.ranks(rank)
        a, b = self.display_factors()
        a64, b64 = a[0, :r].double().numpy(), b[0, :r].double().numpy()  # (r, p), (r, q)
        low_rank = a64.T @ b64  # (p, q)
        shown = self.original.double().numpy()
        return tuple(colour_index_map(values, self.limit, self.colours.numpy())
                     for values in (shown, low_rank, shown - low_rank))


def colour_index_map(values: np.ndarray, limit: float, colours: np.ndarray) -> np.ndarray:
    """(p, q) -> (p, q, 3) uint8 through a colour table, as scrubber.js maps a heatmap."""
    position = np.clip((values / limit + 1.0) / 2.0, 0.0, 1.0)
    return colours[np.rint(position * (len(colours) - 1)).astype(np.int64)]

