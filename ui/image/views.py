"""The image page's larger views, drawn with Streamlit: the rank-one galleries, the number cards about
bytes, and the rate–distortion section. Each takes plain values and core results; none computes an SVD."""

from __future__ import annotations

import math
from concurrent.futures import Future

import streamlit as st

from lowrank_core import image as codec_core
from lowrank_core.image import ImageCodec
from ui.image import cache
from ui.image import figures as image_figures
from ui.image.inputs import refresh_button
from ui.text import format_bytes, format_relative, size_ratio

__all__ = ["MetricCards", "galleries", "quality_cards", "byte_cards", "rate_distortion_section"]


class MetricCards:
    """Metric cards that remember their labels and values, for the HTML summary."""

    def __init__(self) -> None:
        self.numbers: list[tuple[str, str]] = []

    def add(self, column, label: str, value: str, *args, **kwargs) -> None:
        """Draw a metric card in ``column`` and remember it."""
        self.numbers.append((label, value))
        column.metric(label, value, *args, **kwargs)


def galleries(identity: tuple, codec: ImageCodec, mode: str) -> None:
    """The rank-one components σᵢuᵢvᵢᵀ and the partial sums, in an expander."""
    with st.expander("Rank-one components σᵢuᵢvᵢᵀ and partial sums", expanded=False):
        count = min(8, codec.max_rank)
        components = cache.component_gallery(identity, count, _codec=codec)
        group_note = " of the luma channel" if mode == "ycbcr" else ""
        st.caption(f"The first {count} rank-one terms{group_note}, each scaled on its own so that mid-grey "
                   "is 0 and white/black are ± its largest magnitude (all channels of a term share one "
                   "scale).")
        st.image(components, caption=[f"σ{i + 1}·u{i + 1}·v{i + 1}ᵀ" for i in range(count)], width="content",
                 output_format="PNG")  # PNG bytes sent as they are (the default re-encodes them as JPEG)
        sums = codec.partial_sum_ranks()
        st.caption("Partial sums: the image rebuilt from the first r terms (same r for every channel), "
                   "clipped to [0, 1].")
        st.image(cache.partial_sum_gallery(identity, tuple(sums), _codec=codec),
                 caption=[f"rank {r}" for r in sums], width="content", output_format="PNG")


def quality_cards(cards: MetricCards, codec: ImageCodec, ranks: tuple[int, ...],
                  numbers: dict[str, float]) -> None:
    """PSNR, SSIM, relative error and the two energy shares of the 8-bit image at ``ranks``, in one row."""
    row = st.columns(5)
    psnr, ssim = numbers["psnr"], numbers.get("ssim")
    cards.add(row[0], "PSNR", "∞ dB" if math.isinf(psnr) else f"{psnr:.2f} dB",
              help="Of the 8-bit image shown against the original (core image_error), full size.")
    ssim_text = "off" if ssim is None else ("n/a" if math.isnan(ssim) else f"{ssim:.4f}")
    cards.add(row[1], "SSIM", ssim_text,
              help="Core ssim (11×11 Gaussian window, σ = 1.5) of the 8-bit image shown, full size.")
    cards.add(row[2], "Relative error", format_relative(numbers["relative"]),
              help="‖x − x_r‖_F / ‖x‖_F on the 8-bit image.")
    cards.add(row[3], "Energy kept (uncentred)", f"{100 * codec.energy_kept(ranks):.3f} %",
              help="Σ kept σᵢ² / ‖x‖_F² in the colour mode's channels (YCbCr: chroma centred on 0). "
                   "Uncentred: the mean brightness is most of a photograph's ‖x‖², so even rank 1 keeps "
                   "about 90 %.")
    centred = codec.centred_energy_kept(ranks)
    cards.add(row[4], "Energy kept about the mean", "n/a" if centred is None else f"{100 * centred:.3f} %",
              help="1 − ‖x − x_r‖² / ‖x − x̄‖² (x̄: each channel's mean): the share of the variation around "
                   "the mean brightness that the rank-r image keeps, its R².")


def _against(payload: int, other: int, name: str) -> str | None:
    """'factors 2.1× smaller than the PNG' / 'factors 1.3× larger than JPEG q90' (None at rank 0)."""
    ratio = size_ratio(payload, other, name)
    return f"factors {ratio}" if ratio else None


def byte_cards(cards: MetricCards, codec: ImageCodec, ranks: tuple[int, ...], dtype: str,
               sizes: dict[str, int], *, rank_text: str, file_bytes: int | None, npz_bytes: int) -> None:
    """Bytes, honestly: the factor payload against this image's own PNG and JPEG first (what anyone would
    store instead), then the payload at each precision, the raw pixels, and the real size of the .npz.

    ``file_bytes`` is the size of the file the image came from (None for a computed image); ``npz_bytes``
    the length of the .npz the download gives (payload plus headers).
    """
    storage = codec.storage(ranks)
    payload = storage.of(dtype)
    row = st.columns(4)
    cards.add(row[0], f"Factor payload ({dtype})", format_bytes(payload), None,
              help="The numbers of a and b at the stored precision (int8: with their float32 scales), no "
                   "file format around them.")
    for column, (key, label, name) in zip(row[1:], (("png", "This image as PNG", "the PNG"),
                                                    ("jpeg90", "As JPEG q90", "JPEG q90"),
                                                    ("jpeg75", "As JPEG q75", "JPEG q75")), strict=False):
        cards.add(column, label, format_bytes(sizes[key]), _against(payload, sizes[key], name),
                  delta_color="normal" if payload <= sizes[key] else "inverse", delta_arrow="off")
    row = st.columns(4)
    for column, kind in zip(row, ("float32", "float16", "int8"), strict=False):
        cards.add(column, f"Factor payload at {kind}", format_bytes(storage.of(kind)))
    cards.add(row[3], "Raw 8-bit pixels", format_bytes(storage.raw),
              f"{codec.width}×{codec.height}×{codec.output_channels} bytes", delta_color="off",
              delta_arrow="off", help="One byte per pixel and channel, uncompressed: what no one stores.")
    row = st.columns(4)
    cards.add(row[0], f"The .npz download ({dtype})", format_bytes(npz_bytes),
              f"payload + {npz_bytes - payload:,} B of headers", delta_color="off", delta_arrow="off",
              help="The real size of the factors file offered below (np.savez: .npy headers, the zip "
                   "directory, the mode, the ranks and a readme around the payload).")
    if file_bytes:
        cards.add(row[1], "The file itself", format_bytes(file_bytes), delta_color="off",
                  help="The uploaded (or shipped) file, as it came.")
    break_even = {kind: codec.break_even_rank(kind) for kind in ("float32", "float16", "int8")}
    cards.add(row[2], f"Break-even rank ({dtype})", str(break_even[dtype]),
              help="The largest rank (same for every channel) whose factors still fit in the raw 8-bit "
                   "pixels: " + ", ".join(f"{k}: {v}" for k, v in break_even.items()) + ".")
    if payload > storage.raw:
        st.warning(f"At {rank_text} the {dtype} factors take {format_bytes(payload)}, more than the raw "
                   f"8-bit pixels ({format_bytes(storage.raw)}): storing the image itself would be smaller.")
    elif payload > sizes["png"]:
        st.warning(f"At {rank_text} the {dtype} factor payload ({format_bytes(payload)}) is larger than this "
                   f"image's own PNG ({format_bytes(sizes['png'])}), which is lossless.")
    st.caption("Factor payload: r·(H + W) numbers per channel with Σ folded into a (int8 adds two float32 "
               "scales per rank and channel). PNG and JPEG: this image encoded by Pillow (PNG level 6, JPEG "
               "4:2:0); the rate–distortion chart below compares them at every size.")


def _finished(future: Future) -> bool:
    """True when a background job has a result (not pending, not cancelled, not failed)."""
    return future.done() and not future.cancelled() and future.exception() is None


def rate_distortion_section(future: Future, *, current: dict, references: dict[str, float], mode: str,
                            charts: dict, extra: Future | None = None) -> None:
    """The PSNR and SSIM charts against bits per pixel with the verdict, once the background job is done.

    ``extra``: a second background job whose ``RateDistortion`` (the tile SVD's curve, on the same working
    copy) is drawn beside the others once it is done.
    """
    failed = future.done() and not future.cancelled() and future.exception() is not None
    if failed:
        st.warning(f"The rate–distortion curves failed: {future.exception()}")
        return
    if not future.done() or future.cancelled():
        st.info("Measuring JPEG, downsampling and the SVD at many sizes (in the background, on a working "
                f"copy of at most {codec_core.RD_MAX_SIDE} px a side, a few seconds); the charts appear here "
                "at your next change, or now:")
        refresh_button("Show the curves if they are ready", key="image_refresh_rd")
        return
    rd = future.result()
    if extra is not None and _finished(extra):
        rd = rd.combined(extra.result())
    elif extra is not None and extra.done() and not extra.cancelled():
        st.warning(f"The tile SVD's curve failed: {extra.exception()}")
    elif extra is not None:
        st.info("Measuring the tile SVD at many sizes (in the background, a few seconds); its curve joins "
                "the charts at your next change, or now:")
        refresh_button("Show the tile curve if it is ready", key="image_refresh_tiles_rd")
    columns = st.columns(2)
    for column, metric in zip(columns, ("psnr", "ssim"), strict=True):
        name = f"{'PSNR' if metric == 'psnr' else 'SSIM'} against bits per pixel"
        charts[name] = image_figures.rate_distortion_figure(rd, metric=metric, current=current,
                                                            references=references)
        column.plotly_chart(charts[name], key=f"image_rd_{metric}")
    copy = (f"on a {rd.width}×{rd.height} working copy of the image (at most {codec_core.RD_MAX_SIDE} px "
            "a side, to keep it quick)" if rd.is_downscaled else "on the full image")
    chroma = " YCbCr curves use chroma rank = ⌈luma rank / 4⌉." if mode == "ycbcr" else ""
    st.caption(f"Curves measured {copy}; the star is the current setting measured on the full image. "
               f"Bits per pixel = bytes × 8 / pixels, so sizes compare across resolutions.{chroma}")
    st.markdown("**Verdict on this image** (the SVD at its better factor precision at each size):\n"
                + "\n".join(f"- {sentence}" for sentence in image_figures.rate_distortion_summary(rd)))
