"""Image compression: keep the first r singular triplets of each channel, look at the result, count the bytes,
and hold it against JPEG and plain downsampling.

Storyboard: image -> colour mode -> rank -> views -> numbers -> rate-distortion -> downloads. All compute is
in ``lowrank_core.image`` (through the caches in ``ui.image_cache``); a slider move only multiplies slices of
the cached factors.
"""

import contextlib
import math
import time

import streamlit as st

from lowrank_core import LowRankError
from lowrank_core import image as codec_core
from ui import image_cache as cache
from ui import image_figures as figures
from ui import image_inputs as inputs
from ui.workshop import (
    MAX_SWEEP_FRAMES,
    SWEEP_FRAME_SECONDS,
    chart_png_exports,
    ensure_navigation,
    gif_bytes,
    html_summary_button,
    image_link_params,
    image_rank_fields,
    image_sweep_frames,
    incoming_params,
    is_presenting,
    notice_box,
    presenter_figure,
    share_box,
    spectrum_strip,
    summary_html,
    sweep_ranks,
    sync_url,
)
from ui.workshop import png_bytes as image_png

CHANNEL_NAMES = {"rgb": ("R", "G", "B"), "luminance": ("Y",), "ycbcr": ("Y", "Cb", "Cr")}
PRIMARY_NUMBERS = ("PSNR", "SSIM", "Relative error", "Energy kept")
PRESENTER_PICTURE_HEIGHT = 540  # pixels: the picture and the rank slider fit a 1080-pixel projector


def start_sweep() -> None:
    """Play button: the slider rule, the side-by-side view, the slider at the sweep's last rank."""
    st.session_state["image_rule"] = "slider"
    st.session_state["image_view"] = "side"
    st.session_state["image_rank"] = int(st.session_state["image_sweep_to"])
    st.session_state["image_sweep_play"] = True


ensure_navigation()  # a link opened first on a fresh server: run through app.py
present = is_presenting()
st.title("Image compression")
if not present:
    st.caption(
        "An image is a matrix per colour channel. Keeping the first r singular triplets stores r·(H + W) "
        "numbers per channel instead of H·W pixels. Is that a good codec? See it, measure it, and compare it "
        "with JPEG."
    )
notice_slot = st.empty()
notices = st.session_state.pop("image_link_notices", [])
incoming = incoming_params()
if incoming:
    notices += inputs.apply_image_link(incoming)
with notice_slot.container():
    notice_box(notices)

# ---------------------------------------------------------------------------------------------- 1 · image
if present:
    settings = st.expander("Image, colour mode and precision", expanded=False)
else:
    st.subheader("1 · The image")
    settings = st.container()
with settings:
    source_column, mode_column = st.columns(2, gap="large")
with source_column:
    choice = inputs.image_source_picker()
if choice is None:
    st.info("Choose a file to upload, or take a photo, to begin.")
    sync_url({"src": st.session_state.get("image_source", "upload")})
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
    # a job another session shared and then dropped counts as still running: the next rerun queues it again
    if exact_job.done() and not exact_job.cancelled():
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
if not present:
    st.subheader("2 · The rank")
raw_bytes = codec.storage(0).raw
linked_notices = inputs.apply_linked_ranks(codec, raw_bytes)  # a link's ranks, checked against this image
if linked_notices:
    notices += linked_notices
    with notice_slot.container():
        notice_box(notices)
setting = inputs.rank_controls(codec, dtype=dtype, raw_bytes=raw_bytes,
                               rule_container=settings if present else None)
ranks = setting.ranks
if setting.note and not present:
    st.caption(setting.note)
rank_text = f"rank {ranks[0]}" if len(ranks) == 1 else f"luma rank {ranks[0]}, chroma rank {ranks[1]}"
if codec.max_rank > 1:
    inputs.clamp_sweep_to(codec.max_rank, (choice.key, mode))
    columns = st.columns([1.2, 1, 3], vertical_alignment="bottom")
    sweep_to = int(columns[0].number_input(
        "Sweep from rank 1 to", min_value=1, max_value=codec.max_rank, step=1, key="image_sweep_to",
        help=f"At most {MAX_SWEEP_FRAMES} frames: above that, evenly spaced ranks."))
    columns[1].button("▶ Play the sweep", key="image_sweep_play_button", on_click=start_sweep,
                      help="Raises the rank step by step: the picture and the spectrum move together.")
else:
    sweep_to = 1
playing = bool(st.session_state.pop("image_sweep_play", False))


def sweep_settings(to_rank: int) -> list[tuple[int, ...]]:
    """The rank settings of a sweep up to ``to_rank`` (YCbCr: the chroma rank is kept, at most the luma)."""
    if len(ranks) == 1:
        return [(r,) for r in sweep_ranks(to_rank)]
    return [(r, min(ranks[1], r)) for r in sweep_ranks(to_rank)]

# ---------------------------------------------------------------------------------------------- 4 · views
if not present:
    st.subheader("3 · Look")
identity = cache.codec_identity(choice.key, codec)
size = cache.display_size(H, W)
shown_jpeg = cache.display_jpeg(identity, ranks, dtype, size, _codec=codec)
original_jpeg = cache.original_jpeg(choice.key, mode, size, _pixels=pixels)
with settings if present else contextlib.nullcontext():
    view = inputs.view_picker()
shown_caption = f"Rank {'/'.join(map(str, ranks))} ({dtype} factors)"
picture_width = min(900, int(PRESENTER_PICTURE_HEIGHT * W / H)) if present else "stretch"
S = codec.factorization.S.cpu().numpy()  # (C, k)
spectrum_slot = None
if view == "side":
    left, right = st.columns(2)
    left.image(original_jpeg, caption="Original" + (" (luminance)" if mode == "luminance" else ""),
               output_format="JPEG", width=picture_width)
    picture_slot = right.empty()
    if playing:  # the picture and the spectrum together, frame by frame; the slider's rank at the end
        spectrum_slot = st.empty()
        for frame in sweep_settings(ranks[0]):
            frame_jpeg = cache.render_display_jpeg(codec, frame, dtype, size)  # not cached: one-off frames
            picture_slot.image(frame_jpeg, caption=f"Sweep: rank {'/'.join(map(str, frame))} of {sweep_to}",
                               output_format="JPEG", width=picture_width)
            spectrum_slot.plotly_chart(presenter_figure(figures.spectrum_figure(
                S, names, codec.channel_ranks(frame))))
            time.sleep(SWEEP_FRAME_SECONDS)
    picture_slot.image(shown_jpeg, caption=shown_caption, output_format="JPEG", width=picture_width)
elif view == "swipe":
    st.iframe(figures.swipe_html(original_jpeg, shown_jpeg, width=size[1], height=size[0],
                                 after_label=f"rank {'/'.join(map(str, ranks))}"), height="content")
    st.caption("Drag the slider under the picture: the original is left of the line, the rank-r image right.")
reference = codec_core.reference_image(pixels, mode)
if view == "error":
    shown = cache.shown_pixels(identity, ranks, dtype, _codec=codec)  # (C, H, W) uint8, full size
    error = cache.error_jpeg(identity, ranks, dtype, size, _reference=reference, _shown=shown)
    left, right = st.columns(2)
    left.image(shown_jpeg, caption=shown_caption, output_format="JPEG", width="stretch")
    right.image(error, caption=f"|original − reconstruction| × {cache.ERROR_GAIN} per channel (black: no "
                               f"error; white: 1/{cache.ERROR_GAIN} of the range or more)",
                output_format="JPEG", width="stretch")
display_note = (f"Shown at {size[1]}×{size[0]} (the image is {W}×{H}; the reconstruction is computed at the "
                "display size from resized factors, exactly the resized rank-r image). Numbers and downloads "
                "are at full size. " if size != (H, W) else "")
if not present:
    st.caption(display_note + f"Sent to the browser as JPEG quality {cache.DISPLAY_QUALITY}: about 100× "
               "faster to encode than PNG at 1080p; at high ranks its own faint artefacts can exceed the "
               "SVD's, so judge fine detail on the PNG download.")

channel_ranks = codec.channel_ranks(ranks)
charts = {"Singular values": presenter_figure(figures.spectrum_figure(S, names, channel_ranks))}
if spectrum_slot is not None:  # after a sweep, where the sweep drew it
    spectrum_slot.plotly_chart(charts["Singular values"], key="image_spectrum")
    energy_col = st.container()
else:
    spectrum_col, energy_col = st.columns(2)
    spectrum_col.plotly_chart(charts["Singular values"], key="image_spectrum")
energy = codec.factorization.energy().cpu().numpy()  # (C, k + 1)
if not present:
    charts["Energy kept"] = figures.energy_figure(energy, names, channel_ranks)
    energy_col.plotly_chart(charts["Energy kept"], key="image_energy_chart")

if not present:  # the gallery stays out of the presenter view
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

# -------------------------------------------------------------------------------------------- 5 · numbers
if not present:
    st.subheader("4 · Numbers")
summary_numbers: list[tuple[str, str]] = []  # the cards' labels and values, for the HTML summary


def metric(column, label: str, value: str, *args, **kwargs) -> None:
    """A metric card, remembered for the HTML summary."""
    summary_numbers.append((label, value))
    column.metric(label, value, *args, **kwargs)


large_ssim = H * W > cache.SSIM_SYNC_MAX_PIXELS
with_ssim = not large_ssim or st.toggle(
    f"Compute SSIM at full size (about {max(1, round(H * W / 1e6))} s per setting on 2 CPU cores)",
    key="image_ssim_large", help="SSIM of a large image is slow; while this is off, a slider move skips it.")
with st.spinner("Computing SSIM at full size…") if large_ssim and with_ssim else contextlib.nullcontext():
    numbers = cache.quality_numbers(identity, ranks, dtype, _codec=codec, _reference=reference,
                                    with_ssim=with_ssim)
value_ssim = numbers.get("ssim")
storage = codec.storage(ranks)
sizes = cache.original_sizes(choice.key, mode, _pixels=pixels)
row = st.columns(4)
metric(row[0], "PSNR", "∞ dB" if math.isinf(numbers["psnr"]) else f"{numbers['psnr']:.2f} dB",
              help="Of the 8-bit image shown against the original (core image_error), full size.")
ssim_text = "off" if value_ssim is None else ("n/a" if math.isnan(value_ssim) else f"{value_ssim:.4f}")
metric(row[1], "SSIM", ssim_text,
              help="Core ssim (11×11 Gaussian window, σ = 1.5) of the 8-bit image shown, full size.")
metric(row[2], "Relative error", f"{numbers['relative']:.4f}", help="‖x − x_r‖_F / ‖x‖_F on the 8-bit image.")
metric(row[3], "Energy kept", f"{100 * codec.energy_kept(ranks):.3f} %",
              help="Σ kept σᵢ² / ‖x‖_F² in the colour mode's channels (YCbCr: chroma centred on 0).")

budget_top, budget_default = inputs.budget_bounds(raw_bytes)
link_params = image_link_params(  # this view as a link (the address bar holds it)
    src=choice.kind, sample=choice.name, mode=mode if loaded.channels == 3 else "rgb", dtype=dtype,
    rule=setting.rule, ranks=ranks,
    energy=float(st.session_state.get("image_energy", 99.0)),
    psnr=float(st.session_state.get("image_psnr", 30.0)),
    budget_kb=float(st.session_state.get("image_budget_kb", budget_default)), view=view,
    rank_fields=image_rank_fields(codec.max_rank, default_rank=min(inputs.DEFAULT_RANK, codec.max_rank),
                                  default_chroma=min(inputs.DEFAULT_RANK // 3, codec.max_rank),
                                  budget_top_kb=budget_top, budget_default_kb=budget_default),
)
sync_url(link_params)
if present:  # the presenter view stops at the main numbers
    st.stop()

factor_bytes = storage.of(dtype)
row = st.columns(4)
for column, kind in zip(row, ("float32", "float16", "int8"), strict=False):
    metric(column, f"Factors at {kind}", figures.format_bytes(storage.of(kind)),
                  figures.size_ratio(storage.of(kind), storage.raw, "raw"),
                  delta_color="normal" if storage.of(kind) <= storage.raw else "inverse", delta_arrow="off")
metric(row[3], "Raw 8-bit pixels", figures.format_bytes(storage.raw), f"{W}×{H}×{len(reference)} bytes",
              delta_color="off", delta_arrow="off")
row = st.columns(4)
metric(row[0], "Original as PNG", figures.format_bytes(sizes["png"]),
              f"{sizes['png'] / factor_bytes:.2f}× the {dtype} factors" if factor_bytes else None,
              delta_color="off", delta_arrow="off")
metric(row[1], "Original as JPEG q90", figures.format_bytes(sizes["jpeg90"]),
              f"{sizes['jpeg90'] / factor_bytes:.2f}× the {dtype} factors" if factor_bytes else None,
              delta_color="off", delta_arrow="off")
metric(row[2], "Original as JPEG q75", figures.format_bytes(sizes["jpeg75"]),
              f"{sizes['jpeg75'] / factor_bytes:.2f}× the {dtype} factors" if factor_bytes else None,
              delta_color="off", delta_arrow="off")
break_even = {kind: codec.break_even_rank(kind) for kind in ("float32", "float16", "int8")}
metric(row[3], f"Break-even rank ({dtype})", str(break_even[dtype]),
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
rd_failed = rd_future.done() and not rd_future.cancelled() and rd_future.exception() is not None
if rd_future.done() and not rd_future.cancelled() and not rd_failed:
    rd = rd_future.result()
    current = {"bits_per_pixel": 8 * factor_bytes / (H * W), "psnr": numbers["psnr"],
               "ssim": math.nan if value_ssim is None else value_ssim,
               "label": f"this setting: {rank_text}, {dtype} (full size)"}
    references = {f"raw 8-bit ({8 * len(reference)} bpp)": 8.0 * len(reference),
                  "original as PNG": 8 * sizes["png"] / (H * W)}
    psnr_col, ssim_col = st.columns(2)
    charts["PSNR against bits per pixel"] = figures.rate_distortion_figure(rd, metric="psnr", current=current,
                                                                           references=references)
    charts["SSIM against bits per pixel"] = figures.rate_distortion_figure(rd, metric="ssim", current=current,
                                                                           references=references)
    psnr_col.plotly_chart(charts["PSNR against bits per pixel"], key="image_rd_psnr")
    ssim_col.plotly_chart(charts["SSIM against bits per pixel"], key="image_rd_ssim")
    copy = (f"on a {rd.width}×{rd.height} working copy of the image (at most {codec_core.RD_MAX_SIDE} px "
            "a side, to keep it quick)" if rd.is_downscaled else "on the full image")
    chroma = " YCbCr curves use chroma rank = ⌈luma rank / 4⌉." if mode == "ycbcr" else ""
    st.caption(f"Curves measured {copy}; the star is the current setting measured on the full image. "
               f"Bits per pixel = bytes × 8 / pixels, so sizes compare across resolutions.{chroma}")
    st.markdown("**Verdict on this image** (the SVD at its better factor precision at each size):\n"
                + "\n".join(f"- {sentence}" for sentence in figures.rate_distortion_summary(rd)))
elif rd_failed:
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

st.subheader("The sweep as an animated GIF")
if codec.max_rank > 1:
    sweep = sweep_settings(sweep_to)
    gif_key = (identity, dtype, tuple(sweep))
    make_gif = st.button(f"Make the GIF ({len(sweep)} frames, ranks 1 to {sweep_to})", key="image_gif_make")
    progress_slot = st.empty()  # always there, so the elements below keep their places between runs
    if make_gif:
        progress = progress_slot.progress(0.0, text="Rendering the frames…")
        frames = image_sweep_frames(
            codec, sweep, dtype=dtype,
            on_frame=lambda done, total: progress.progress(done / total, text=f"Frame {done} of {total}"))
        st.session_state["image_gif"] = (gif_key, gif_bytes(frames))
        progress_slot.empty()
    gif = st.session_state.get("image_gif")
    if gif is not None and gif[0] == gif_key:
        st.download_button("Download the sweep (GIF)", gif[1], file_name=f"{stem}_sweep.gif",
                           mime="image/gif", on_click="ignore", key="image_gif_download", icon="🎞️")
    st.caption(f"At most {MAX_SWEEP_FRAMES} frames (evenly spaced ranks above that), each at most 512 × 512 "
               "pixels: the reconstruction at the frame's rank and the first channel's singular values "
               "(blue: kept).")

st.subheader("Charts as PNG")
chart_png_exports(charts, prefix="image")

st.subheader("Share this view")
share_note = None if choice.kind == "sample" else (
    "The image itself cannot travel in a link: whoever opens it is asked for the same image, and then gets "
    "the same colour mode, rule and rank.")
link = share_box("image", link_params, note=share_note)


def make_summary() -> str:
    """The one-page HTML summary: the original and the reconstruction as PNG, the numbers, the link."""
    small = codec_core.fit_size(H, W, 480)
    original_small = codec_core.resize(reference, small).clamp(0, 1)
    pictures = [
        ("original" + (" (luminance)" if mode == "luminance" else ""),
         codec_core.encode_image(original_small, "PNG")),
        (f"rank {'/'.join(map(str, ranks))} ({dtype} factors)",
         codec_core.encode_image(codec.reconstruct(ranks, dtype=dtype, size=small), "PNG")),
        ("singular values of the first channel (blue: kept)",
         image_png(spectrum_strip(S[0], channel_ranks[0], width=480, height=160))),
    ]
    image_name = choice.name if choice.kind == "sample" else "an uploaded image"
    notes = [f"Image: {image_name}, {W}×{H}, colour mode {mode}, factors stored as {dtype}.",
             f"Rank set by: {setting.rule}" + (f" ({setting.note})" if setting.note else "") + "."]
    return summary_html(title=f"Image compression: {image_name} at {rank_text}", link=link,
                        numbers=summary_numbers, pictures=pictures, notes=notes,
                        link_complete=link.startswith("http"))


html_summary_button(make_summary, prefix="image", file_name="image_summary.html")
