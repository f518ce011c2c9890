"""Widgets of the image page. Each returns plain values; every key starts with "image_".

- ``image_source_picker``: a shipped sample, an upload or a camera photo -> ``ImageChoice``.
- ``color_mode_picker``: RGB / luminance / YCbCr (a grey image has one channel and no choice).
- ``dtype_picker``: the precision the factors are stored at (the shown image is rebuilt from it).
- ``rank_rule``: the rules that set the rank (energy, target PSNR, byte budget); ``wanted_ranks`` (the
  person's ranks), ``group_picker`` (YCbCr: which rank the scrubber moves), ``rank_sliders`` (the server
  path's sliders). The rank scrubber itself is ``ui.image.picture``.
- ``view_picker``, ``refresh_button``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import streamlit as st

from lowrank_core import sources
from lowrank_core.image import ImageCodec
from lowrank_core.image.targets import MeasuredRule
from ui.image.cache import content_key, load_sample, load_upload
from ui.limits import IMAGE_UPLOAD_TYPES, MAX_UPLOAD_MB
from ui.state import clamp_state, kept_upload, prepare_slider, unless_set
from ui.style import ERROR_GAIN

__all__ = [
    "DEFAULT_RANK",
    "DEFAULT_SAMPLE",
    "COLOR_MODE_LABELS",
    "RULE_LABELS",
    "DTYPE_LABELS",
    "VIEW_LABELS",
    "ImageChoice",
    "GROUP_LABELS",
    "RankSetting",
    "image_source_picker",
    "load_choice",
    "color_mode_picker",
    "dtype_picker",
    "rank_rule",
    "wanted_ranks",
    "group_picker",
    "rank_sliders",
    "view_picker",
    "refresh_button",
    "budget_bounds",
    "default_ranks",
]

DEFAULT_SAMPLE = "astronaut"
DEFAULT_RANK = 30
SOURCE_LABELS = {"sample": "Sample", "upload": "Upload", "camera": "Camera"}
SAMPLE_LABELS = {
    "astronaut": "Astronaut (photo, 512×512)", "camera": "Cameraman (grey photo, 512×512)",
    "chelsea": "Chelsea the cat (photo, 451×300)", "coffee": "Coffee (photo, 600×400)",
    "rocket": "Rocket launch (photo, 640×427)", "gradient": "Gradient (computed, rank 2)",
    "checkerboard": "Checkerboard (computed, rank 2)", "circles": "Circles (computed, sharp edges)",
    "stripes": "Diagonal stripes (computed)", "rank-one": "Rank one (computed, exactly rank 1)",
}
COLOR_MODE_LABELS = {
    "rgb": "RGB (one rank for R, G, B)",
    "luminance": "Luminance only (grey, Y)",
    "ycbcr": "YCbCr (luma and chroma ranks, as JPEG)",
}
RULE_LABELS = {"slider": "Slider", "energy": "Energy kept", "psnr": "Target PSNR", "bytes": "Byte budget"}
DTYPE_LABELS = {"float32": "float32 (4 B)", "float16": "float16 (2 B)", "int8": "int8 (1 B + scales)"}
VIEW_LABELS = {"side": "Side by side", "swipe": "Swipe", "error": f"Error ×{ERROR_GAIN}"}
GROUP_LABELS = {0: "Luma rank (Y)", 1: "Chroma rank (Cb, Cr)"}


def default_ranks(max_rank: int) -> tuple[int, int]:
    """(rank, chroma rank) a new image starts at: 30 and 10, or less when the image has fewer triplets."""
    return min(DEFAULT_RANK, max_rank), min(DEFAULT_RANK // 3, max_rank)


# ================================================================================================ source


@dataclass(frozen=True)
class ImageChoice:
    """Where the image comes from: a shipped sample, an uploaded file or a camera photo.

    Only ``key`` names the pixels (a sample's name or the file's digest), so it is what the caches key on.

    Attributes
    ----------
    kind : {"sample", "upload", "camera"}
    key : str
        The cache key: "sample:NAME" or "sha256:HEX" of the file's bytes.
    name : str
        The sample's name or the uploaded file's name (user text: show it with st.text only).
    data : bytes
        The uploaded file (not part of equality).
    """

    kind: str
    key: str
    name: str
    data: bytes = field(default=b"", repr=False, compare=False)


def image_source_picker() -> ImageChoice | None:
    """Sample / upload / camera; returns None while an upload or a photo is still awaited."""
    kind = st.radio("Image source", list(SOURCE_LABELS), format_func=SOURCE_LABELS.get, horizontal=True,
                    key="image_source", persist_state="session")
    if kind == "sample":
        names = sources.sample_names()
        index = names.index(DEFAULT_SAMPLE) if DEFAULT_SAMPLE in names else 0
        name = st.selectbox("Sample", names, format_func=lambda n: SAMPLE_LABELS.get(n, n),
                            key="image_sample", **unless_set("image_sample", index=index),
                            persist_state="session")
        return ImageChoice("sample", f"sample:{name}", name)
    if kind == "upload":
        upload = kept_upload("image_upload", lambda: st.file_uploader(
            f"Upload an image (PNG, JPEG, WebP, BMP, TIFF or GIF; at most {MAX_UPLOAD_MB} MB)",
            type=list(IMAGE_UPLOAD_TYPES), key="image_upload", max_upload_size=MAX_UPLOAD_MB,
        ))
        if upload is None:
            return None
        if upload.from_before:
            st.caption("The image uploaded before is kept for this session; upload another to replace it.")
        return ImageChoice("upload", content_key(upload.data), upload.name, upload.data)
    photo = kept_upload("image_camera", lambda: st.camera_input("Take a photo", key="image_camera"))
    if photo is None:
        return None
    return ImageChoice("camera", content_key(photo.data), "camera photo", photo.data)


def load_choice(choice: ImageChoice) -> sources.LoadedImage:
    """Decode the chosen image through the cache. Raises ``InputError`` for a file that cannot be used."""
    if choice.kind == "sample":
        return load_sample(choice.name)
    return load_upload(choice.key, choice.data, choice.name)


# ============================================================================================ settings


def color_mode_picker(channels: int) -> str:
    """The colour mode; a grey image (one channel) is always "luminance"."""
    if channels == 1:
        st.caption("Grey image: one channel, one rank.")
        return "luminance"
    return st.radio("Colour mode", list(COLOR_MODE_LABELS), format_func=COLOR_MODE_LABELS.get,
                    horizontal=True, key="image_mode", **unless_set("image_mode"), persist_state="session")


def dtype_picker() -> str:
    """The precision the factors are stored at; the shown image is rebuilt from factors rounded to it."""
    return st.radio("Store the factors as", list(DTYPE_LABELS), format_func=DTYPE_LABELS.get,
                    horizontal=True, key="image_dtype", **unless_set("image_dtype", index=1),
                    help="The image shown, its numbers and the .npz download all use factors rounded to this "
                         "precision. int8 keeps one float32 scale per column of a and per row of b.",
                         persist_state="session")


def view_picker() -> str:
    """How the reconstruction is shown: side by side, a swipe comparison, or the amplified error."""
    return st.radio("View", list(VIEW_LABELS), format_func=VIEW_LABELS.get, horizontal=True, key="image_view",
                    **unless_set("image_view"), persist_state="session")


# =============================================================================================== rank


@dataclass(frozen=True)
class RankSetting:
    """The ranks chosen (one per channel group) and how.

    Attributes
    ----------
    ranks : tuple of int
        (r,) for RGB and luminance, (r_luma, r_chroma) for YCbCr.
    rule : str
        A key of RULE_LABELS.
    note : str
        What the rule found, for a caption ("" for the slider).
    """

    ranks: tuple[int, ...]
    rule: str
    note: str = ""


def budget_bounds(raw_bytes: int) -> tuple[float, float]:
    """(largest, default) byte budget in KB for an image of ``raw_bytes`` raw 8-bit bytes."""
    top = max(1.0, round(raw_bytes / 1000 * 2, 1))
    return top, min(top, max(0.1, round(raw_bytes / 1000 / 10, 1)))


def _rule_ranks(codec: ImageCodec, rule: str, dtype: str, raw_bytes: int,
                measured_psnr: Callable[[float], MeasuredRule]) -> tuple[tuple[int, ...], str]:
    """Draw the rule's input and return (ranks it gives, a sentence about them)."""
    ycbcr = len(codec.groups) == 2
    if rule == "energy":
        percent = st.number_input("Energy to keep (%)", min_value=1.0, max_value=100.0, step=0.1,
                                  format="%.2f", key="image_energy", **unless_set("image_energy", value=99.0),
                                  persist_state="session")
        ranks = codec.rank_for_energy(percent / 100)
        what = f"{percent:g} % of the energy"
        what += " of luma and of chroma each" if ycbcr else ""
    elif rule == "psnr":
        target = st.number_input("Target PSNR (dB)", min_value=5.0, max_value=90.0, step=0.5,
                                 format="%.1f", key="image_psnr", **unless_set("image_psnr", value=30.0),
                                 persist_state="session")
        found = measured_psnr(target)
        ranks = found.ranks
        what = (f"{target:g} dB, measured on the 8-bit image at {dtype} as the PSNR card below "
                f"({found.value:.2f} dB; Eckart–Young's prediction before rounding: "
                f"{'/'.join(map(str, found.predicted))})")
        if not found.met:
            what += f"; the stored ranks reach only {found.value:.2f} dB"
    else:
        top, default = budget_bounds(raw_bytes)
        if st.session_state.get("image_budget_kb", 0.0) > top:  # a budget set for a larger image
            st.session_state["image_budget_kb"] = top
        budget_kb = st.number_input(f"Byte budget (KB of {dtype} factors)", min_value=0.1, max_value=top,
                                    step=1.0, format="%.1f", key="image_budget_kb",
                                    **unless_set("image_budget_kb", value=default), persist_state="session")
        ranks = codec.rank_for_bytes(int(budget_kb * 1000), dtype=dtype)
        what = f"{budget_kb:g} KB at {dtype}"
    shown = "/".join(str(r) for r in ranks)
    label = "luma/chroma rank" if ycbcr else "rank"
    note = f"{what} → {label} {shown}."
    if codec.method != "exact" and max(ranks) >= codec.max_rank:
        note += f" (capped at the {codec.max_rank} triplets of the preview)"
    if ranks[0] == 0:
        note += " The budget does not fit even rank 1."
    return ranks, note


def rank_rule(codec: ImageCodec, *, dtype: str, raw_bytes: int,
              measured_psnr: Callable[[float], MeasuredRule]) -> RankSetting | None:
    """The rule picker and its input; the ranks the rule gives, or None for "Slider" (the person's rank).

    A rule writes its ranks into ``image_rank`` / ``image_chroma_rank`` (the rank control then shows them,
    locked), so switching back to "Slider" keeps the rank the rule found. ``measured_psnr(target)`` is the
    target-PSNR rule measured on the 8-bit image (cached by the page).
    """
    rule = st.radio("Set the rank with", list(RULE_LABELS), format_func=RULE_LABELS.get, horizontal=True,
                    key="image_rule", **unless_set("image_rule"), persist_state="session")
    if rule == "slider":
        return None
    ranks, note = _rule_ranks(codec, rule, dtype, raw_bytes, measured_psnr)
    if st.session_state.get("image_rank") != max(1, ranks[0]):
        st.session_state["image_rank"] = max(1, ranks[0])
    if len(ranks) > 1 and st.session_state.get("image_chroma_rank") != ranks[1]:
        st.session_state["image_chroma_rank"] = ranks[1]
    return RankSetting(ranks, rule, note)


def wanted_ranks(top: int, groups: int) -> tuple[int, ...]:
    """The ranks the person set (``image_rank``, and ``image_chroma_rank`` in YCbCr), kept within 1..top
    (chroma 0..top), with the defaults of a new image."""
    default = default_ranks(top)
    rank = clamp_state("image_rank", 1, top, default[0])
    if groups == 1:
        return (rank,)
    return rank, clamp_state("image_chroma_rank", 0, top, default[1])


def group_picker() -> int:
    """YCbCr with the rank scrubber: which rank its slider moves (0: luma, 1: chroma)."""
    return int(st.segmented_control("The slider moves", [0, 1], format_func=GROUP_LABELS.get, required=True,
                                    key="image_scrub_group", **unless_set("image_scrub_group", default=0),
                                    persist_state="session"))


def rank_sliders(codec: ImageCodec, *, disabled: bool) -> tuple[int, ...]:
    """The server path's rank slider (luma and chroma sliders in YCbCr mode), over the ranks the codec holds.

    The sliders are disabled while a rule sets the rank (``rank_rule`` wrote it into their state).
    """
    ycbcr = len(codec.groups) == 2
    top = codec.max_rank
    prepare_slider("image_rank", 1, top, default_ranks(top)[0])
    help_text = "Set by the rule above; choose “Slider” to move it by hand." if disabled else None
    if top > 1:
        rank = st.slider("Luma rank (Y)" if ycbcr else "Rank r", min_value=1, max_value=top, key="image_rank",
                         disabled=disabled, help=help_text, persist_state="session")
    else:
        rank = 1
        st.caption("This image has a single singular triplet per channel: rank 1.")
    if not ycbcr:
        return (int(rank),)
    prepare_slider("image_chroma_rank", 0, top, default_ranks(top)[1])
    chroma = st.slider("Chroma rank (Cb, Cr)", min_value=0, max_value=top, key="image_chroma_rank",
                       disabled=disabled, help=help_text, persist_state="session")
    return int(rank), int(chroma)


# ============================================================================================= refresh


def refresh_button(label: str, *, key: str) -> None:
    """A button that only reruns the page, to pick up background results that have finished.

    The page does not poll by itself: a timed fragment rerun raced with widget changes here (an upload
    right after a click on "Upload" could be lost), so results appear at the next interaction or on this
    button.
    """
    st.button(label, key=key, icon=":material/refresh:")
