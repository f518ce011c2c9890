"""SVD as an image codec: colour spaces, rank-r reconstructions, their storage, and a comparison with JPEG.

An image of C channels is factorized channel by channel (``factorize`` on a (C, H, W) stack) in one of three
colour modes:

- "rgb": the red, green and blue channels, one rank shared by the three.
- "luminance": only BT.601 luma ``Y = 0.299 R + 0.587 G + 0.114 B`` (one channel; the result is grey).
- "ycbcr": JPEG's full-range BT.601 YCbCr (the same transform as Pillow's ``convert("YCbCr")``), with one
  rank for luma (Y) and one for chroma (Cb and Cr). Chroma is factorized centred on zero (JPEG's +128/255
  offset removed), so chroma rank 0 gives a grey image instead of a green one.

``ImageCodec`` holds the factorization and answers every question a rank slider asks (a reconstruction at a
rank, at a display size, from factors stored at float32/float16/int8; bytes; energy; rank rules) by slicing
the stored factors, never by factorizing again. ``rate_distortion`` puts the SVD beside JPEG and plain
downsampling on the same image. Torch, Pillow and numpy only: no Streamlit, no plotly.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from .budget import DTYPE_BYTES, StorageBytes, quantize, storage_bytes
from .errors import LowRankError, RankError, ShapeError
from .factorize import Factorization, factorize
from .metrics import SSIM_WINDOW, psnr, ssim
from .rank import rank_for_energy, rank_for_psnr

__all__ = [
    "COLOR_MODES",
    "CHROMA_OFFSET",
    "YCBCR_FROM_RGB",
    "LUMA_WEIGHTS",
    "RD_MAX_SIDE",
    "rgb_to_ycbcr",
    "ycbcr_to_rgb",
    "rgb_to_luminance",
    "to_color_space",
    "from_color_space",
    "reference_image",
    "channel_groups",
    "to_uint8",
    "to_hwc_uint8",
    "to_pil",
    "encode_image",
    "fit_size",
    "resize",
    "working_copy",
    "normalize_signed",
    "ImageCodec",
    "prepare_codec",
    "rebuild_from_arrays",
    "original_sizes",
    "jpeg_roundtrip",
    "downsample_roundtrip",
    "RatePoint",
    "RateDistortion",
    "rate_distortion",
    "rd_ranks",
    "CurveComparison",
    "compare_curves",
]

COLOR_MODES = ("rgb", "luminance", "ycbcr")
CHROMA_OFFSET = 128 / 255  # JPEG stores Cb and Cr with +128 on the 0..255 scale
LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # BT.601, as JPEG (JFIF) and Pillow's "L" conversion
YCBCR_FROM_RGB = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=torch.float64
)  # JFIF (ITU-T T.871) full range; add CHROMA_OFFSET to rows 2 and 3
RGB_FROM_YCBCR = torch.linalg.inv(YCBCR_FROM_RGB)  # exact inverse: 1.402, -0.344136, -0.714136, 1.772
RD_MAX_SIDE = 512  # rate-distortion curves are computed on a working copy at most this long on each side
RD_JPEG_QUALITIES = (5, 10, 20, 30, 50, 70, 85, 95)
RD_DOWNSAMPLE_FACTORS = (1.5, 2, 3, 4, 8)


# ============================================================================================ colour


def _check_stack(x: Tensor, name: str = "pixels") -> Tensor:
    """A (C, H, W) float tensor with C in {1, 3}."""
    if not isinstance(x, Tensor):
        raise ShapeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    if x.dim() != 3 or x.shape[0] not in (1, 3) or x.shape[1] < 1 or x.shape[2] < 1:
        raise ShapeError(f"{name} must have shape (C, H, W) with C = 1 or 3; got {tuple(x.shape)}")
    return x if x.is_floating_point() else x.float()


def _mix(matrix: Tensor, x: Tensor) -> Tensor:
    """Apply a 3×3 colour matrix to a (3, H, W) stack: out_i = Σ_j matrix[i, j] x_j."""
    m = matrix.to(device=x.device, dtype=x.dtype)
    return torch.einsum("ij,jhw->ihw", m, x)  # (3, H, W)


def rgb_to_ycbcr(rgb: Tensor) -> Tensor:
    """JPEG's full-range BT.601 YCbCr of RGB values in [0, 1], as Pillow's ``convert("YCbCr")`` / 255.

    Parameters
    ----------
    rgb : Tensor of shape (3, H, W), values in [0, 1]

    Returns
    -------
    Tensor of shape (3, H, W): Y in [0, 1]; Cb and Cr in [0, 1] with neutral grey at 128/255.
    """
    rgb = _check_stack(rgb, "rgb")
    if rgb.shape[0] != 3:
        raise ShapeError(f"rgb_to_ycbcr needs 3 channels; got {rgb.shape[0]}")
    ycbcr = _mix(YCBCR_FROM_RGB, rgb)  # (3, H, W)
    offset = torch.tensor([0.0, CHROMA_OFFSET, CHROMA_OFFSET], dtype=ycbcr.dtype, device=ycbcr.device)
    return ycbcr + offset[:, None, None]


def ycbcr_to_rgb(ycbcr: Tensor) -> Tensor:
    """Inverse of ``rgb_to_ycbcr`` (no clipping): (3, H, W) Y, Cb, Cr -> (3, H, W) R, G, B."""
    ycbcr = _check_stack(ycbcr, "ycbcr")
    if ycbcr.shape[0] != 3:
        raise ShapeError(f"ycbcr_to_rgb needs 3 channels; got {ycbcr.shape[0]}")
    offset = torch.tensor([0.0, CHROMA_OFFSET, CHROMA_OFFSET], dtype=ycbcr.dtype, device=ycbcr.device)
    return _mix(RGB_FROM_YCBCR, ycbcr - offset[:, None, None])


def rgb_to_luminance(rgb: Tensor) -> Tensor:
    """BT.601 luma ``0.299 R + 0.587 G + 0.114 B``: (3, H, W) -> (1, H, W). A grey (1, H, W) input is kept."""
    rgb = _check_stack(rgb, "rgb")
    if rgb.shape[0] == 1:
        return rgb
    weights = torch.tensor(LUMA_WEIGHTS, dtype=rgb.dtype, device=rgb.device)
    return torch.einsum("c,chw->hw", weights, rgb)[None]  # (1, H, W)


def _check_mode(mode: str, channels: int) -> str:
    """A known colour mode that the number of channels allows."""
    if mode not in COLOR_MODES:
        raise LowRankError(f"colour mode must be one of {COLOR_MODES}; got {mode!r}")
    if mode == "ycbcr" and channels != 3:
        raise ShapeError("the YCbCr mode needs a colour image; this one has a single (grey) channel")
    return mode


def to_color_space(pixels: Tensor, mode: str) -> Tensor:
    """The channels that ``mode`` factorizes.

    Parameters
    ----------
    pixels : Tensor of shape (C, H, W), C = 1 (grey) or 3 (RGB), values in [0, 1]
    mode : {"rgb", "luminance", "ycbcr"}

    Returns
    -------
    Tensor of shape (C', H, W), float32
        "rgb": the pixels; "luminance": (1, H, W) luma (a grey image as it is); "ycbcr": Y, Cb - 128/255,
        Cr - 128/255 (chroma centred on zero).
    """
    pixels = _check_stack(pixels).float()
    mode = _check_mode(mode, pixels.shape[0])
    if mode == "rgb":
        return pixels
    if mode == "luminance":
        return rgb_to_luminance(pixels)
    return _mix(YCBCR_FROM_RGB, pixels)  # (3, H, W), chroma centred


def from_color_space(channels: Tensor, mode: str) -> Tensor:
    """Inverse of ``to_color_space``, without clipping: RGB (3, H, W), or grey (1, H, W)."""
    channels = _check_stack(channels, "channels")
    mode = _check_mode(mode, channels.shape[0])
    if mode == "ycbcr":
        return _mix(RGB_FROM_YCBCR, channels)
    return channels


def reference_image(pixels: Tensor, mode: str) -> Tensor:
    """What a reconstruction in ``mode`` is compared with: the pixels, or their luma for "luminance"."""
    pixels = _check_stack(pixels).float()
    mode = _check_mode(mode, pixels.shape[0])
    return rgb_to_luminance(pixels) if mode == "luminance" else pixels


def channel_groups(mode: str, channels: int) -> tuple[tuple[int, ...], ...]:
    """Channels sharing one rank: ((0, 1, 2),) for RGB, ((0,),) for one channel, ((0,), (1, 2)) for YCbCr."""
    mode = _check_mode(mode, channels)
    if mode == "ycbcr":
        return ((0,), (1, 2))
    if mode == "luminance" or channels == 1:
        return ((0,),)
    return ((0, 1, 2),)


# ============================================================================================ pixels


def to_uint8(x: Tensor) -> Tensor:
    """Round to 8 bits: ``round(clip(x, 0, 1) · 255)`` as uint8, same shape, on the CPU.

    Halves round up (x·255 + 0.5, truncated), as Pillow and libjpeg do.
    """
    if x.dtype == torch.uint8:
        return x.cpu()
    # clip(x, 0, 1)·255 + 0.5 == clip(x·255 + 0.5, 0.5, 255.5): one new float tensor, then in place
    return x.detach().float().mul(255.0).add_(0.5).clamp_(0.5, 255.5).to(torch.uint8).cpu()


def to_hwc_uint8(x: Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] (or uint8) -> numpy uint8 of shape (H, W, C), or (H, W) for one channel."""
    x = _check_stack(x, "image") if x.dtype != torch.uint8 else x
    pixels = to_uint8(x)
    if pixels.shape[0] == 1:
        return pixels[0].numpy()
    return pixels.permute(1, 2, 0).contiguous().numpy()


def to_pil(x: Tensor) -> Image.Image:
    """A Pillow image ("RGB" or "L") of a (C, H, W) tensor in [0, 1] or uint8."""
    array = to_hwc_uint8(x)
    return Image.fromarray(array, mode="L" if array.ndim == 2 else "RGB")


def encode_image(x: Tensor | Image.Image, image_format: str = "PNG", *, quality: int | None = None) -> bytes:
    """Encode an image with Pillow: PNG (lossless), JPEG or WebP (``quality`` 1..100).

    Measured at 1920×1080 on 2 CPU cores (benchmarks/slider.py prints it): PNG ~600 ms (level 6), JPEG
    quality 90 ~5 ms, WebP quality 90 ~150 ms. The image page therefore sends JPEG to the browser and keeps
    PNG for the lossless download.
    """
    image = x if isinstance(x, Image.Image) else to_pil(x)
    fmt = image_format.upper()
    options: dict = {}
    if fmt in ("JPEG", "WEBP"):
        quality = 90 if quality is None else int(quality)
        if not 1 <= quality <= 100:
            raise LowRankError(f"quality must be between 1 and 100; got {quality}")
        options["quality"] = quality
    elif fmt == "PNG":
        options["compress_level"] = 6
    else:
        raise LowRankError(f"image format must be PNG, JPEG or WEBP; got {image_format!r}")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def fit_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(h, w) with the same aspect ratio and both sides at most ``max_side`` (never enlarged)."""
    if max_side < 1:
        raise LowRankError(f"max_side must be >= 1; got {max_side}")
    scale = min(1.0, max_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize a (C, H, W) stack to ``size`` = (h, w): bilinear with antialiasing (a linear map per axis).

    Because it is linear and separable, resizing the factors a (H -> h) and b (W -> w) of a product gives
    exactly the resized product: resize(a @ b) = resize_rows(a) @ resize_cols(b).
    """
    h, w = int(size[0]), int(size[1])
    if tuple(x.shape[-2:]) == (h, w):
        return x
    antialias = h < x.shape[-2] or w < x.shape[-1]
    return F.interpolate(x[None].float(), size=(h, w), mode="bilinear", antialias=antialias,
                         align_corners=False)[0]


def _resize_rows(a: Tensor, h: int) -> Tensor:
    """Resize the H axis of (C, H, r) to h, the same linear map ``resize`` applies to rows."""
    if a.shape[-2] == h or a.shape[-1] == 0:
        return a if a.shape[-2] == h else a.new_zeros(a.shape[0], h, a.shape[-1])
    return resize(a, (h, a.shape[-1]))


def _resize_cols(b: Tensor, w: int) -> Tensor:
    """Resize the W axis of (C, r, W) to w."""
    if b.shape[-1] == w or b.shape[-2] == 0:
        return b if b.shape[-1] == w else b.new_zeros(b.shape[0], b.shape[-2], w)
    return resize(b, (b.shape[-2], w))


def working_copy(pixels: Tensor, *, max_side: int = RD_MAX_SIDE) -> Tensor:
    """The image itself when both sides are at most ``max_side``; else an antialiased downscale of it."""
    pixels = _check_stack(pixels).float()
    return resize(pixels, fit_size(pixels.shape[1], pixels.shape[2], max_side)).clamp(0.0, 1.0)


def normalize_signed(x: Tensor) -> Tensor:
    """Map a signed image to [0, 1] for display: 0.5 + x / (2 max|x|), so mid-grey is zero.

    The scale is the largest magnitude over the whole tensor (all channels together); an all-zero input
    gives mid-grey everywhere.
    """
    peak = float(x.abs().max()) if x.numel() else 0.0
    if peak == 0.0:
        return torch.full_like(x, 0.5)
    return (0.5 + x / (2 * peak)).clamp(0.0, 1.0)


# ============================================================================================= codec


def _sum_storage(parts: list[StorageBytes]) -> StorageBytes:
    """Field-wise sum of StorageBytes."""
    return StorageBytes(
        float32=sum(p.float32 for p in parts), float16=sum(p.float16 for p in parts),
        int8=sum(p.int8 for p in parts), raw=sum(p.raw for p in parts),
    )


@dataclass(frozen=True)
class ImageCodec:
    """A factorized image: the SVD of each channel in a colour mode, and what any rank costs and gives.

    Attributes
    ----------
    mode : {"rgb", "luminance", "ycbcr"}
    factorization : Factorization
        Of the channels in the mode's colour space (``to_color_space``): U (C, H, k), S (C, k), Vh (C, k, W).
    groups : tuple of tuples of int
        Channels that share a rank (``channel_groups``): a rank setting is one int per group, e.g. (r,) for
        RGB and (r_luma, r_chroma) for YCbCr.
    a : Tensor of shape (C, H, k)
        ``U diag(S)`` in float32, contiguous: a slider move only multiplies ``a[..., :r] @ Vh[..., :r, :]``.
    """

    mode: str
    factorization: Factorization
    groups: tuple[tuple[int, ...], ...]
    a: Tensor

    # ---------------------------------------------------------------------------------- shape and ranks
    @property
    def channels(self) -> int:
        """C: channels factorized (3 for RGB and YCbCr, 1 for luminance or a grey image)."""
        return self.factorization.channels

    @property
    def height(self) -> int:
        """H."""
        return int(self.factorization.U.shape[-2])

    @property
    def width(self) -> int:
        """W."""
        return int(self.factorization.Vh.shape[-1])

    @property
    def max_rank(self) -> int:
        """Singular triplets stored per channel: min(H, W) after an exact SVD, the preview rank otherwise."""
        return self.factorization.max_rank

    @property
    def method(self) -> str:
        """"exact" or "randomized"."""
        return self.factorization.method

    @property
    def output_channels(self) -> int:
        """Channels of a reconstruction: 3 (RGB) or 1 (grey)."""
        return 3 if self.mode == "ycbcr" else self.channels

    @property
    def b(self) -> Tensor:
        """Vh, shape (C, k, W): the rows of the notebook's b."""
        return self.factorization.Vh

    def ranks(self, ranks) -> tuple[int, ...]:
        """Validate a rank setting: an int (the same rank for every group) or one int per group."""
        if isinstance(ranks, int | np.integer) and not isinstance(ranks, bool):
            ranks = (int(ranks),) * len(self.groups)
        ranks = tuple(ranks)
        if len(ranks) != len(self.groups):
            raise RankError(f"expected {len(self.groups)} rank(s) for the {self.mode} mode; got {ranks}")
        checked = []
        for r in ranks:
            if isinstance(r, bool) or int(r) != r:
                raise RankError(f"rank must be a whole number; got {r!r}")
            if not 0 <= int(r) <= self.max_rank:
                raise RankError(f"rank must be between 0 and {self.max_rank}; got {r}")
            checked.append(int(r))
        return tuple(checked)

    def channel_ranks(self, ranks) -> tuple[int, ...]:
        """The rank of each channel, shape (C,), from a rank setting."""
        ranks = self.ranks(ranks)
        per_channel = [0] * self.channels
        for group, r in zip(self.groups, ranks, strict=True):
            for c in group:
                per_channel[c] = r
        return tuple(per_channel)

    # ------------------------------------------------------------------------------------ factors
    def factors(self, ranks, *, dtype: str = "float32") -> tuple[tuple[Tensor, Tensor], ...]:
        """The stored factors of each group, as they would be read back from ``dtype``.

        Returns
        -------
        tuple of (a, b) per group: a of shape (C_g, H, r_g) = U_r diag(S_r), b of shape (C_g, r_g, W) = Vh_r,
        float32, rounded through ``dtype`` by ``budget.quantize`` (int8: one scale per column of a and per
        row of b, the scheme ``storage_bytes`` counts).
        """
        if dtype not in DTYPE_BYTES:
            raise LowRankError(f"dtype must be one of {tuple(DTYPE_BYTES)}; got {dtype!r}")
        out = []
        for group, r in zip(self.groups, self.ranks(ranks), strict=True):
            lo, hi = group[0], group[-1] + 1  # groups are contiguous channel ranges
            a = self.a[lo:hi, :, :r]  # (C_g, H, r), a strided view
            b = self.b[lo:hi, :r, :]  # (C_g, r, W)
            if dtype != "float32":
                a, b = quantize(a, dtype, dim=-2), quantize(b, dtype, dim=-1)
            out.append((a, b))
        return tuple(out)

    def channels_at(self, ranks, *, dtype: str = "float32", size: tuple[int, int] | None = None) -> Tensor:
        """The rank-r channels in the mode's colour space, unclipped: (C, H, W), or (C, h, w) for ``size``.

        With ``size`` the factors are resized (rows of a to h, columns of b to w) before the product, which
        is exactly the resized rank-r image and costs h·w·r instead of H·W·r per channel.
        """
        h, w = (self.height, self.width) if size is None else (int(size[0]), int(size[1]))
        out = torch.empty(self.channels, h, w, device=self.a.device)
        for group, (a, b) in zip(self.groups, self.factors(ranks, dtype=dtype), strict=True):
            if size is not None:
                a, b = _resize_rows(a, h), _resize_cols(b, w)
            lo, hi = group[0], group[-1] + 1
            if a.shape[-1] == 0:
                out[lo:hi].zero_()
            else:
                torch.bmm(a, b, out=out[lo:hi])  # (C_g, h, w)
        return out

    def reconstruct(self, ranks, *, dtype: str = "float32", size: tuple[int, int] | None = None) -> Tensor:
        """The rank-r image in RGB (3, H, W) or grey (1, H, W), clipped to [0, 1].

        Parameters
        ----------
        ranks : int or tuple of int (one per group)
        dtype : {"float32", "float16", "int8"}
            Precision the factors are stored at; the image is rebuilt from the rounded factors.
        size : (h, w), optional
            Display size (see ``channels_at``); default the full size.
        """
        channels = self.channels_at(ranks, dtype=dtype, size=size)
        return from_color_space(channels, self.mode).clamp_(0.0, 1.0)

    # ------------------------------------------------------------------------------------ numbers
    def storage(self, ranks) -> StorageBytes:
        """Bytes of the factors at float32/float16/int8 (summed over groups) and of the raw 8-bit image."""
        parts = [storage_bytes(self.height, self.width, r, channels=len(g))
                 for g, r in zip(self.groups, self.ranks(ranks), strict=True)]
        return _sum_storage(parts)

    def energy_kept(self, ranks) -> float:
        """Σ of the kept σᵢ² over ‖x‖_F², all channels together, in the mode's colour space."""
        kept = 0.0
        energy = self.factorization.S.double() ** 2  # (C, k)
        for c, r in enumerate(self.channel_ranks(ranks)):
            kept += float(energy[c, :r].sum())
        total = float(self.factorization.total_energy.sum())
        return min(kept / total, 1.0) if total > 0 else 1.0

    def _group_S(self, group: tuple[int, ...]) -> tuple[Tensor, Tensor]:
        """S (C_g, k) and ‖x‖² (C_g,) of a group, on the CPU."""
        index = list(group)
        return self.factorization.S[index].cpu(), self.factorization.total_energy[index].cpu()

    def rank_for_energy(self, fraction: float) -> tuple[int, ...]:
        """Per group, the smallest rank keeping ``fraction`` of the group's ‖x‖_F² (``rank_for_energy``)."""
        out = []
        for group in self.groups:
            S, total = self._group_S(group)
            out.append(min(rank_for_energy(S, fraction, total_energy=total), self.max_rank))
        return tuple(out)

    def rank_for_psnr(self, target_db: float) -> tuple[int, ...]:
        """Per group, the smallest rank whose truncation reaches ``target_db`` (``rank.rank_for_psnr``).

        Exact (Eckart–Young) for the channels in the mode's colour space, before clipping and 8-bit
        rounding; for YCbCr that is the PSNR of luma and of chroma, not of the RGB image.
        """
        out = []
        for group in self.groups:
            S, total = self._group_S(group)
            shape = (len(group), self.height, self.width)
            out.append(min(rank_for_psnr(S, shape, target_db, total_energy=total), self.max_rank))
        return tuple(out)

    def rank_for_bytes(self, budget: int, *, dtype: str = "float16") -> tuple[int, ...]:
        """The largest rank setting whose factors at ``dtype`` fit in ``budget`` bytes.

        One group (RGB, luminance): the largest r with ``storage(r).of(dtype) <= budget``. YCbCr: the bytes
        go, one rank step at a time, to whichever of luma (one channel) or chroma (two channels) removes
        more squared error per byte (σ² over the step's bytes, Eckart–Young in YCbCr space); when the best
        step no longer fits, smaller steps that still fit are taken, so that neither rank can grow by one.
        """
        if dtype not in DTYPE_BYTES:
            raise LowRankError(f"dtype must be one of {tuple(DTYPE_BYTES)}; got {dtype!r}")
        if not budget >= 0:
            raise LowRankError(f"byte budget must be >= 0; got {budget}")
        step = [storage_bytes(self.height, self.width, 1, channels=len(g)).of(dtype) for g in self.groups]
        if len(self.groups) == 1:
            return (min(int(budget // step[0]), self.max_rank),)
        gains = []  # per group, the squared error each next rank removes (descending)
        for group in self.groups:
            S, _ = self._group_S(group)
            gains.append((S.double() ** 2).sum(0).tolist())  # (k,)
        ranks = [0] * len(self.groups)
        left = int(budget)
        while True:
            options = [g for g in range(len(self.groups)) if ranks[g] < self.max_rank and step[g] <= left]
            if not options:
                return tuple(ranks)
            best = max(options, key=lambda g: (gains[g][ranks[g]] / step[g], -g))
            ranks[best] += 1
            left -= step[best]

    def break_even_rank(self, dtype: str) -> int:
        """Largest rank (the same for every group) whose factors at ``dtype`` fit in the raw 8-bit size."""
        raw = self.storage(0).raw
        per_rank = self.storage(1).of(dtype)
        return int(raw // per_rank)

    # ------------------------------------------------------------------------------------ galleries
    def components(self, count: int, *, size: tuple[int, int] | None = None,
                   group: int = 0) -> Tensor:
        """The first ``count`` rank-one terms σᵢ uᵢ vᵢᵀ of the channels in ``group``, signed.

        Returns
        -------
        Tensor of shape (count, C_g, h, w), in the mode's colour space (not clipped; see
        ``normalize_signed``). With ``size``, u and v are resized first, which is exactly the resized term.
        """
        count = max(0, min(int(count), self.max_rank))
        h, w = (self.height, self.width) if size is None else size
        index = list(self.groups[group])
        a = _resize_rows(self.a[index, :, :count], h)  # (C_g, h, count)
        b = _resize_cols(self.b[index, :count, :], w)  # (C_g, count, w)
        return torch.einsum("chi,ciw->ichw", a, b)  # (count, C_g, h, w)

    def partial_sum_ranks(self, *, limit: int = 8) -> list[int]:
        """Ranks 1, 2, 4, 8, ... up to the largest stored, at most ``limit`` of them."""
        out, r = [], 1
        while r <= self.max_rank and len(out) < limit:
            out.append(r)
            r *= 2
        return out

    # ------------------------------------------------------------------------------------ export
    def export_arrays(self, ranks, *, dtype: str = "float16") -> dict[str, np.ndarray]:
        """Arrays for ``np.savez`` that rebuild ``reconstruct(ranks, dtype=dtype)`` (``rebuild_from_arrays``).

        Keys: ``mode``, ``ranks`` (per channel), ``a{c}`` (H, r_c) and ``b{c}`` (r_c, W) per channel c at
        ``dtype`` (int8 factors come with ``a{c}_scale`` (r_c,) and ``b{c}_scale`` (r_c,) float32: the value
        is int8 × scale), ``rgb_from_ycbcr`` (3, 3) and ``chroma_offset`` for YCbCr, and ``readme``.
        No object arrays: ``np.load(..., allow_pickle=False)`` reads it.
        """
        if dtype not in DTYPE_BYTES:
            raise LowRankError(f"dtype must be one of {tuple(DTYPE_BYTES)}; got {dtype!r}")
        arrays: dict[str, np.ndarray] = {
            "mode": np.array(self.mode),
            "ranks": np.array(self.channel_ranks(ranks), dtype=np.int64),
            "readme": np.array(_EXPORT_README),
        }
        for group, r in zip(self.groups, self.ranks(ranks), strict=True):
            for c in group:
                a = self.a[c, :, :r].cpu()  # (H, r)
                b = self.b[c, :r, :].cpu()  # (r, W)
                if dtype == "int8":
                    a_scale = _int8_scale(a, dim=0)  # (r,)
                    b_scale = _int8_scale(b, dim=1)  # (r,)
                    arrays[f"a{c}"] = _to_int8(a / a_scale[None, :])
                    arrays[f"b{c}"] = _to_int8(b / b_scale[:, None])
                    arrays[f"a{c}_scale"] = a_scale.numpy()
                    arrays[f"b{c}_scale"] = b_scale.numpy()
                else:
                    torch_dtype = torch.float16 if dtype == "float16" else torch.float32
                    arrays[f"a{c}"] = a.to(torch_dtype).numpy()
                    arrays[f"b{c}"] = b.to(torch_dtype).numpy()
        if self.mode == "ycbcr":
            arrays["rgb_from_ycbcr"] = RGB_FROM_YCBCR.numpy()
            arrays["chroma_offset"] = np.array(CHROMA_OFFSET)
        return arrays


_EXPORT_README = (
    "Low-Rank Explorer image factors. For each channel c: x_c = a{c} @ b{c} (for int8 factors first "
    "a{c} * a{c}_scale[None, :] and b{c} * b{c}_scale[:, None]). "
    "mode 'rgb': the channels are R, G, B (or one grey channel); "
    "'luminance': one grey channel (BT.601 luma); 'ycbcr': the channels are Y, Cb - 128/255, Cr - 128/255 "
    "and RGB = rgb_from_ycbcr @ (Y, Cb - 128/255, Cr - 128/255). Then clip to [0, 1] and multiply by 255."
)


def _to_int8(scaled: Tensor) -> np.ndarray:
    """Round to int8 in -127..127, as ``budget.quantize``."""
    return torch.round(scaled).clamp(-127, 127).to(torch.int8).numpy()


def _int8_scale(values: Tensor, *, dim: int) -> Tensor:
    """max|v| / 127 along ``dim`` (1 where all zero), float32 — the scale ``budget.quantize`` uses."""
    scale = values.abs().amax(dim=dim).float() / 127
    return torch.where(scale > 0, scale, torch.ones_like(scale))


def rebuild_from_arrays(arrays) -> Tensor:
    """The image (3 or 1, H, W) in [0, 1] from ``ImageCodec.export_arrays`` or an ``np.load`` of its file."""
    mode = str(arrays["mode"])
    channel_ranks = [int(r) for r in np.asarray(arrays["ranks"])]
    planes = []
    for c in range(len(channel_ranks)):
        a = torch.from_numpy(np.asarray(arrays[f"a{c}"])).float()
        b = torch.from_numpy(np.asarray(arrays[f"b{c}"])).float()
        if f"a{c}_scale" in arrays:
            a = a * torch.from_numpy(np.asarray(arrays[f"a{c}_scale"]))[None, :]
            b = b * torch.from_numpy(np.asarray(arrays[f"b{c}_scale"]))[:, None]
        planes.append(a @ b)  # (H, W)
    return from_color_space(torch.stack(planes), mode).clamp(0.0, 1.0)


def prepare_codec(pixels: Tensor, mode: str, *, method: str = "exact", max_rank: int | None = None,
                  device=None) -> ImageCodec:
    """Factorize an image in a colour mode: the one expensive step, done once per image and mode.

    Parameters
    ----------
    pixels : Tensor of shape (C, H, W), C = 1 or 3, values in [0, 1]
    mode : {"rgb", "luminance", "ycbcr"}
    method : {"exact", "randomized", "auto"}
        Passed to ``factorize``; "randomized" needs ``max_rank`` (a fast preview of a large image).
    max_rank : int, optional
    device : optional, see ``choose_device``

    Returns
    -------
    ImageCodec
    """
    channels = to_color_space(pixels, mode)  # (C', H, W)
    factorization = factorize(channels, method=method, max_rank=max_rank, device=device)
    a = (factorization.U * factorization.S[:, None, :]).contiguous()  # (C', H, k)
    return ImageCodec(mode, factorization, channel_groups(mode, pixels.shape[0]), a)


# ==================================================================================== other codecs


def _reference_pil(reference: Tensor) -> Image.Image:
    """The 8-bit Pillow image of a reference (RGB or grey)."""
    return to_pil(reference)


def original_sizes(pixels: Tensor, mode: str) -> dict[str, int]:
    """Bytes of the original (its 8-bit RGB, or grey luma for "luminance") as PNG, JPEG q75 and JPEG q90.

    Returns
    -------
    dict with keys "raw" (H·W·C), "png", "jpeg75", "jpeg90": Pillow's encoded lengths.
    """
    reference = reference_image(pixels, mode)
    image = _reference_pil(reference)
    return {
        "raw": reference.numel(),
        "png": len(encode_image(image, "PNG")),
        "jpeg75": len(encode_image(image, "JPEG", quality=75)),
        "jpeg90": len(encode_image(image, "JPEG", quality=90)),
    }


def _from_pil(image: Image.Image) -> Tensor:
    """(C, H, W) float32 in [0, 1] from an "RGB" or "L" Pillow image."""
    array = np.asarray(image, dtype=np.float32) / 255.0
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def jpeg_roundtrip(reference: Tensor, quality: int) -> tuple[int, Tensor]:
    """Encode the 8-bit reference as JPEG at ``quality`` with Pillow; return (bytes, decoded (C, H, W))."""
    data = encode_image(_reference_pil(reference), "JPEG", quality=quality)
    with Image.open(io.BytesIO(data)) as decoded:
        return len(data), _from_pil(decoded.convert("L" if reference.shape[0] == 1 else "RGB"))


def downsample_roundtrip(reference: Tensor, factor: float) -> tuple[Image.Image, Tensor]:
    """Shrink the 8-bit reference by ``factor`` (Pillow bicubic, antialiased), then enlarge it back (bicubic).

    Returns
    -------
    (small, restored): the stored 8-bit small image and the (C, H, W) float image a viewer would see.
    """
    image = _reference_pil(reference)
    width, height = image.size
    small_size = (max(1, round(width / factor)), max(1, round(height / factor)))
    small = image.resize(small_size, Image.Resampling.BICUBIC)
    restored = small.resize((width, height), Image.Resampling.BICUBIC)
    return small, _from_pil(restored)


# ============================================================================= rate and distortion


@dataclass(frozen=True)
class RatePoint:
    """One compressed version of the working copy.

    Attributes
    ----------
    codec : str
        "svd-float16", "svd-int8", "jpeg", "downsample-raw" or "downsample-png".
    setting : str
        What was varied, e.g. "rank 12", "rank 12/3" (luma/chroma), "quality 75", "1/4 size".
    bytes : int
        Stored size.
    bits_per_pixel : float
        bytes × 8 / (H·W): comparable between image sizes.
    psnr, ssim : float
        Of the decoded 8-bit image against the working copy's reference (core metrics).
    """

    codec: str
    setting: str
    bytes: int
    bits_per_pixel: float
    psnr: float
    ssim: float


@dataclass(frozen=True)
class RateDistortion:
    """Rate–distortion points of several codecs on one working copy.

    Attributes
    ----------
    points : tuple of RatePoint
    height, width : int
        Size of the working copy the points were measured on.
    source_height, source_width : int
        Size of the image it was made from.
    mode : str
    """

    points: tuple[RatePoint, ...]
    height: int
    width: int
    source_height: int
    source_width: int
    mode: str

    @property
    def codecs(self) -> list[str]:
        """Codec names in first-seen order."""
        return list(dict.fromkeys(p.codec for p in self.points))

    def curve(self, codec: str) -> list[RatePoint]:
        """The points of one codec, sorted by bytes."""
        return sorted((p for p in self.points if p.codec == codec), key=lambda p: (p.bytes, p.psnr))

    @property
    def is_downscaled(self) -> bool:
        """True when the working copy is smaller than the image."""
        return (self.height, self.width) != (self.source_height, self.source_width)


def rd_ranks(max_rank: int, *, limit_rank: int | None = None, count: int = 10) -> list[int]:
    """About ``count`` ranks spread geometrically from 1 to ``limit_rank`` (default max_rank)."""
    top = max(1, min(max_rank, limit_rank or max_rank))
    ranks = np.unique(np.round(np.geomspace(1, top, num=count)).astype(int))
    return [int(r) for r in ranks if 1 <= r <= max_rank]


def _quality(reference: Tensor, decoded: Tensor) -> tuple[float, float]:
    """(PSNR, SSIM) of an 8-bit decoded image against the reference (SSIM only when the image allows it)."""
    test = to_uint8(decoded).float() / 255.0
    value_ssim = ssim(reference, test) if min(reference.shape[-2:]) >= SSIM_WINDOW else math.nan
    return psnr(reference, test), value_ssim


def rate_distortion(pixels: Tensor, mode: str, *, max_side: int = RD_MAX_SIDE, chroma_share: float = 0.25,
                    ranks: list[int] | None = None, jpeg_qualities=RD_JPEG_QUALITIES,
                    downsample_factors=RD_DOWNSAMPLE_FACTORS, device=None) -> RateDistortion:
    """PSNR and SSIM against bytes for SVD (float16 and int8 factors), JPEG and downsampling.

    Everything is measured on ``working_copy(pixels, max_side)`` so that it takes seconds, not minutes:
    the copy is factorized once; the SVD points rebuild the image from factors rounded through float16 or
    int8 (``budget.quantize``), so their quality is what storing them would give. JPEG points encode the
    8-bit reference with Pillow at each quality and count its bytes. Downsampling shrinks the 8-bit
    reference by each factor (bicubic) and enlarges it back; its bytes are the small image's raw 8-bit
    size ("downsample-raw") and its PNG ("downsample-png").

    Parameters
    ----------
    pixels : Tensor of shape (C, H, W) in [0, 1]
    mode : {"rgb", "luminance", "ycbcr"}
        The reference is the luma for "luminance" (JPEG and downsampling then work on the grey image).
    chroma_share : float
        For "ycbcr", the chroma rank is ``ceil(chroma_share × luma rank)``.
    ranks : list of int, optional
        SVD ranks (luma ranks for YCbCr); default ``rd_ranks`` up to where float16 factors reach the raw
        8-bit size.
    """
    pixels = _check_stack(pixels).float()
    copy = working_copy(pixels, max_side=max_side)  # (C, h, w)
    reference = reference_image(copy, mode)
    h, w = copy.shape[-2:]
    pixel_count = h * w
    codec = prepare_codec(copy, mode, method="exact", device=device)
    points: list[RatePoint] = []

    def add(name: str, setting: str, size: int, decoded: Tensor) -> None:
        value_psnr, value_ssim = _quality(reference, decoded.cpu())
        points.append(RatePoint(name, setting, int(size), 8 * size / pixel_count, value_psnr, value_ssim))

    if ranks is None:
        ranks = rd_ranks(codec.max_rank, limit_rank=max(1, codec.break_even_rank("float16")))
    for r in ranks:
        setting = _rank_setting(codec, r, chroma_share)
        label = f"rank {setting[0]}" if len(setting) == 1 else f"rank {setting[0]}/{setting[1]}"
        storage = codec.storage(setting)
        for dtype in ("float16", "int8"):
            add(f"svd-{dtype}", label, storage.of(dtype), codec.reconstruct(setting, dtype=dtype))
    for quality in jpeg_qualities:
        size, decoded = jpeg_roundtrip(reference, quality)
        add("jpeg", f"quality {quality}", size, decoded)
    for factor in downsample_factors:
        small, restored = downsample_roundtrip(reference, factor)
        setting = f"1/{factor:g} size"
        add("downsample-raw", setting, small.width * small.height * reference.shape[0], restored)
        same = points[-1]  # the PNG of the small image decodes to the same pixels: same quality
        png = len(encode_image(small, "PNG"))
        points.append(RatePoint("downsample-png", setting, png, 8 * png / pixel_count, same.psnr, same.ssim))
    return RateDistortion(tuple(points), h, w, pixels.shape[1], pixels.shape[2], mode)


def _rank_setting(codec: ImageCodec, rank: int, chroma_share: float) -> tuple[int, ...]:
    """(r,) or, for YCbCr, (r, ceil(chroma_share · r)) clipped to the stored rank."""
    if len(codec.groups) == 1:
        return (min(rank, codec.max_rank),)
    return (min(rank, codec.max_rank), min(math.ceil(chroma_share * rank), codec.max_rank))


@dataclass(frozen=True)
class CurveComparison:
    """Where one rate–distortion curve lies above another.

    Attributes
    ----------
    first, second : str
        Codec names.
    metric : {"psnr", "ssim"}
    low_bpp, high_bpp : float
        The bits-per-pixel range both curves cover (compared on a log grid inside it).
    wins : tuple of (float, float)
        Intervals of bits per pixel where ``first`` is higher than ``second``.
    share : float
        Fraction of the common range (in log bits per pixel) where ``first`` is higher.
    """

    first: str
    second: str
    metric: str
    low_bpp: float
    high_bpp: float
    wins: tuple[tuple[float, float], ...]
    share: float


def _upper_envelope(points: list[RatePoint], metric: str) -> tuple[np.ndarray, np.ndarray]:
    """log-bpp and quality of a curve, made non-decreasing (a codec can always spend bytes it needs not)."""
    x = np.log([p.bits_per_pixel for p in points])
    y = np.maximum.accumulate(np.array([getattr(p, metric) for p in points], dtype=float))
    return x, y


def compare_curves(rd: RateDistortion, first: str, second: str, *, metric: str = "psnr",
                   samples: int = 200) -> CurveComparison | None:
    """Compare two codecs' curves on their common range of bits per pixel (log-linear interpolation).

    Returns None when the two curves do not overlap.
    """
    if metric not in ("psnr", "ssim"):
        raise LowRankError(f"metric must be 'psnr' or 'ssim'; got {metric!r}")
    a = [p for p in rd.curve(first) if math.isfinite(getattr(p, metric))]
    b = [p for p in rd.curve(second) if math.isfinite(getattr(p, metric))]
    if len(a) < 2 or len(b) < 2:
        return None
    xa, ya = _upper_envelope(a, metric)
    xb, yb = _upper_envelope(b, metric)
    low, high = max(xa[0], xb[0]), min(xa[-1], xb[-1])
    if not low < high:
        return None
    grid = np.linspace(low, high, samples)
    ahead = np.interp(grid, xa, ya) > np.interp(grid, xb, yb)
    wins, start = [], None
    for x, flag in zip(grid, ahead, strict=True):
        if flag and start is None:
            start = x
        if not flag and start is not None:
            wins.append((float(np.exp(start)), float(np.exp(x))))
            start = None
    if start is not None:
        wins.append((float(np.exp(start)), float(np.exp(grid[-1]))))
    return CurveComparison(first, second, metric, float(np.exp(low)), float(np.exp(high)), tuple(wins),
                           float(ahead.mean()))
