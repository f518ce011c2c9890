"""The image page's picture and its rank control: drawn in the browser by the rank scrubber, or by the server.

- ``scrubbed_picture``: ``ui.components.scrubber.rank_scrubber`` on the codec's display factors
  (``cache.scrub_payload``): the reconstruction, swipe, error and original views on one canvas, a slider over
  the image's full rank (``aria-valuetext`` "rank 30 of 512"), play, and the strip of singular values with
  the kept ones marked, sized in the browser to fit one screen with the page's title above it.
- ``served_picture``: the server path, as before the scrubber: the rank slider(s) and the JPEGs the server
  makes for each rank (side by side, swipe, error), the sweep drawn frame by frame.

Both return a ``Picture``: the ranks to describe below (the settled ones), the view (as the address writes
it) and the scrubber's status.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import streamlit as st
import torch

from lowrank_core.image import ImageCodec
from lowrank_core.scrub import read_header
from ui.components.scrubber import rank_scrubber
from ui.image import cache
from ui.image import figures as figures
from ui.image.inputs import GROUP_LABELS, rank_sliders, view_picker
from ui.style import ERROR_GAIN
from ui.sweep import SWEEP_FRAME_SECONDS

__all__ = ["SCRUBBER_KEY", "VIEW_OF_LINK", "LINK_OF_VIEW", "Picture", "scrubbed_picture", "served_picture"]

SCRUBBER_KEY = "image_scrub"
VIEW_OF_LINK = {"side": "reconstruction", "swipe": "swipe", "error": "error", "original": "original"}
LINK_OF_VIEW = {component: link for link, component in VIEW_OF_LINK.items()}
PRESENTER_PICTURE_HEIGHT = 540  # the server path's picture height in the presenter view


@dataclass(frozen=True)
class Picture:
    """What the picture's control says.

    Attributes
    ----------
    ranks : tuple of int
        (r,) or (luma, chroma): the settled ranks.
    view : str
        The view as the address writes it ("side", "swipe", "error", "original").
    status : {"pending", "ready", "failed", "server"}
        The scrubber's status ("server" on the server path).
    """

    ranks: tuple[int, ...]
    view: str
    status: str


def scrubbed_picture(payload: bytes, *, ranks: tuple[int, ...], group: int, names: Sequence[str],
                     locked: bool, view: str, play: bool, sharp: bool = False) -> Picture:
    """The rank scrubber on ``payload`` (``cache.scrub_payload``) at ``ranks``.

    ``group`` is the rank its slider moves in YCbCr (0 luma, 1 chroma; the other is drawn fixed); ``locked``
    while a rule sets the rank; ``play`` on the run where the page's sweep was started (the handle and the
    picture sweep from rank 1 to the current rank); ``sharp`` for a small image, which the browser then
    enlarges with square pixels. The picture is sized in the browser so that it, the slider and the strip fit
    the window (``fit_viewport``).
    """
    ycbcr = len(ranks) == 2
    header = read_header(payload)
    channel = names[0] if group == 0 else names[1]
    other = "" if not ycbcr else (f"; chroma rank {ranks[1]}" if group == 0 else f"; luma rank {ranks[0]}")
    result = rank_scrubber(
        payload, key=SCRUBBER_KEY, rank=ranks[group], label=GROUP_LABELS[group] if ycbcr else "Rank r",
        min_rank=0 if group == 1 else 1, group=group if ycbcr else None, ranks=ranks if ycbcr else None,
        view=VIEW_OF_LINK[view], play=play, spectrum=True, disabled=locked,
        valuetext=("luma rank", "chroma rank")[group] if ycbcr else "rank",
        spectrum_label=f"Singular values of {channel} on a log scale: blue, the {{kept}} kept{other}.",
        unavailable_text="exact SVD in progress",
        beyond_text=f"the browser holds the first {header.rank_cap} ranks; the numbers below use your rank",
        fit_viewport=True, pixelated=sharp)
    return Picture(result.ranks, LINK_OF_VIEW[result.view], result.status)


def served_picture(codec: ImageCodec, *, identity: tuple, key: str, mode: str, dtype: str,
                   pixels: torch.Tensor, reference: torch.Tensor, locked: bool, present: bool,
                   sweep: Callable[[int], list[tuple[int, ...]]] | None, sweep_to: int) -> Picture:
    """The server path: the rank slider(s), the view picker, and the JPEGs the server makes for each rank.

    ``sweep(to_rank)`` gives the settings of a sweep that plays in this run (None: no sweep).
    """
    ranks = rank_sliders(codec, disabled=locked)
    if st.session_state.get("image_view") not in ("side", "swipe", "error"):
        st.session_state["image_view"] = "side"  # "original" is a view of the scrubber only
    view = view_picker()
    H, W = codec.height, codec.width
    size = cache.display_size(H, W)
    shown_jpeg = cache.display_jpeg(identity, ranks, dtype, size, _codec=codec)
    original_jpeg = cache.original_jpeg(key, mode, size, _pixels=pixels)
    caption = f"Rank {'/'.join(map(str, ranks))} ({dtype} factors)"
    width = min(900, int(PRESENTER_PICTURE_HEIGHT * W / H)) if present else "stretch"
    if view == "side":
        left, right = st.columns(2)
        left.image(original_jpeg, caption="Original" + (" (luminance)" if mode == "luminance" else ""),
                   output_format="JPEG", width=width)
        slot = right.empty()
        for frame in sweep(ranks[0]) if sweep is not None else []:  # one-off frames: not cached
            frame_jpeg = cache.render_display_jpeg(codec, frame, dtype, size)
            slot.image(frame_jpeg, caption=f"Sweep: rank {'/'.join(map(str, frame))} of {sweep_to}",
                       output_format="JPEG", width=width)
            time.sleep(SWEEP_FRAME_SECONDS)
        slot.image(shown_jpeg, caption=caption, output_format="JPEG", width=width)
    elif view == "swipe":
        st.iframe(figures.swipe_html(original_jpeg, shown_jpeg, width=size[1], height=size[0],
                                     after_label=f"rank {'/'.join(map(str, ranks))}"), height="content")
        st.caption("Drag the slider under the picture: the original is left of the line, the rank-r image "
                   "right.")
    else:
        shown = cache.shown_pixels(identity, ranks, dtype, _codec=codec)  # (C, H, W) uint8, full size
        error = cache.error_jpeg(identity, ranks, dtype, size, _reference=reference, _shown=shown)
        left, right = st.columns(2)
        left.image(shown_jpeg, caption=caption, output_format="JPEG", width="stretch")
        right.image(error, caption=f"|original − reconstruction| × {ERROR_GAIN} per channel (black: no "
                                   f"error; white: 1/{ERROR_GAIN} of the range or more)",
                    output_format="JPEG", width="stretch")
    return Picture(ranks, view, "server")
