"""Caches of the image page: the only place where it calls st.cache_* (background jobs: ``ui.jobs``).

What is cached, keyed on small hashable things (``key`` is "sample:NAME" or "sha256:DIGEST" of the uploaded
bytes; a tensor argument is passed as ``_name`` beside the key that produced it):

- the decoded image (``load_sample``, ``load_upload``), shared read-only, and the factorization of each
  (image, colour mode, method) as an ``ImageCodec`` (``codec``): the expensive steps, so a slider move only
  multiplies slices of cached factors. Both are ``ui.shared_cache`` caches: each session holds at most its
  share and gives it back when it ends, and a miss waits for a free slot (``ui.admission``);
- the rank scrubber's payload of each (image, colour mode, method, precision) (``scrub_payload``: the display
  factors, ≤ 4 MB, sent to the browser once, which then draws every rank itself);
- the JPEG bytes of each reconstruction the server path shows (``display_jpeg``), so moving back to a rank
  costs nothing;
- the full-size 8-bit reconstruction of the current setting (``shown_pixels``), its quality numbers, the
  original's PNG/JPEG sizes, the galleries and the error image;
- the tiles mode: the tile factorization per (image, colour mode, tile side) (``tile_factorization``), each
  tile-coded setting (``tile_compression``), its display JPEG and its SSIM.

Slow work that must not hold up a slider move runs on the shared background worker (``ui.jobs``): the exact
SVD of a large image (after a randomized preview), the rate–distortion curves and the tile SVD's curve.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import Future

import streamlit as st
import torch

from lowrank_core import LowRankError, metrics, scrub, sources
from lowrank_core import image as codec_core
from lowrank_core.image import ImageCodec
from lowrank_core.image import tiles as tile_codec
from lowrank_core.image.targets import MeasuredRule, ranks_for_psnr
from ui import limits
from ui.jobs import JobQueueFull, job_board, session_group
from ui.limits import (
    CACHE_ENTRIES,
    CODEC_ENTRIES,
    CODEC_TTL_SECONDS,
    DISPLAY_MAX_SIDE,
    DISPLAY_QUALITY,
    EXACT_KEEP,
    RD_KEEP,
    SHARP_PIXELS_SIDE,
    THUMBNAIL_SIDE,
    TILE_ENTRIES,
)
from ui.shared_cache import shared_resource
from ui.state import session_token
from ui.style import ERROR_GAIN

__all__ = [
    "content_key",
    "load_sample",
    "load_upload",
    "codec",
    "current_codec",
    "exact_codec_job",
    "rate_distortion_job",
    "display_size",
    "codec_identity",
    "scrub_payload",
    "sharp_pixels",
    "render_display_jpeg",
    "display_jpeg",
    "original_jpeg",
    "shown_pixels",
    "quality_numbers",
    "psnr_rule",
    "original_sizes",
    "error_jpeg",
    "component_gallery",
    "partial_sum_gallery",
    "png_bytes",
    "jpeg_bytes",
    "npz_bytes",
    "npz_size",
    "sample_file_bytes",
    "tile_factorization",
    "tile_compression",
    "tile_display_jpeg",
    "tile_ssim",
    "tile_curve_job",
]


# ============================================================================================ loading


def content_key(data: bytes) -> str:
    """"sha256:<hex>" of the bytes: what an upload is cached under."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@shared_resource("decoded_image", max_entries=CACHE_ENTRIES["decoded_image"], work="decode",
                 what="decoding the image")
def load_sample(name: str, max_pixels: int = sources.DEFAULT_MAX_PIXELS) -> sources.LoadedImage:
    """A shipped sample, decoded once."""
    return sources.load_sample(name, max_pixels=max_pixels)


@shared_resource("decoded_image", max_entries=CACHE_ENTRIES["decoded_image"], work="decode",
                 what="decoding your image")
def load_upload(key: str, _data: bytes, name: str,
                max_pixels: int = sources.DEFAULT_MAX_PIXELS) -> sources.LoadedImage:
    """An uploaded (or camera) image, decoded once per content. Raises InputError (not cached)."""
    return sources.load_image(_data, max_pixels=max_pixels, name=name)


# ============================================================================================== codec


@shared_resource("codec", max_entries=CODEC_ENTRIES, ttl_seconds=CODEC_TTL_SECONDS, work="factorize",
                 what="the SVD of your image")
def codec(key: str, mode: str, method: str, max_rank: int | None, _pixels: torch.Tensor) -> ImageCodec:
    """The factorization of an image in a colour mode (exact, or a randomized preview of ``max_rank``)."""
    return codec_core.prepare_codec(_pixels, mode, method=method, max_rank=max_rank)


def current_codec(key: str, mode: str, pixels: torch.Tensor) -> tuple[ImageCodec, Future | None]:
    """The codec to show now, and the background exact SVD it waits for (None when it is already exact).

    Up to ``limits.EXACT_MAX_PIXELS`` the exact SVD runs at once (cached). Above, a randomized preview of
    ``limits.PREVIEW_RANK`` triplets is computed first and the exact SVD is queued on the background thread;
    once it has finished, its codec is returned instead. The session keeps the future of its own exact SVD
    (``_image_exact_job``; one, replaced when the image or the mode changes), so its result outlives the
    board's short list of finished exact SVDs while this session is open (the board drops it when the
    session ends). A job refused because the board was busy is not held: the next rerun queues it again.
    """
    height, width = pixels.shape[-2:]
    if height * width <= limits.EXACT_MAX_PIXELS:
        return codec(key, mode, "exact", None, pixels), None
    board, owner = job_board(), session_token()
    job = board.held(owner, "exact", (key, mode)) or board.get(("exact", key, mode))
    if job is not None and job.done() and not job.cancelled() and job.exception() is None:
        board.hold(owner, "exact", (key, mode), job)
        return job.result(), job
    preview = codec(key, mode, "randomized", min(limits.PREVIEW_RANK, height, width), pixels)
    failed = job is not None and job.done() and not job.cancelled()
    if failed and not isinstance(job.exception(), JobQueueFull):
        return preview, job  # the exact SVD failed: keep the preview, and do not retry on every rerun
    job = exact_codec_job(key, mode, pixels)  # queued after the preview, not before
    if not (job.done() and isinstance(job.exception(), JobQueueFull)):
        board.hold(owner, "exact", (key, mode), job)
    return preview, job


def exact_codec_job(key: str, mode: str, pixels: torch.Tensor) -> Future:
    """The exact factorization of a large image, computed on the background thread."""
    return job_board().submit(("exact", key, mode), codec_core.prepare_codec, pixels, mode,
                              method="exact", group=session_group("exact"), keep=EXACT_KEEP, priority=0,
                              owner=session_token())


def rate_distortion_job(key: str, mode: str, pixels: torch.Tensor) -> Future:
    """Rate–distortion curves of the image's working copy, on the background thread."""
    return job_board().submit(("rd", key, mode), codec_core.rate_distortion, pixels, mode,
                              group=session_group("rd"), keep=RD_KEEP, owner=session_token())


def _ssim_of(reference: torch.Tensor, shown: torch.Tensor) -> float:
    """Core SSIM of an 8-bit image against the reference (NaN when smaller than the 11×11 window)."""
    if min(reference.shape[-2:]) < metrics.SSIM_WINDOW:
        return float("nan")
    return metrics.ssim(reference, shown.float() / 255.0)


# ============================================================================================ display


def display_size(height: int, width: int) -> tuple[int, int]:
    """(h, w) the page shows an image at: fitted inside DISPLAY_MAX_SIDE, or a small one enlarged to about
    SHARP_PIXELS_SIDE with square pixels (an 8×8 upload as 512×512; ``image.shown_size``)."""
    return codec_core.shown_size(height, width, DISPLAY_MAX_SIDE, sharp_side=SHARP_PIXELS_SIDE)


def codec_identity(key: str, codec_: ImageCodec) -> tuple:
    """What identifies a codec in the caches below: (key, mode, method, stored rank)."""
    return (key, codec_.mode, codec_.method, codec_.max_rank)


@st.cache_resource(max_entries=CACHE_ENTRIES["scrub_payload"], ttl=CODEC_TTL_SECONDS, show_spinner=False)
def scrub_payload(identity: tuple, dtype: str, _codec: ImageCodec, _pixels: torch.Tensor) -> bytes:
    """The rank scrubber's payload (``lowrank_core.scrub``): the codec's factors at ``dtype``, fitted inside
    DISPLAY_MAX_SIDE (never enlarged: the browser shows a small image enlarged with square pixels itself),
    as many ranks as fit 4 MB, and the original. Shared read-only (bytes): the same object on every rerun, so
    Streamlit sends it to a browser once and then only a reference."""
    size = codec_core.fit_size(_codec.height, _codec.width, DISPLAY_MAX_SIDE)
    return scrub.pack(scrub.scrub_factors(_codec, _pixels, dtype=dtype, size=size))


def sharp_pixels(height: int, width: int) -> bool:
    """Whether the page shows an image enlarged with square pixels (at most SHARP_PIXELS_SIDE / 2 a side)."""
    return codec_core.pixel_zoom(height, width, SHARP_PIXELS_SIDE) > 1


def render_display_jpeg(codec_: ImageCodec, ranks: tuple[int, ...], dtype: str,
                        size: tuple[int, int]) -> bytes:
    """The work of one slider move: the rank-r image at the display size, 8-bit, as JPEG.

    The factors are read back at ``dtype`` and resized (rows of a, columns of b) before their product, so
    the cost is h·w·r, not H·W·r, per channel. JPEG because it is ~100× faster to encode than PNG at this
    size (benchmarks/slider.py measures PNG, JPEG and WebP side by side).
    """
    image = codec_.reconstruct(ranks, dtype=dtype, size=size)  # (C, h, w), clipped
    return codec_core.encode_image(image, "JPEG", quality=DISPLAY_QUALITY)


@st.cache_data(max_entries=CACHE_ENTRIES["display_jpeg"], show_spinner=False)
def display_jpeg(identity: tuple, ranks: tuple[int, ...], dtype: str, size: tuple[int, int],
                 _codec: ImageCodec) -> bytes:
    """``render_display_jpeg``, cached per setting so that moving back to a rank costs nothing."""
    return render_display_jpeg(_codec, ranks, dtype, size)


@st.cache_data(max_entries=CACHE_ENTRIES["original_jpeg"], show_spinner=False)
def original_jpeg(key: str, mode: str, size: tuple[int, int], _pixels: torch.Tensor) -> bytes:
    """JPEG of the original (its luma for "luminance") at the display size, resized as the reconstruction."""
    reference = codec_core.reference_image(_pixels, mode)
    return codec_core.encode_image(codec_core.resize(reference, size).clamp(0, 1), "JPEG",
                                   quality=DISPLAY_QUALITY)


@st.cache_resource(max_entries=CACHE_ENTRIES["shown_pixels"], show_spinner=False)
def shown_pixels(identity: tuple, ranks: tuple[int, ...], dtype: str, _codec: ImageCodec) -> torch.Tensor:
    """The full-size reconstruction as 8-bit (C, H, W) uint8: what the numbers and downloads describe."""
    return codec_core.to_uint8(_codec.reconstruct(ranks, dtype=dtype))


@st.cache_data(max_entries=CACHE_ENTRIES["quality_numbers"], show_spinner=False)
def quality_numbers(identity: tuple, ranks: tuple[int, ...], dtype: str, _codec: ImageCodec,
                    _reference: torch.Tensor, with_ssim: bool) -> dict[str, float]:
    """PSNR, relative error and (when ``with_ssim``) SSIM of the 8-bit image against the reference.

    The full-size 8-bit image is made here, on a miss only: moving back to a rank costs a lookup.
    """
    shown = shown_pixels(identity, ranks, dtype, _codec=_codec)
    error = metrics.image_error(_reference, shown)
    numbers = {"psnr": error.psnr, "relative": error.relative}
    if with_ssim:
        numbers["ssim"] = _ssim_of(_reference, shown)
    return numbers


@st.cache_data(max_entries=CACHE_ENTRIES["quality_numbers"], show_spinner="Finding the rank that meets it…")
def psnr_rule(identity: tuple, target_db: float, dtype: str, _codec: ImageCodec,
              _reference: torch.Tensor) -> MeasuredRule:
    """The target-PSNR rule, measured on the 8-bit image as the PSNR card (``image.targets``)."""
    return ranks_for_psnr(_codec, _reference, target_db, dtype=dtype)


@st.cache_data(max_entries=CACHE_ENTRIES["original_sizes"], show_spinner=False)
def original_sizes(key: str, mode: str, _pixels: torch.Tensor) -> dict[str, int]:
    """Bytes of the original as raw 8-bit, PNG, JPEG q75 and q90 (``image.original_sizes``)."""
    return codec_core.original_sizes(_pixels, mode)


@st.cache_data(max_entries=CACHE_ENTRIES["error_jpeg"], show_spinner=False)
def error_jpeg(identity: tuple, ranks: tuple[int, ...], dtype: str, size: tuple[int, int],
               _reference: torch.Tensor, _shown: torch.Tensor) -> bytes:
    """|x - x_r| × ERROR_GAIN of the 8-bit image, computed at full size, then resized for display."""
    error = (_reference.float() - _shown.float() / 255.0).abs_().mul_(ERROR_GAIN).clamp_(0, 1)
    small = codec_core.resize(error, size).clamp(0, 1)
    return codec_core.encode_image(small, "JPEG", quality=DISPLAY_QUALITY)


@st.cache_data(max_entries=CACHE_ENTRIES["gallery"], show_spinner=False)
def component_gallery(identity: tuple, count: int, _codec: ImageCodec) -> list[bytes]:
    """PNG thumbnails of the first rank-one terms σᵢuᵢvᵢᵀ, each scaled by ``normalize_signed``.

    For YCbCr only the luma terms are shown (grey); RGB terms are shown in colour, each channel's i-th term
    together, all three scaled by one common peak.
    """
    size = codec_core.shown_size(_codec.height, _codec.width, THUMBNAIL_SIDE, sharp_side=THUMBNAIL_SIDE)
    terms = _codec.components(count, size=size, group=0)  # (count, C_g, h, w)
    return [codec_core.encode_image(codec_core.normalize_signed(term), "PNG") for term in terms]


@st.cache_data(max_entries=CACHE_ENTRIES["gallery"], show_spinner=False)
def partial_sum_gallery(identity: tuple, ranks: tuple[int, ...], _codec: ImageCodec) -> list[bytes]:
    """PNG thumbnails of the rank-r reconstructions for r in ``ranks`` (the same rank for every group)."""
    size = codec_core.shown_size(_codec.height, _codec.width, THUMBNAIL_SIDE, sharp_side=THUMBNAIL_SIDE)
    return [codec_core.encode_image(_codec.reconstruct(r, size=size), "PNG") for r in ranks]


# ========================================================================================== downloads


def png_bytes(codec_: ImageCodec, ranks: tuple[int, ...], dtype: str) -> Callable[[], bytes]:
    """A callable for a deferred download: the full-size reconstruction as PNG."""
    return lambda: codec_core.encode_image(codec_.reconstruct(ranks, dtype=dtype), "PNG")


def jpeg_bytes(codec_: ImageCodec, ranks: tuple[int, ...], dtype: str,
               quality: int = 95) -> Callable[[], bytes]:
    """A callable for a deferred download: the full-size reconstruction as JPEG."""
    return lambda: codec_core.encode_image(codec_.reconstruct(ranks, dtype=dtype), "JPEG", quality=quality)


def npz_bytes(codec_: ImageCodec, ranks: tuple[int, ...], dtype: str) -> Callable[[], bytes]:
    """A callable for a deferred download: the factors file (``image.factors_file``; no pickle)."""
    return lambda: codec_core.factors_file(codec_, ranks, dtype=dtype)


@st.cache_data(max_entries=CACHE_ENTRIES["quality_numbers"], show_spinner=False)
def npz_size(identity: tuple, ranks: tuple[int, ...], dtype: str, _codec: ImageCodec) -> int:
    """The real size in bytes of the .npz the download gives (built once per setting, then measured)."""
    return len(codec_core.factors_file(_codec, ranks, dtype=dtype))


def sample_file_bytes(name: str) -> int | None:
    """The size of a shipped sample's file (None for a computed image, or a file that cannot be read)."""
    try:
        return len(sources.sample_bytes(name)) if name in sources.PHOTO_FILES else None
    except LowRankError:
        return None


# ========================================================================================== tiles mode


@shared_resource("tile_factorization", max_entries=TILE_ENTRIES, ttl_seconds=CODEC_TTL_SECONDS,
                 work="factorize", what="the tile SVDs of your image")
def tile_factorization(key: str, mode: str, tile_side: int,
                       _pixels: torch.Tensor) -> tile_codec.TileFactorization:
    """Every tile's SVD of an image in a colour mode (one batched SVD): the tiles mode's expensive step."""
    return tile_codec.factorize_tiles(_pixels, mode=mode, tile_side=tile_side)


@st.cache_resource(max_entries=CACHE_ENTRIES["tile_compression"], show_spinner=False)
def tile_compression(key: str, mode: str, tile_side: int, dtype: str, rule: str, target: float,
                     _factorization: tile_codec.TileFactorization) -> tile_codec.TileCompression:
    """The tile-coded image for a byte budget (``rule`` "bytes", ``target`` in bytes) or a target PSNR
    ("psnr", dB): its ranks, its file and its 8-bit decode. Raises LowRankError (not cached)."""
    if rule == "bytes":
        return _factorization.compress(budget=int(target), dtype=dtype)
    return _factorization.compress(target_psnr=float(target), dtype=dtype)


@st.cache_data(max_entries=CACHE_ENTRIES["display_jpeg"], show_spinner=False)
def tile_display_jpeg(setting: tuple, size: tuple[int, int], _image: torch.Tensor) -> bytes:
    """The 8-bit decode of the tile setting ``setting`` resized to the display size, as JPEG."""
    small = codec_core.resize(_image.float() / 255.0, size).clamp(0, 1)
    return codec_core.encode_image(small, "JPEG", quality=DISPLAY_QUALITY)


@st.cache_data(max_entries=CACHE_ENTRIES["quality_numbers"], show_spinner=False)
def tile_ssim(setting: tuple, _reference: torch.Tensor, _image: torch.Tensor) -> float:
    """Core SSIM of the tile setting's 8-bit decode against the reference (NaN below the window)."""
    return _ssim_of(_reference, _image)


def tile_curve_job(key: str, mode: str, tile_side: int, pixels: torch.Tensor) -> Future:
    """The tile SVD's rate–distortion curve on the working copy (``tiles.tile_rate_distortion``), on the
    background thread."""
    return job_board().submit(("tiles-rd", key, mode, tile_side), tile_codec.tile_rate_distortion, pixels,
                              mode, tile_side=tile_side, group=session_group("tiles-rd"), keep=RD_KEEP)
