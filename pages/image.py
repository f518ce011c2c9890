"""Image compression: keep the first r singular triplets of each channel, look at the result, count the bytes,
and hold it against JPEG and plain downsampling.

Storyboard: image -> colour mode -> rank (the picture and its rank control) -> numbers -> rate-distortion ->
downloads. The picture is drawn in the browser by the rank scrubber from display factors sent once
(``ui.image.picture``); the settled rank reruns the page once for the numbers, the spectrum's kept marker and
the address. Without the scrubber the server draws (``ui.scrubbing``). All compute is in
``lowrank_core.image`` through the caches in ``ui.image.cache``.
"""

import contextlib

import streamlit as st

from lowrank_core import LowRankError
from lowrank_core import image as codec_core
from ui import limits, scrubbing
from ui.charts import energy_figure
from ui.exports import summary_html
from ui.image import cache
from ui.image import figures as figures
from ui.image import inputs as inputs
from ui.image import tiles as tiles_mode
from ui.image.links import apply_image_link, apply_linked_ranks, image_link_params
from ui.image.picture import SCRUBBER_KEY, scrubbed_picture, served_picture
from ui.image.room import image_room, image_voter
from ui.image.views import MetricCards, byte_cards, galleries, quality_cards, rate_distortion_section
from ui.limits import DISPLAY_MAX_SIDE, DISPLAY_QUALITY, MAX_FRAME_SIDE, MAX_SWEEP_FRAMES
from ui.links import sync_url
from ui.page import page_footer, page_start, settings_beside
from ui.presenter import presenter_figure
from ui.stills import png_bytes, spectrum_strip
from ui.sweep import sweep_controls, sweep_ranks
from ui.text import escape_markdown

CHANNEL_NAMES = {"rgb": ("R", "G", "B"), "luminance": ("Y",), "ycbcr": ("Y", "Cb", "Cr")}

start = page_start(
    "Image compression", apply_link=apply_image_link, carried_notices_key="image_link_notices",
    caption="An image is a matrix per colour channel. Keeping the first r singular triplets stores "
            "r·(H + W) numbers per channel instead of H·W pixels. Is that a good codec? See it, measure it, "
            "and compare it with JPEG.")
present = start.present
settings, stage = settings_beside(present, collapsed="Image, colour mode, precision and rank rule")

# ---------------------------------------------------------------------------------------------- 1 · image
with settings:
    choice = inputs.image_source_picker()
if choice is None:
    stage.info("Choose a file to upload, or take a photo, to begin.")
    sync_url({"src": st.session_state.get("image_source", "upload")})
    st.stop()
try:
    loaded = inputs.load_choice(choice)
except LowRankError as err:
    stage.error(escape_markdown(str(err)))
    st.stop()
H, W = loaded.height, loaded.width
with settings:
    if choice.kind != "sample":
        st.text(f"File: {choice.name}")  # user text: plain, never markdown
    st.caption(f"{W}×{H} pixels, {'grey (1 channel)' if loaded.channels == 1 else 'colour (3 channels)'}.")
    for notice in loaded.notices:
        st.info(escape_markdown(notice))

# --------------------------------------------------------------------------------------------- 2 · colour
with settings:
    mode = inputs.color_mode_picker(loaded.channels)
    dtype = inputs.dtype_picker()
    codec_kind = tiles_mode.codec_switch()
if codec_kind == "tiles":  # a rank per tile: ui.image.tiles draws the rest of the page
    with stage:
        tiles_mode.tiles_section(choice, loaded.pixels, mode=mode, dtype=dtype, present=present,
                                 settings=settings)
    st.stop()
names = CHANNEL_NAMES[mode] if loaded.channels == 3 else ("grey",)
pixels = loaded.pixels
method_text = "randomized SVD preview" if H * W > limits.EXACT_MAX_PIXELS else "exact SVD"
try:
    with stage, st.spinner(f"Factorizing {W}×{H} × {len(names)} channel(s) ({method_text})…"):
        codec, exact_job = cache.current_codec(choice.key, mode, pixels)
except LowRankError as err:
    stage.error(escape_markdown(str(err)))
    st.stop()

# ----------------------------------------------------------------------------------------------- 3 · rank
raw_bytes = codec.storage(0).raw
start.add(apply_linked_ranks(codec, raw_bytes))  # a link's ranks, checked against this image
identity = cache.codec_identity(choice.key, codec)
reference = codec_core.reference_image(pixels, mode)
drawing = scrubbing.drawing_mode("image", SCRUBBER_KEY)
ycbcr = len(codec.groups) == 2
with settings:
    rule = inputs.rank_rule(
        codec, dtype=dtype, raw_bytes=raw_bytes,
        measured_psnr=lambda target: cache.psnr_rule(identity, target, dtype, _codec=codec,
                                                     _reference=reference))
    if rule is not None and not present:
        st.caption(rule.note)
    group = inputs.group_picker() if drawing.browser and ycbcr and rule is None else 0
    sweep_to, playing = 1, False
    if codec.max_rank > 1:
        sweep_to, playing = sweep_controls(
            "image", codec.max_rank, source=(choice.key, mode),
            also={"image_rule": "slider", "image_view": "side", "image_scrub_group": 0},
            help_text="Raises the rank step by step: the picture and the spectrum move together.",
            stacked=not present)
    scrubbing.draw_in_browser_toggle("image")


def sweep_settings(to_rank: int) -> list[tuple[int, ...]]:
    """The rank settings of a sweep up to ``to_rank`` (YCbCr: the chroma rank is kept, at most the luma)."""
    chroma = st.session_state.get("image_chroma_rank", 0)
    return [(r,) if not ycbcr else (r, min(chroma, r)) for r in sweep_ranks(to_rank)]


with stage:
    if drawing.browser:  # the browser draws every rank; the settled one comes back here
        payload = cache.scrub_payload(identity, dtype, _codec=codec, _pixels=pixels)
        shown = scrubbed_picture(payload, ranks=inputs.wanted_ranks(min(H, W), len(codec.groups)),
                                 group=group, names=names, locked=rule is not None, play=playing,
                                 view=st.session_state.get("image_view", "side"),
                                 sharp=cache.sharp_pixels(H, W))
        scrubbing.watch("image", SCRUBBER_KEY, shown.status)
        for key, value in zip(("image_rank", "image_chroma_rank"), shown.ranks, strict=False):
            st.session_state[key] = value
        st.session_state["image_view"] = shown.view
    else:
        scrubbing.server_notice("image", drawing)
        shown = served_picture(codec, identity=identity, key=choice.key, mode=mode, dtype=dtype,
                               pixels=pixels, reference=reference, locked=rule is not None, present=present,
                               sweep=sweep_settings if playing else None, sweep_to=sweep_to)
    ranks = tuple(min(r, codec.max_rank) for r in shown.ranks)  # what the server holds: the numbers' ranks
    image_voter(codec, shown.ranks, "slider" if rule is None else rule.rule)  # ↑/↓; a phone's vote
    if exact_job is not None and codec.method != "exact":
        # a job another session shared and dropped counts as still running: the next rerun queues it again
        if exact_job.done() and not exact_job.cancelled():
            st.warning(f"The exact SVD failed ({exact_job.exception()}); the randomized preview stays.")
        else:
            st.info(f"Showing a **randomized SVD preview** (the first {codec.max_rank} triplets, "
                    f"`torch.svd_lowrank`): this image has {H * W / 1e6:.1f} megapixels, above the "
                    f"{limits.EXACT_MAX_PIXELS / 1e6:.1f} MP the exact SVD is run for at once. The exact SVD "
                    "is running in the background; it replaces the preview at your next change, or now:")
            inputs.refresh_button("Show the exact SVD if it is ready", key="image_refresh_exact")
    elif exact_job is not None:
        st.caption("Exact SVD (it replaced the randomized preview).")
    if ranks != shown.ranks:
        st.caption(f"The numbers below are at rank {'/'.join(map(str, ranks))}: the preview holds "
                   f"{codec.max_rank} triplets until the exact SVD is there.")
    size = codec_core.fit_size(H, W, DISPLAY_MAX_SIDE) if drawing.browser else cache.display_size(H, W)
    if not present and drawing.browser and cache.sharp_pixels(H, W):
        st.caption(f"The image is {W}×{H}: shown enlarged, each pixel a square.")
    elif not present and size != (H, W):
        jpeg = "" if drawing.browser else f" Sent as JPEG q{DISPLAY_QUALITY}: judge fine detail on the PNG."
        st.caption(f"Shown at {size[1]}×{size[0]} (the image is {W}×{H}; the reconstruction is computed at "
                   "the display size from resized factors, exactly the resized rank-r image). Numbers and "
                   "downloads are at full size." + jpeg)
rank_text = f"rank {ranks[0]}" if len(ranks) == 1 else f"luma rank {ranks[0]}, chroma rank {ranks[1]}"

# -------------------------------------------------------------------------------------------- 4 · numbers
if not present:
    st.subheader("Numbers")
cards = MetricCards()  # the cards' labels and values, for the HTML summary
large_ssim = H * W > limits.SSIM_SYNC_MAX_PIXELS
with_ssim = not large_ssim or st.toggle(
    f"Compute SSIM at full size (about {max(1, round(H * W / 1e6))} s per setting on 2 CPU cores)",
    key="image_ssim_large", help="SSIM of a large image is slow; while this is off, a rank change skips it.",
    persist_state="session")
with st.spinner("Computing SSIM at full size…") if large_ssim and with_ssim else contextlib.nullcontext():
    numbers = cache.quality_numbers(identity, ranks, dtype, _codec=codec, _reference=reference,
                                    with_ssim=with_ssim)
quality_cards(cards, codec, ranks, numbers)

# ------------------------------------------------------------------------------------------- 5 · spectra
S = codec.factorization.S.cpu().numpy()  # (C, k)
channel_ranks = codec.channel_ranks(ranks)
charts = {"Singular values": presenter_figure(figures.channel_spectra_figure(S, names, channel_ranks))}
spectrum_col, energy_col = st.columns(2) if not present else (st.container(), None)
spectrum_col.plotly_chart(charts["Singular values"], key="image_spectrum")
if not present:
    charts["Energy kept"] = energy_figure(codec.factorization.energy().cpu().numpy(), rank=channel_ranks,
                                          names=names, title="Energy kept (cumulative σᵢ² / ‖x‖²)",
                                          height=380)
    energy_col.plotly_chart(charts["Energy kept"], key="image_energy_chart")
    galleries(identity, codec, mode)  # the gallery stays out of the presenter view

link_params = image_link_params(  # this view as a link (the address bar holds it)
    src=choice.kind, sample=choice.name, mode=mode if loaded.channels == 3 else "rgb", dtype=dtype,
    rule="slider" if rule is None else rule.rule, ranks=shown.ranks,
    energy=float(st.session_state.get("image_energy", 99.0)),
    psnr=float(st.session_state.get("image_psnr", 30.0)),
    budget_kb=float(st.session_state.get("image_budget_kb", inputs.budget_bounds(raw_bytes)[1])),
    view=shown.view, max_rank=min(H, W), raw_bytes=raw_bytes)
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
st.subheader("Against JPEG and downsampling")
value_ssim = numbers.get("ssim")
rate_distortion_section(
    cache.rate_distortion_job(choice.key, mode, pixels), mode=mode, charts=charts,
    current={"bits_per_pixel": 8 * codec.storage(ranks).of(dtype) / (H * W), "psnr": numbers["psnr"],
             "ssim": float("nan") if value_ssim is None else value_ssim,
             "label": f"this setting: {rank_text}, {dtype} (full size)"},
    references={f"raw 8-bit ({8 * len(reference)} bpp)": 8.0 * len(reference),
                "original as PNG": 8 * sizes["png"] / (H * W)})

# ------------------------------------------------------------------------------------------ 7 · downloads
st.subheader("Download")
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
    rule_text = "the slider" if rule is None else f"{rule.rule} ({rule.note})"
    notes = [f"Image: {image_name}, {W}×{H}, colour mode {mode}, factors stored as {dtype}.",
             f"Rank set by: {rule_text}."]
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
