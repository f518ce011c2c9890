"""Image compression: keep the first r singular triplets of each channel, look at the result, count the bytes,
and hold it against JPEG and plain downsampling.

Storyboard: image -> colour mode -> rank -> views -> numbers -> rate-distortion -> downloads. All compute is
in ``lowrank_core.image`` (through the caches in ``ui.image_cache``); a slider move only multiplies slices of
the cached factors.
"""

import contextlib
import math

import streamlit as st

from lowrank_core import LowRankError
from lowrank_core import image as codec_core
from ui import image_cache as cache
from ui import image_figures as figures
from ui import image_inputs as inputs

CHANNEL_NAMES = {"rgb": ("R", "G", "B"), "luminance": ("Y",), "ycbcr": ("Y", "Cb", "Cr")}

st.title("Image compression")
st.caption(
    "An image is a matrix per colour channel. Keeping the first r singular triplets stores r·(H + W) numbers "
    "per channel instead of H·W pixels. Is that a good codec? See it, measure it, and compare it with JPEG."
)

# ---------------------------------------------------------------------------------------------- 1 · image
st.subheader("1 · The image")
source_column, mode_column = st.columns(2, gap="large")
with source_column:
    choice = inputs.image_source_picker()
if choice is None:
    st.info("Choose a file to upload, or take a photo, to begin.")
    st.stop()
try:
    loaded = inputs.load_choice(choice)
except LowRankError as err:
    st.error(inputs.escape_markdown(str(err)))
    st.stop()
H, W = loaded.height, loaded.width
with source_column:
    if choice.kind != "sample":
        st.text(f"File: {choice.name}")  # user text: plain, never markdown
    st.caption(f"{W}×{H} pixels, {'grey (1 channel)' if loaded.channels == 1 else 'colour (3 channels)'}.")
for notice in loaded.notices:
    st.info(inputs.escape_markdown(notice))

# --------------------------------------------------------------------------------------------- 2 · colour
with mode_column:
    mode = inputs.color_mode_picker(loaded.channels)
    dtype = inputs.dtype_picker()
names = CHANNEL_NAMES[mode] if loaded.channels == 3 else ("grey",)
pixels = loaded.pixels
method_text = "randomized SVD preview" if H * W > cache.EXACT_MAX_PIXELS else "exact SVD"
try:
    with st.spinner(f"Factorizing {W}×{H} × {len(names)} channel(s) ({method_text})…"):
        codec, exact_job = cache.current_codec(choice.key, mode, pixels)
except LowRankError as err:
    st.error(inputs.escape_markdown(str(err)))
    st.stop()
if exact_job is not None and codec.method != "exact":
    if exact_job.done():
        st.warning(f"The exact SVD failed ({exact_job.exception()}); the randomized preview stays.")
    else:
        st.info(f"Showing a **randomized SVD preview** (the first {codec.max_rank} triplets, "
                f"`torch.svd_lowrank`): this image has {H * W / 1e6:.1f} megapixels, above the "
                f"{cache.EXACT_MAX_PIXELS / 1e6:.1f} MP the exact SVD is run for at once. The exact SVD is "
                "running in the background; it replaces the preview at your next change, or now:")
        inputs.refresh_button("Show the exact SVD if it is ready", key="image_refresh_exact")
elif exact_job is not None:
    st.caption("Exact SVD (it replaced the randomized preview).")

# ----------------------------------------------------------------------------------------------- 3 · rank
st.subheader("2 · The rank")
raw_bytes = codec.storage(0).raw
setting = inputs.rank_controls(codec, dtype=dtype, raw_bytes=raw_bytes)
ranks = setting.ranks
if setting.note:
    st.caption(setting.note)
rank_text = f"rank {ranks[0]}" if len(ranks) == 1 else f"luma rank {ranks[0]}, chroma rank {ranks[1]}"

# ---------------------------------------------------------------------------------------------- 4 · views
st.subheader("3 · Look")
identity = cache.codec_identity(choice.key, codec)
size = cache.display_size(H, W)
shown_jpeg = cache.display_jpeg(identity, ranks, dtype, size, _codec=codec)
original_jpeg = cache.original_jpeg(choice.key, mode, size, _pixels=pixels)
view = inputs.view_picker()
shown_caption = f"Rank {'/'.join(map(str, ranks))} ({dtype} factors)"
if view == "side":
    left, right = st.columns(2)
    left.image(original_jpeg, caption="Original" + (" (luminance)" if mode == "luminance" else ""),
               output_format="JPEG", width="stretch")
    right.image(shown_jpeg, caption=shown_caption, output_format="JPEG", width="stretch")
elif view == "swipe":
    st.iframe(figures.swipe_html(original_jpeg, shown_jpeg, width=size[1], height=size[0],
                                 after_label=f"rank {'/'.join(map(str, ranks))}"), height="content")
    st.caption("Drag the slider under the picture: the original is left of the line, the rank-r image right.")
reference = codec_core.reference_image(pixels, mode)
shown = cache.shown_pixels(identity, ranks, dtype, _codec=codec)  # (C, H, W) uint8, full size
if view == "error":
    error = cache.error_jpeg(identity, ranks, dtype, size, _reference=reference, _shown=shown)
    left, right = st.columns(2)
    left.image(shown_jpeg, caption=shown_caption, output_format="JPEG", width="stretch")
    right.image(error, caption=f"|original − reconstruction| × {cache.ERROR_GAIN} per channel (black: no "
                               f"error; white: 1/{cache.ERROR_GAIN} of the range or more)",
                output_format="JPEG", width="stretch")
display_note = (f"Shown at {size[1]}×{size[0]} (the image is {W}×{H}; the reconstruction is computed at the "
                "display size from resized factors, exactly the resized rank-r image). Numbers and downloads "
                "are at full size. " if size != (H, W) else "")
st.caption(display_note + f"Sent to the browser as JPEG quality {cache.DISPLAY_QUALITY}: about 100× faster "
           "to encode than PNG at 1080p; at high ranks its own faint artefacts can exceed the SVD's, so "
           "judge fine detail on the PNG download.")

S = codec.factorization.S.cpu().numpy()  # (C, k)
channel_ranks = codec.channel_ranks(ranks)
spectrum_col, energy_col = st.columns(2)
spectrum_col.plotly_chart(figures.spectrum_figure(S, names, channel_ranks), key="image_spectrum")
energy = codec.factorization.energy().cpu().numpy()  # (C, k + 1)
energy_col.plotly_chart(figures.energy_figure(energy, names, channel_ranks), key="image_energy_chart")

with st.expander("Rank-one components σᵢuᵢvᵢᵀ and partial sums", expanded=False):
    count = min(8, codec.max_rank)
    components = cache.component_gallery(identity, count, _codec=codec)
    group_note = " of the luma channel" if mode == "ycbcr" else ""
    st.caption(f"The first {count} rank-one terms{group_note}, each scaled on its own so that mid-grey is 0 "
               "and white/black are ± its largest magnitude (all channels of a term share one scale).")
    st.image(components, caption=[f"σ{i + 1}·u{i + 1}·v{i + 1}ᵀ" for i in range(count)], width="content")
    sums = codec.partial_sum_ranks()
    st.caption("Partial sums: the image rebuilt from the first r terms (same r for every channel), clipped "
               "to [0, 1].")
    st.image(cache.partial_sum_gallery(identity, tuple(sums), _codec=codec),
             caption=[f"rank {r}" for r in sums], width="content")

# -------------------------------------------------------------------------------------------- 5 · numbers
st.subheader("4 · Numbers")
large_ssim = H * W > cache.SSIM_SYNC_MAX_PIXELS
with_ssim = not large_ssim or st.toggle(
    f"Compute SSIM at full size (about {max(1, round(H * W / 1e6))} s per setting on 2 CPU cores)",
    key="image_ssim_large", help="SSIM of a large image is slow; while this is off, a slider move skips it.")
with st.spinner("Computing SSIM at full size…") if large_ssim and with_ssim else contextlib.nullcontext():
    numbers = cache.quality_numbers(identity, ranks, dtype, _reference=reference, _shown=shown,
                                    with_ssim=with_ssim)
value_ssim = numbers.get("ssim")
storage = codec.storage(ranks)
sizes = cache.original_sizes(choice.key, mode, _pixels=pixels)
row = st.columns(4)
row[0].metric("PSNR", "∞ dB" if math.isinf(numbers["psnr"]) else f"{numbers['psnr']:.2f} dB",
              help="Of the 8-bit image shown against the original (core psnr), full size.")
ssim_text = "off" if value_ssim is None else ("n/a" if math.isnan(value_ssim) else f"{value_ssim:.4f}")
row[1].metric("SSIM", ssim_text,
              help="Core ssim (11×11 Gaussian window, σ = 1.5) of the 8-bit image shown, full size.")
row[2].metric("Relative error", f"{numbers['relative']:.4f}", help="‖x − x_r‖_F / ‖x‖_F on the 8-bit image.")
row[3].metric("Energy kept", f"{100 * codec.energy_kept(ranks):.3f} %",
              help="Σ kept σᵢ² / ‖x‖_F² in the colour mode's channels (YCbCr: chroma centred on 0).")

factor_bytes = storage.of(dtype)
row = st.columns(4)
for column, kind in zip(row, ("float32", "float16", "int8"), strict=False):
    column.metric(f"Factors at {kind}", figures.format_bytes(storage.of(kind)),
                  figures.size_ratio(storage.of(kind), storage.raw, "raw"),
                  delta_color="normal" if storage.of(kind) <= storage.raw else "inverse", delta_arrow="off")
row[3].metric("Raw 8-bit pixels", figures.format_bytes(storage.raw), f"{W}×{H}×{len(reference)} bytes",
              delta_color="off", delta_arrow="off")
row = st.columns(4)
row[0].metric("Original as PNG", figures.format_bytes(sizes["png"]),
              f"{sizes['png'] / factor_bytes:.2f}× the {dtype} factors" if factor_bytes else None,
              delta_color="off", delta_arrow="off")
row[1].metric("Original as JPEG q90", figures.format_bytes(sizes["jpeg90"]),
              f"{sizes['jpeg90'] / factor_bytes:.2f}× the {dtype} factors" if factor_bytes else None,
              delta_color="off", delta_arrow="off")
row[2].metric("Original as JPEG q75", figures.format_bytes(sizes["jpeg75"]),
              f"{sizes['jpeg75'] / factor_bytes:.2f}× the {dtype} factors" if factor_bytes else None,
              delta_color="off", delta_arrow="off")
break_even = {kind: codec.break_even_rank(kind) for kind in ("float32", "float16", "int8")}
row[3].metric(f"Break-even rank ({dtype})", str(break_even[dtype]),
              help="The largest rank (same for every channel) whose factors still fit in the raw 8-bit "
                   "pixels: "
                   + ", ".join(f"{k}: {v}" for k, v in break_even.items()) + ".")
if factor_bytes > storage.raw:
    st.warning(f"At {rank_text} the {dtype} factors take {figures.format_bytes(factor_bytes)}, more than the "
               f"raw 8-bit pixels ({figures.format_bytes(storage.raw)}): storing the image itself would be "
               "smaller.")
st.caption("Factors: r·(H + W) numbers per channel with Σ folded into a (int8 adds two float32 scales per "
           "rank and channel); raw: H·W·C bytes. Compressed originals by Pillow (PNG level 6, JPEG 4:2:0).")

# ------------------------------------------------------------------------------------- 6 · rate–distortion
st.subheader("5 · Against JPEG and downsampling")
rd_future = cache.rate_distortion_job(choice.key, mode, pixels)
if rd_future.done() and rd_future.exception() is None:
    rd = rd_future.result()
    current = {"bits_per_pixel": 8 * factor_bytes / (H * W), "psnr": numbers["psnr"],
               "ssim": math.nan if value_ssim is None else value_ssim,
               "label": f"this setting: {rank_text}, {dtype} (full size)"}
    references = {f"raw 8-bit ({8 * len(reference)} bpp)": 8.0 * len(reference),
                  "original as PNG": 8 * sizes["png"] / (H * W)}
    psnr_col, ssim_col = st.columns(2)
    psnr_col.plotly_chart(figures.rate_distortion_figure(rd, metric="psnr", current=current,
                                                         references=references), key="image_rd_psnr")
    ssim_col.plotly_chart(figures.rate_distortion_figure(rd, metric="ssim", current=current,
                                                         references=references), key="image_rd_ssim")
    copy = (f"on a {rd.width}×{rd.height} working copy of the image (at most {codec_core.RD_MAX_SIDE} px "
            "a side, to keep it quick)" if rd.is_downscaled else "on the full image")
    chroma = " YCbCr curves use chroma rank = ⌈luma rank / 4⌉." if mode == "ycbcr" else ""
    st.caption(f"Curves measured {copy}; the star is the current setting measured on the full image. "
               f"Bits per pixel = bytes × 8 / pixels, so sizes compare across resolutions.{chroma}")
    st.markdown("**Verdict on this image** (the SVD at its better factor precision at each size):\n"
                + "\n".join(f"- {sentence}" for sentence in figures.rate_distortion_summary(rd)))
elif rd_future.done():
    st.warning(f"The rate–distortion curves failed: {rd_future.exception()}")
else:
    st.info("Measuring JPEG, downsampling and the SVD at many sizes (in the background, on a working copy "
            f"of at most {codec_core.RD_MAX_SIDE} px a side, a few seconds); the charts appear here at your "
            "next change, or now:")
    inputs.refresh_button("Show the curves if they are ready", key="image_refresh_rd")

# ------------------------------------------------------------------------------------------ 7 · downloads
st.subheader("6 · Download")
stem = (choice.name if choice.kind == "sample" else "image") + "_" + "-".join(map(str, ranks))
columns = st.columns(3)
columns[0].download_button("Reconstruction (PNG)", cache.png_bytes(codec, ranks, dtype),
                           file_name=f"{stem}.png", mime="image/png", on_click="ignore",
                           key="image_download_png")
columns[1].download_button("Reconstruction (JPEG q95)", cache.jpeg_bytes(codec, ranks, dtype),
                           file_name=f"{stem}.jpg", mime="image/jpeg", on_click="ignore",
                           key="image_download_jpeg")
columns[2].download_button(f"Factors ({dtype}, .npz)", cache.npz_bytes(codec, ranks, dtype),
                           file_name=f"{stem}_{dtype}.npz", mime="application/octet-stream",
                           on_click="ignore", key="image_download_npz")
st.caption(f"Full size ({W}×{H}). The .npz holds a0, b0, a1, b1, … (one pair per channel, x_c = a_c @ b_c), "
           "the colour mode and a readme; `np.load(path, allow_pickle=False)` reads it and "
           "`lowrank_core.image.rebuild_from_arrays` rebuilds the image shown.")

