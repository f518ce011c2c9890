"""SVD as an image codec: one factorization per image and colour mode, every slider question answered from it.

``ImageCodec`` holds the factorization and answers every question a rank slider asks (a reconstruction at a
rank, at a display size, from factors stored at float32/float16/int8; bytes; energy; rank rules) by slicing
the stored factors, never by factorizing again. ``prepare_codec`` makes one; ``export_arrays`` and
``rebuild_from_arrays`` store and rebuild its factors without pickle.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .._checks import rank_setting
from ..budget import DTYPE_BYTES, StorageBytes, quantize, storage_bytes
from ..errors import LowRankError
from ..factorize import Factorization, factorize
from ..rank import rank_for_energy, rank_for_psnr
from .colour import CHROMA_OFFSET, RGB_FROM_YCBCR, channel_groups, from_color_space, to_color_space
from .pixels import resize

__all__ = [
    "ImageCodec",
    "prepare_codec",
    "factors_file",
    "rebuild_from_arrays",
]


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
    channel_sums : Tensor of shape (C,), optional
        Σ of each factorized channel's values (float64), for the centred share of the energy.
    """

    mode: str
    factorization: Factorization
    groups: tuple[tuple[int, ...], ...]
    a: Tensor
    channel_sums: Tensor | None = None

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
        return rank_setting(ranks, groups=len(self.groups), mode=self.mode, top=self.max_rank)

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

    def centred_energy_kept(self, ranks) -> float | None:
        """The share of the energy about each channel's mean that the rank-r image keeps (its R²).

        ``1 − ‖x − x_r‖² / ‖x − x̄‖²``, all channels together, in the mode's colour space, with ‖x − x_r‖² by
        Eckart–Young. ``energy_kept`` is uncentred: a photograph's mean brightness is most of its ‖x‖², so
        rank 1 alone keeps about 90 % of it; this share starts from the mean instead. None without the
        channel sums.
        """
        if self.channel_sums is None:
            return None
        residual = self.factorization.residual_energy().cpu()  # (C, k + 1)
        lost = sum(float(residual[c, r]) for c, r in enumerate(self.channel_ranks(ranks)))
        pixels = self.height * self.width
        spread = float((self.factorization.total_energy.cpu() - self.channel_sums.cpu() ** 2 / pixels).sum())
        if spread <= 0:
            return 1.0
        return min(max(1.0 - lost / spread, 0.0), 1.0)

    def _group_S(self, group: tuple[int, ...]) -> tuple[Tensor, Tensor]:
        """S (C_g, k) and ‖x‖² (C_g,) of a group, on the CPU."""
        index = list(group)
        return self.factorization.S[index].cpu(), self.factorization.total_energy[index].cpu()

    def rank_for_energy(self, fraction: float) -> tuple[int, ...]:
        """Per group, the smallest rank keeping ``fraction`` of the group's ‖x‖_F² (``rank_for_energy``)."""
        out = []
        for group in self.groups:
            S, total = self._group_S(group)
            shape = (len(group), self.height, self.width)
            out.append(min(rank_for_energy(S, fraction, total_energy=total, shape=shape), self.max_rank))
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
            "readme": np.array(_EXPORT_README.encode("ascii")),  # one byte a character (str is UTF-32)
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


def factors_file(codec: ImageCodec, ranks, *, dtype: str = "float16") -> bytes:
    """The .npz file of ``codec.export_arrays(ranks, dtype=dtype)`` (``np.savez``, uncompressed, no pickle).

    The page's download and ``python -m lowrank_core compress --factors`` write exactly these bytes; their
    length is the file's real size: the factor payload (``ImageCodec.storage``) plus the arrays' .npy
    headers, the zip directory, the mode, the ranks and the readme.
    """
    buffer = io.BytesIO()
    np.savez(buffer, **codec.export_arrays(ranks, dtype=dtype))
    return buffer.getvalue()


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
    sums = channels.double().sum(dim=(-2, -1)).cpu()  # (C',)
    return ImageCodec(mode, factorization, channel_groups(mode, pixels.shape[0]), a, sums)
