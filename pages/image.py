"""Image compression: keep the first r singular triplets of each channel, look at the result, count the bytes,
and hold it against JPEG and plain downsampling.

Storyboard: image -> colour mode -> rank -> views -> numbers -> rate-distortion -> downloads. All compute is
in ``lowrank_core.image`` (through the caches in ``ui.image.cache``); a slider move only multiplies slices of
the cached factors.
"""

import contextlib
import math
import time

import streamlit as st

from lowrank_core import LowRankError
from lowrank_core import image as codec_core
from ui import limits
from ui.charts import energy_figure
from ui.exports import summary_html
from ui.image import cache
from ui.image import figures as figures
from ui.image import inputs as inputs
from ui.image import tiles as tiles_mode
from ui.image.links import apply_image_link, apply_linked_ranks, image_link_params
from ui.image.room import image_room, image_voter
from ui.image.views import MetricCards, byte_cards, galleries, rate_distortion_section
from ui.limits import DISPLAY_QUALITY, MAX_FRAME_SIDE, MAX_SWEEP_FRAMES
from ui.links import sync_url
from ui.page import page_footer, page_start, settings_area
from ui.presenter import presenter_figure, presenter_pictures
from ui.stills import png_bytes, spectrum_strip
from ui.style import ERROR_GAIN
from ui.sweep import SWEEP_FRAME_SECONDS, sweep_controls, sweep_ranks
from ui.text import escape_markdown, format_relative

CHANNEL_NAMES = {"rgb": ("R", "G", "B"), "luminance": ("Y",), "ycbcr": ("Y", "Cb", "Cr")}

start = page_start(
    "Image compression", apply_link=apply_image_link, carried_notices_key="image_link_notices",
    caption="An image is a matrix per colour channel. Keeping the first r singular triplets stores "
            "r·(H + W) numbers per channel instead of H·W pixels. Is that a good codec? See it, measure it, "
            "and compare it with JPEG.")
present = start.present

# ---------------------------------------------------------------------------------------------- 1 · image
settings = settings_area(present, heading="1 · The image", collapsed="Image, colour mode and precision",
                         subheader=True)
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
    st.error(escape_markdown(str(err)))
    st.stop()
H, W = loaded.height, loaded.width
with source_column:
    if choice.kind != "sample":
        st.text(f"File: {choice.name}")  # user text: plain, never markdown
    st.caption(f"{W}×{H} pixels, {'grey (1 channel)' if loaded.channels == 1 else 'colour (3 channels)'}.")
for notice in loaded.notices:
    st.info(escape_markdown(notice))

# --------------------------------------------------------------------------------------------- 2 · colour
with mode_column:
    mode = inputs.color_mode_picker(loaded.channels)
    dtype = inputs.dtype_picker()
    codec_kind = tiles_mode.codec_switch()
if codec_kind == "tiles":  # a rank per tile: ui.image.tiles draws the rest of the page
    tiles_mode.tiles_section(choice, loaded.pixels, mode=mode, dtype=dtype, present=present,
                             settings=settings)
    st.stop()
names = CHANNEL_NAMES[mode] if loaded.channels == 3 else ("grey",)
pixels = loaded.pixels
method_text = "randomized SVD preview" if H * W > limits.EXACT_MAX_PIXELS else "exact SVD"
try:
    with st.spinner(f"Factorizing {W}×{H} × {len(names)} channel(s) ({method_text})…"):
        codec, exact_job = cache.current_codec(choice.key, mode, pixels)
except LowRankError as err:
    st.error(escape_markdown(str(err)))
    st.stop()
if exact_job is not None and codec.method != "exact":
    # a job another session shared and then dropped counts as still running: the next rerun queues it again
    if exact_job.done() and not exact_job.cancelled():
        st.warning(f"The exact SVD failed ({exact_job.exception()}); the randomized preview stays.")
    else:
        st.info(f"Showing a **randomized SVD preview** (the first {codec.max_rank} triplets, "
                f"`torch.svd_lowrank`): this image has {H * W / 1e6:.1f} megapixels, above the "
                f"{limits.EXACT_MAX_PIXELS / 1e6:.1f} MP the exact SVD is run for at once. The exact SVD is "
                "running in the background; it replaces the preview at your next change, or now:")
        inputs.refresh_button("Show the exact SVD if it is ready", key="image_refresh_exact")
elif exact_job is not None:
    st.caption("Exact SVD (it replaced the randomized preview).")

# ----------------------------------------------------------------------------------------------- 3 · rank
if not present:
    st.subheader("2 · The rank")
raw_bytes = codec.storage(0).raw
start.add(apply_linked_ranks(codec, raw_bytes))  # a link's ranks, checked against this image
identity = cache.codec_identity(choice.key, codec)
reference = codec_core.reference_image(pixels, mode)
setting = inputs.rank_controls(
    codec, dtype=dtype, raw_bytes=raw_bytes, rule_container=settings if present else None,
    measured_psnr=lambda target: cache.psnr_rule(identity, target, dtype, _codec=codec, _reference=reference))
ranks = setting.ranks
if setting.note and not present:
    st.caption(setting.note)
rank_text = f"rank {ranks[0]}" if len(ranks) == 1 else f"luma rank {ranks[0]}, chroma rank {ranks[1]}"
sweep_to, playing = 1, False
if codec.max_rank > 1:
    sweep_to, playing = sweep_controls(
        "image", codec.max_rank, source=(choice.key, mode),
        also={"image_rule": "slider", "image_view": "side"},
        help_text="Raises the rank step by step: the picture and the spectrum move together.")


def sweep_settings(to_rank: int) -> list[tuple[int, ...]]:
    """The rank settings of a sweep up to ``to_rank`` (YCbCr: the chroma rank is kept, at most the luma)."""
    if len(ranks) == 1:
        return [(r,) for r in sweep_ranks(to_rank)]
    return [(r, min(ranks[1], r)) for r in sweep_ranks(to_rank)]


# ---------------------------------------------------------------------------------------------- 4 · views
if not present:
    st.subheader("3 · Look")
size = cache.display_size(H, W)
shown_jpeg = cache.display_jpeg(identity, ranks, dtype, size, _codec=codec)
original_jpeg = cache.original_jpeg(choice.key, mode, size, _pixels=pixels)
with settings if present else contextlib.nullcontext():
    view = inputs.view_picker()
shown_caption = f"Rank {'/'.join(map(str, ranks))} ({dtype} factors)"
picture_width = "stretch"  # the presenter view's CSS fits pictures to the screen's height too
S = codec.factorization.S.cpu().numpy()  # (C, k)
spectrum_slot = None
if view == "side":
    left, right = presenter_pictures().columns(2)
    left.image(original_jpeg, caption="Original" + (" (luminance)" if mode == "luminance" else ""),
               output_format="JPEG", width=picture_width)
    picture_slot = right.empty()
    if playing:  # the picture and the spectrum together, frame by frame; the slider's rank at the end
        spectrum_slot = st.empty()
        for frame in sweep_settings(ranks[0]):
            frame_jpeg = cache.render_display_jpeg(codec, frame, dtype, size)  # not cached: one-off frames
            picture_slot.image(frame_jpeg, caption=f"Sweep: rank {'/'.join(map(str, frame))} of {sweep_to}",
                               output_format="JPEG", width=picture_width)
            spectrum_slot.plotly_chart(presenter_figure(figures.channel_spectra_figure(
                S, names, codec.channel_ranks(frame))))
            time.sleep(SWEEP_FRAME_SECONDS)
    picture_slot.image(shown_jpeg, caption=shown_caption, output_format="JPEG", width=picture_width)
elif view == "swipe":
    st.iframe(figures.swipe_html(original_jpeg, shown_jpeg, width=size[1], height=size[0],
                                 after_label=f"rank {'/'.join(map(str, ranks))}"), height="content")
    st.caption("Drag the slider under the picture: the original is left of the line, the rank-r image right.")
if view == "error":
    shown = cache.shown_pixels(identity, ranks, dtype, _codec=codec)  # (C, H, W) uint8, full size
    error = cache.error_jpeg(identity, ranks, dtype, size, _reference=reference, _shown=shown)
    left, right = presenter_pictures().columns(2)
    left.image(shown_jpeg, caption=shown_caption, output_format="JPEG", width="stretch")
    right.image(error, caption=f"|original − reconstruction| × {ERROR_GAIN} per channel (black: no "
                               f"error; white: 1/{ERROR_GAIN} of the range or more)",
                output_format="JPEG", width="stretch")
display_note = (f"Shown at {size[1]}×{size[0]} (the image is {W}×{H}; the reconstruction is computed at the "
                "display size from resized factors, exactly the resized rank-r image). Numbers and downloads "
                "are at full size. " if size != (H, W) else "")
image_voter(codec, ranks, setting.rule)  # ↑/↓ move the rank; a phone in a room poll votes under the picture
if not present:
    st.caption(display_note + f"Sent to the browser as JPEG quality {DISPLAY_QUALITY}: about 100× "
               "faster to encode than PNG at 1080p; at high ranks its own faint artefacts can exceed the "
               "SVD's, so judge fine detail on the PNG download.")

channel_ranks = codec.channel_ranks(ranks)
charts = {"Singular values": presenter_figure(figures.channel_spectra_figure(S, names, channel_ranks))}
if spectrum_slot is not None:  # after a sweep, where the sweep drew it
    spectrum_slot.plotly_chart(charts["Singular values"], key="image_spectrum")
    energy_col = st.container()
else:
    spectrum_col, energy_col = st.columns(2)
    spectrum_col.plotly_chart(charts["Singular values"], key="image_spectrum")
if not present:
    charts["Energy kept"] = energy_figure(codec.factorization.energy().cpu().numpy(), rank=channel_ranks,
                                          names=names, title="Energy kept (cumulative σᵢ² / ‖x‖²)",
                                          height=380)
    energy_col.plotly_chart(charts["Energy kept"], key="image_energy_chart")
    galleries(identity, codec, mode)  # the gallery stays out of the presenter view

# -------------------------------------------------------------------------------------------- 5 · numbers
if not present:
    st.subheader("4 · Numbers")
cards = MetricCards()  # the cards' labels and values, for the HTML summary
large_ssim = H * W > limits.SSIM_SYNC_MAX_PIXELS
with_ssim = not large_ssim or st.toggle(
    f"Compute SSIM at full size (about {max(1, round(H * W / 1e6))} s per setting on 2 CPU cores)",
    key="image_ssim_large", help="SSIM of a large image is slow; while this is off, a slider move skips it.",
    persist_state="session")
with st.spinner("Computing SSIM at full size…") if large_ssim and with_ssim else contextlib.nullcontext():
    numbers = cache.quality_numbers(identity, ranks, dtype, _codec=codec, _reference=reference,
                                    with_ssim=with_ssim)
value_ssim = numbers.get("ssim")
row = st.columns(5)
cards.add(row[0], "PSNR", "∞ dB" if math.isinf(numbers["psnr"]) else f"{numbers['psnr']:.2f} dB",
          help="Of the 8-bit image shown against the original (core image_error), full size.")
ssim_text = "off" if value_ssim is None else ("n/a" if math.isnan(value_ssim) else f"{value_ssim:.4f}")
cards.add(row[1], "SSIM", ssim_text,
          help="Core ssim (11×11 Gaussian window, σ = 1.5) of the 8-bit image shown, full size.")
cards.add(row[2], "Relative error", format_relative(numbers["relative"]),
          help="‖x − x_r‖_F / ‖x‖_F on the 8-bit image.")
cards.add(row[3], "Energy kept (uncentred)", f"{100 * codec.energy_kept(ranks):.3f} %",
          help="Σ kept σᵢ² / ‖x‖_F² in the colour mode's channels (YCbCr: chroma centred on 0). Uncentred: "
               "the mean brightness is most of a photograph's ‖x‖², so even rank 1 keeps about 90 %.")
centred = codec.centred_energy_kept(ranks)
cards.add(row[4], "Energy kept about the mean", "n/a" if centred is None else f"{100 * centred:.3f} %",
          help="1 − ‖x − x_r‖² / ‖x − x̄‖² (x̄: each channel's mean): the share of the variation around the "
               "mean brightness that the rank-r image keeps, its R².")

link_params = image_link_params(  # this view as a link (the address bar holds it)
    src=choice.kind, sample=choice.name, mode=mode if loaded.channels == 3 else "rgb", dtype=dtype,
    rule=setting.rule, ranks=ranks, energy=float(st.session_state.get("image_energy", 99.0)),
    psnr=float(st.session_state.get("image_psnr", 30.0)),
    budget_kb=float(st.session_state.get("image_budget_kb", inputs.budget_bounds(raw_bytes)[1])), view=view,
    max_rank=codec.max_rank, raw_bytes=raw_bytes)
sync_url(link_params)
if present:  # the presenter view stops at the main numbers and the room
    image_room(codec, subject=f"{choice.name if choice.kind == 'sample' else 'an uploaded image'}, {mode}",
               link_params=link_params)
    st.stop()

sizes = cache.original_sizes(choice.key, mode, _pixels=pixels)
byte_cards(cards, codec, ranks, dtype, sizes, rank_text=rank_text,
           file_bytes=len(choice.data) if choice.data else cache.sample_file_bytes(choice.name),
           npz_bytes=cache.npz_size(identity, ranks, dtype, _codec=codec))

# ------------------------------------------------------------------------------------- 6 · rate–distortion
st.subheader("5 · Against JPEG and downsampling")
rate_distortion_section(
    cache.rate_distortion_job(choice.key, mode, pixels), mode=mode, charts=charts,
    current={"bits_per_pixel": 8 * codec.storage(ranks).of(dtype) / (H * W), "psnr": numbers["psnr"],
             "ssim": math.nan if value_ssim is None else value_ssim,
             "label": f"this setting: {rank_text}, {dtype} (full size)"},
    references={f"raw 8-bit ({8 * len(reference)} bpp)": 8.0 * len(reference),
                "original as PNG": 8 * sizes["png"] / (H * W)})

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


def make_summary(link: str) -> str:
    """The one-page HTML summary: the original and the reconstruction as PNG, the numbers, the link."""
    small = codec_core.fit_size(H, W, 480)
    original_small = codec_core.resize(reference, small).clamp(0, 1)
    pictures = [
        ("original" + (" (luminance)" if mode == "luminance" else ""),
         codec_core.encode_image(original_small, "PNG")),
        (f"rank {'/'.join(map(str, ranks))} ({dtype} factors)",
         codec_core.encode_image(codec.reconstruct(ranks, dtype=dtype, size=small), "PNG")),
        ("singular values of the first channel (blue: kept)",
         png_bytes(spectrum_strip(S[0], channel_ranks[0], width=480, height=160))),
    ]
    image_name = choice.name if choice.kind == "sample" else "an uploaded image"
    notes = [f"Image: {image_name}, {W}×{H}, colour mode {mode}, factors stored as {dtype}.",
             f"Rank set by: {setting.rule}" + (f" ({setting.note})" if setting.note else "") + "."]
    return summary_html(title=f"Image compression: {image_name} at {rank_text}", link=link,
                        numbers=cards.numbers, pictures=pictures, notes=notes,
                        link_complete=link.startswith("http"))


page_footer(
    "image", link_params, charts=charts, make_summary=make_summary,
    share_note=None if choice.kind == "sample" else (
        "The image itself cannot travel in a link: whoever opens it is asked for the same image, and then "
        "gets the same colour mode, rule and rank."),
    gif=None if codec.max_rank <= 1 else {
        "settings": sweep_settings(sweep_to), "sweep_to": sweep_to, "identity": (identity, dtype),
        "file_name": f"{stem}_sweep.gif",
        "make_frames": lambda settings, on_frame: figures.image_sweep_frames(codec, settings, dtype=dtype,
                                                                             on_frame=on_frame),
        "caption": f"At most {MAX_SWEEP_FRAMES} frames (evenly spaced ranks above that), each at most "
                   f"{MAX_FRAME_SIDE} × {MAX_FRAME_SIDE} pixels: the reconstruction at the frame's rank and "
                   "the first channel's singular values (blue: kept)."},
)
