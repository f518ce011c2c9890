"""The image page's tiles mode: the image cut into s × s tiles, a rank per tile chosen under a byte budget or
for a target PSNR (``lowrank_core.image.tiles``), as JPEG spends its bits block by block.

``codec_switch`` is the page's choice between the global SVD and this mode; ``tiles_section`` draws the rest
of the page in this mode: the tile side and the rule, the reconstruction beside the original, a heatmap of
the ranks over the picture (where the bytes went) and their histogram, the numbers (bytes, PSNR, SSIM, raw
tiles), the tile SVD's curve on the rate–distortion chart, the tile file to download, and the page's footer.
Every core call goes through ``ui.image.cache``.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import streamlit as st
import torch

from lowrank_core import LowRankError
from lowrank_core import image as codec_core
from lowrank_core.image.tiles import TILE_SIDES, TileCompression, TileFactorization
from ui import limits
from ui.exports import summary_html
from ui.image import cache
from ui.image import figures as image_figures
from ui.image.inputs import ImageChoice, budget_bounds
from ui.image.links import DEFAULT_TILE_PSNR, DEFAULT_TILE_SIDE, apply_linked_tile_budget, tiles_link_params
from ui.image.views import MetricCards, rate_distortion_section
from ui.links import sync_url
from ui.page import page_footer
from ui.presenter import presenter_figure
from ui.state import unless_set
from ui.text import escape_markdown, format_bytes, size_ratio

__all__ = ["CODEC_LABELS", "TILE_RULE_LABELS", "TileRule", "codec_switch", "tiles_section"]

CODEC_LABELS = {"svd": "Global SVD (a rank per channel)",
                "tiles": "Tiles (a rank per tile, as JPEG's blocks)"}
TILE_RULE_LABELS = {"bytes": "Byte budget", "psnr": "Target PSNR"}
SOLVER_TEXT = {"exact": "exact knapsack", "greedy": "convex-hull greedy"}


def codec_switch() -> str:
    """The global SVD of each channel, or a rank per tile: "svd" or "tiles"."""
    return st.radio("Codec", list(CODEC_LABELS), format_func=CODEC_LABELS.get, horizontal=True,
                    key="image_codec", **unless_set("image_codec"),
                    help="Tiles: each channel is cut into s×s tiles (JPEG uses 8×8 blocks), every tile gets "
                         "its own SVD and its own rank, and a byte budget is spent where it removes the most "
                         "error.")


def _channel_names(mode: str, count: int) -> tuple[str, ...]:
    """The names of the factored channels: Y, Cb, Cr / Y / R, G, B / grey."""
    other = ("R", "G", "B") if count == 3 else ("grey",)
    return {"ycbcr": ("Y", "Cb", "Cr"), "luminance": ("Y",)}.get(mode, other)


# ============================================================================================ controls


@dataclass(frozen=True)
class TileRule:
    """How the ranks are chosen: ``rule`` "bytes" (``target`` in bytes) or "psnr" (``target`` in dB), with
    the values of both inputs (for the link) and a sentence for the page."""

    rule: str
    target: float
    budget_kb: float
    psnr: float
    note: str


def _tile_side_picker() -> int:
    """8, 16, 32 or 64."""
    return int(st.radio("Tile side", TILE_SIDES, format_func=lambda s: f"{s}×{s}", horizontal=True,
                        key="image_tile_side",
                        **unless_set("image_tile_side", index=TILE_SIDES.index(DEFAULT_TILE_SIDE))))


def _rule_controls(factorization: TileFactorization, dtype: str, raw_bytes: int) -> TileRule:
    """The rule and its input: a byte budget (KB, from the smallest file this tile side allows) or a PSNR."""
    rule = st.radio("Choose the ranks by", list(TILE_RULE_LABELS), format_func=TILE_RULE_LABELS.get,
                    horizontal=True, key="image_tiles_rule", **unless_set("image_tiles_rule"))
    top, default_kb = budget_bounds(raw_bytes)
    psnr = float(st.session_state.get("image_tiles_psnr", DEFAULT_TILE_PSNR))
    if rule == "psnr":
        low, high = limits.TARGET_PSNR_RANGE
        psnr = st.number_input("Target PSNR (dB)", min_value=low, max_value=high, step=0.5, format="%.1f",
                               key="image_tiles_psnr",
                               **unless_set("image_tiles_psnr", value=DEFAULT_TILE_PSNR))
        return TileRule("psnr", float(psnr), float(st.session_state.get("image_tiles_budget_kb", default_kb)),
                        float(psnr), f"The fewest bytes whose 8-bit decode reaches {psnr:g} dB")
    smallest = factorization.minimum_bytes(dtype)
    low = math.ceil(smallest / 100) / 10  # KB with one decimal, never below the smallest file
    top = max(top, low)
    held = st.session_state.get("image_tiles_budget_kb")
    note = ""
    if held is not None and not low <= held <= top:  # set for another tile side, precision or image
        st.session_state["image_tiles_budget_kb"] = min(max(float(held), low), top)
        if held < low:
            side = factorization.tile_side
            note = (f" (raised from {held:g} KB: the smallest file in {side}×{side} tiles at {dtype} is "
                    f"{format_bytes(smallest)}: a rank code and a mean per tile)")
    budget_kb = st.number_input(f"Byte budget (KB of the whole tile file, at {dtype})", min_value=low,
                                max_value=top, step=1.0, format="%.1f", key="image_tiles_budget_kb",
                                **unless_set("image_tiles_budget_kb", value=min(max(default_kb, low), top)))
    return TileRule("bytes", int(round(budget_kb * 1000)), float(budget_kb), psnr,
                    f"At most {budget_kb:g} KB for the whole file{note}")


# ============================================================================================== section


def _views(coded: TileCompression, names: tuple[str, ...], *, original: bytes, shown: bytes,
           size: tuple[int, int], charts: dict) -> None:
    """The original and the decode side by side, then the ranks per tile over the picture and their
    histogram."""
    s = coded.tile_side
    left, right = st.columns(2)
    left.image(original, caption="Original" + (" (luminance)" if coded.mode == "luminance" else ""),
               output_format="JPEG", width="stretch")
    right.image(shown, caption=f"{s}×{s} tiles: {format_bytes(coded.total_bytes)}, "
                               f"{coded.bits_per_pixel:.2f} bits/pixel ({coded.dtype} factors)",
                output_format="JPEG", width="stretch")
    channel = 0
    if len(names) > 1:
        channel = st.radio("Heatmap of the ranks of", range(len(names)), format_func=lambda c: names[c],
                           horizontal=True, key="image_tiles_channel")
    charts["Ranks per tile"] = presenter_figure(image_figures.tile_rank_figure(
        coded.ranks[channel].numpy(), coded.tile_bytes[channel].numpy(), tile_side=s, height=coded.height,
        width=coded.width, channel=names[channel], picture=original, picture_size=size))
    charts["Rank histogram"] = presenter_figure(image_figures.tile_histogram_figure(coded.rank_histogram,
                                                                                     coded.raw_tiles))
    heat_column, histogram_column = st.columns([2, 1])
    heat_column.plotly_chart(charts["Ranks per tile"], key="image_tiles_heatmap")
    histogram_column.plotly_chart(charts["Rank histogram"], key="image_tiles_histogram")


def _number_cards(cards: MetricCards, coded: TileCompression, value_ssim: float | None) -> None:
    """Bytes, bits per pixel, PSNR (measured and predicted) and SSIM of the tile-coded image."""
    row = st.columns(5)
    cards.add(row[0], f"Tile file ({coded.dtype})", f"{coded.total_bytes:,} B",
              help="All of it: the length of the .lrt download below (a "
                   f"{coded.header_bytes}-byte header, a rank code per tile, each tile's mean, its factors a "
                   "and b at the chosen precision, int8 scales, raw tiles).")
    cards.add(row[1], "Bits per pixel", f"{coded.bits_per_pixel:.3f}", help="Bytes × 8 / (H·W).")
    cards.add(row[2], "PSNR", "∞ dB" if math.isinf(coded.measured_psnr) else f"{coded.measured_psnr:.2f} dB",
              help="Of the 8-bit decode of the file against the original (core psnr), full size.")
    ssim_text = "off" if value_ssim is None else ("n/a" if math.isnan(value_ssim) else f"{value_ssim:.4f}")
    cards.add(row[3], "SSIM", ssim_text,
              help="Core ssim (11×11 Gaussian window, σ = 1.5) of the 8-bit decode.")
    predicted = coded.predicted_psnr
    cards.add(row[4], "PSNR predicted", "∞ dB" if math.isinf(predicted) else f"{predicted:.2f} dB",
              help="From the singular values left out and the stored means, before the factors' rounding and "
                   "8 bits: the error model the allocation minimises.")


def _tile_cards(cards: MetricCards, coded: TileCompression, sizes: dict[str, int]) -> None:
    """How many tiles, how they were stored, and the file against this image's own PNG and JPEG."""
    C, R, K = coded.ranks.shape
    row = st.columns(4)
    cards.add(row[0], "Tiles", f"{C * R * K:,}", f"{C} channel(s) × {R} × {K}", delta_color="off",
              delta_arrow="off")
    cards.add(row[1], "At rank 0 (mean only)", f"{coded.rank_histogram[0]:,}")
    cards.add(row[2], "Stored raw", f"{coded.raw_tiles:,}",
              help="Tiles whose 8-bit pixels cost fewer bytes than the rank they would need.")
    cards.add(row[3], "Ranks chosen by", coded.solver,
              help="Exact: a knapsack solved by dynamic programming (small images). Greedy: the tiles' "
                   "steps in order of squared error removed per byte, optimal at its own byte counts.")
    row = st.columns(4)
    for column, (key, label, name) in zip(row, (("png", "This image as PNG", "the PNG"),
                                                ("jpeg90", "As JPEG q90", "JPEG q90"),
                                                ("jpeg75", "As JPEG q75", "JPEG q75"),
                                                ("raw", "Raw 8-bit pixels", "raw")), strict=True):
        ratio = size_ratio(coded.total_bytes, sizes[key], name)
        cards.add(column, label, format_bytes(sizes[key]), f"tile file {ratio}" if ratio else None,
                  delta_color="normal" if coded.total_bytes <= sizes[key] else "inverse", delta_arrow="off")


def tiles_section(choice: ImageChoice, pixels: torch.Tensor, *, mode: str, dtype: str, present: bool,
                  settings) -> None:
    """Everything the image page shows in its tiles mode, after the image, its colour mode and precision.

    ``settings`` is the page's settings area (the presenter view's expander holds the controls there).
    """
    height, width = pixels.shape[-2:]
    reference = codec_core.reference_image(pixels, mode)  # (C_out, H, W)
    raw_bytes = reference.numel()
    for notice in apply_linked_tile_budget(raw_bytes):
        st.info(escape_markdown(notice))
    controls = settings  # beside the picture (the page's settings column; an expander when presenting)
    with controls:
        if not present:
            st.subheader("Tiles and their budget")
        tile_side = _tile_side_picker()
    try:
        with st.spinner(f"Factorizing {width}×{height} in {tile_side}×{tile_side} tiles (one batched SVD)…"):
            factorization = cache.tile_factorization(choice.key, mode, tile_side, _pixels=pixels)
        with controls:
            rule = _rule_controls(factorization, dtype, raw_bytes)
        with st.spinner("Choosing the ranks, writing the file and decoding it…"):
            coded = cache.tile_compression(choice.key, mode, tile_side, dtype, rule.rule, rule.target,
                                           _factorization=factorization)
    except LowRankError as err:
        st.error(escape_markdown(str(err)))
        return
    if not present:
        with controls:
            st.caption(f"{rule.note}: {coded.total_bytes:,} bytes, ranks chosen by the "
                       f"{SOLVER_TEXT.get(coded.solver, coded.solver)}. Every tile keeps its mean and its "
                       "best rank-r approximation (Eckart–Young, tile by tile), or its raw pixels when those "
                       "are cheaper.")
        st.subheader("Look")
    setting = (choice.key, mode, tile_side, dtype, rule.rule, rule.target)
    size = cache.display_size(height, width)
    original = cache.original_jpeg(choice.key, mode, size, _pixels=pixels)
    charts: dict = {}
    _views(coded, _channel_names(mode, factorization.channel_count), original=original,
           shown=cache.tile_display_jpeg(setting, size, _image=coded.image), size=size, charts=charts)

    if not present:
        st.subheader("Numbers")
    large = height * width > limits.SSIM_SYNC_MAX_PIXELS
    with_ssim = not large or st.toggle(
        f"Compute SSIM at full size (about {max(1, round(height * width / 1e6))} s per setting on 2 CPU "
        "cores)",
        key="image_tiles_ssim_large")
    with st.spinner("Computing SSIM at full size…") if large and with_ssim else contextlib.nullcontext():
        value_ssim = cache.tile_ssim(setting, _reference=reference, _image=coded.image) if with_ssim else None
    cards = MetricCards()
    _number_cards(cards, coded, value_ssim)
    link_params = tiles_link_params(
        src=choice.kind, sample=choice.name, mode=mode if pixels.shape[0] == 3 else "rgb", dtype=dtype,
        tile_side=tile_side, rule=rule.rule, budget_kb=rule.budget_kb, psnr=rule.psnr, raw_bytes=raw_bytes)
    sync_url(link_params)
    if present:  # the presenter view stops at the main numbers
        return
    sizes = cache.original_sizes(choice.key, mode, _pixels=pixels)
    _tile_cards(cards, coded, sizes)

    st.subheader("Against JPEG, downsampling and the global SVD")
    rate_distortion_section(
        cache.rate_distortion_job(choice.key, mode, pixels), mode=mode, charts=charts,
        extra=cache.tile_curve_job(choice.key, mode, tile_side, pixels),
        current={"bits_per_pixel": coded.bits_per_pixel, "psnr": coded.measured_psnr,
                 "ssim": math.nan if value_ssim is None else value_ssim,
                 "label": f"this setting: {tile_side}×{tile_side} tiles, {dtype} (full size)"},
        references={f"raw 8-bit ({8 * reference.shape[0]} bpp)": 8.0 * reference.shape[0],
                    "original as PNG": sizes["png"] * 8 / (height * width)})

    st.subheader("Download")
    stem = f"{choice.name if choice.kind == 'sample' else 'image'}_tiles{tile_side}_{dtype}"
    columns = st.columns(2)
    columns[0].download_button(f"Tile file (.lrt, {format_bytes(coded.total_bytes)})", coded.to_bytes,
                               file_name=f"{stem}.lrt", mime="application/octet-stream", on_click="ignore",
                               key="image_tiles_download_file")
    columns[1].download_button("Reconstruction (PNG)", lambda: codec_core.encode_image(coded.image, "PNG"),
                               file_name=f"{stem}.png", mime="image/png", on_click="ignore",
                               key="image_tiles_download_png")
    st.caption(f"Full size ({width}×{height}). The .lrt file is exactly the bytes counted above; "
               "`lowrank_core.image.tiles.decode_tiles(data)` rebuilds the picture from it alone (its layout "
               "is in that module's docstring), and `python -m lowrank_core compress IMAGE --tiles S "
               "--bytes N -o OUT.png --factors OUT.lrt` writes the same file from a shell.")

    def make_summary(link: str) -> str:
        """The one-page HTML summary: the original and the decode as PNG, the numbers, the link."""
        small = codec_core.fit_size(height, width, 480)
        decoded = coded.image.float() / 255.0
        pictures = [(name, codec_core.encode_image(codec_core.resize(picture, small).clamp(0, 1), "PNG"))
                    for name, picture in (("original", reference),
                                          (f"{tile_side}×{tile_side} tiles, {dtype}", decoded))]
        image_name = choice.name if choice.kind == "sample" else "an uploaded image"
        notes = [f"Image: {image_name}, {width}×{height}, colour mode {mode}, {tile_side}×{tile_side} tiles, "
                 f"factors stored as {dtype}.", f"{rule.note}; ranks chosen by the "
                 f"{SOLVER_TEXT.get(coded.solver, coded.solver)}."]
        return summary_html(title=f"Tile SVD: {image_name} in {tile_side}×{tile_side} tiles", link=link,
                            numbers=cards.numbers, pictures=pictures, notes=notes,
                            link_complete=link.startswith("http"))

    page_footer("image", link_params, charts=charts, make_summary=make_summary,
                share_note=None if choice.kind == "sample" else (
                    "An uploaded image cannot travel in a link: whoever opens it is asked for the same "
                    "image, and then gets the same tiles, precision and budget."))
