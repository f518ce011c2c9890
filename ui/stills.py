"""Pictures made with numpy + Pillow (no plotly, no browser): for sweeps, GIFs and the HTML summary.

``colour_map`` / ``heatmap_image`` / ``panels_image`` draw matrices on the app's diverging scale;
``spectrum_strip`` draws the singular values as kept (blue) and dropped (grey) bars; ``png_bytes`` and
``png_data_url`` encode them.
"""

from __future__ import annotations

import io
import math
from base64 import b64encode
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ui.limits import MAX_FRAME_SIDE
from ui.sampling import evenly_spaced
from ui.style import DROPPED_RGB, KEPT_RGB, NAN_COLOUR, RDBU_R

__all__ = [
    "DIVERGING_TABLE",
    "colour_map",
    "heatmap_image",
    "panels_image",
    "spectrum_strip",
    "FONT_FILE",
    "font",
    "png_bytes",
    "png_data_url",
]

FONT_FILE = Path(__file__).parent / "fonts" / "DejaVuSans-subset.ttf"  # licence: fonts/LICENSE.md
_LUT_SIZE = 257  # odd: 0 falls exactly on the white middle entry
_LUT = np.stack([np.interp(np.linspace(0, 1, _LUT_SIZE), np.linspace(0, 1, len(RDBU_R)), RDBU_R[:, c])
                 for c in range(3)], axis=1).round().astype(np.uint8)  # (257, 3)
DIVERGING_TABLE = _LUT  # the scale as a colour table (the rank scrubber's heatmaps map values through it)


def colour_map(values: np.ndarray, limit: float) -> np.ndarray:
    """Map values in [-limit, limit] onto the diverging blue-white-red scale; (p, q) -> (p, q, 3) uint8.

    Values beyond the limit take the end colours; NaN is grey.
    """
    values = np.asarray(values, dtype=np.float64)
    limit = float(limit) if limit and math.isfinite(limit) and limit > 0 else 1.0
    position = np.clip((np.nan_to_num(values) / limit + 1.0) / 2.0, 0.0, 1.0)
    rgb = _LUT[np.rint(position * (_LUT_SIZE - 1)).astype(np.int64)]  # (p, q, 3)
    rgb[np.isnan(values)] = NAN_COLOUR
    return rgb


def heatmap_image(values: np.ndarray, *, limit: float | None = None,
                  max_side: int = MAX_FRAME_SIDE) -> Image.Image:
    """A matrix as a colour-mapped picture at most ``max_side`` pixels wide and high.

    A small matrix is enlarged by a whole factor (each entry a square block); a large one is sampled at
    evenly spaced rows and columns. ``limit`` is the half-width of the colour scale (default: max |value|).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"heatmap_image needs a non-empty 2-D array; got shape {values.shape}")
    rows, cols = evenly_spaced(values.shape[0], max_side), evenly_spaced(values.shape[1], max_side)
    values = values[np.ix_(rows, cols)]
    if limit is None:
        finite = np.abs(values[np.isfinite(values)])
        limit = float(finite.max()) if finite.size else 1.0
    rgb = colour_map(values, limit)
    factor = max(1, max_side // max(values.shape))
    rgb = np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1)
    return Image.fromarray(rgb, "RGB")


def panels_image(panels: Sequence[tuple[str, np.ndarray]], *, limit: float, height: int = 360,
                 gap: int = 24) -> Image.Image:
    """Matrices side by side on one colour scale, each titled: a still of ``heatmap_panels``.

    Each panel is ``height`` pixels high (wider or narrower with its shape, entries as blocks); a sweep
    shows these instead of the interactive chart because a picture updates many times faster.
    """
    title_height = 34
    pictures = []
    for _, values in panels:
        picture = heatmap_image(values, limit=limit, max_side=max(height, 16))
        scale = height / picture.height
        size = (max(1, round(picture.width * scale)), height)
        pictures.append(picture.resize(size, Image.Resampling.NEAREST))
    width = sum(p.width for p in pictures) + gap * (len(pictures) - 1)
    canvas = Image.new("RGB", (width, title_height + height), "white")
    draw = ImageDraw.Draw(canvas)
    title_font = font(22)
    left = 0
    for (title, _), picture in zip(panels, pictures, strict=True):
        text_width = draw.textlength(title, font=title_font)
        draw.text((left + (picture.width - text_width) / 2, 4), title, fill=(17, 17, 17), font=title_font)
        canvas.paste(picture, (left, title_height))
        left += picture.width + gap
    return canvas


def spectrum_strip(S: np.ndarray, rank: int, *, width: int, height: int, log: bool = True) -> Image.Image:
    """The singular values as bars, the first ``rank`` blue (kept) and the rest grey (dropped).

    On the log scale the bars span the decades from the smallest positive σ (at most 12 below σ₁) to σ₁;
    zeros have no bar.
    """
    S = np.asarray(S, dtype=np.float64).ravel()
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    k = S.shape[0]
    if k == 0 or not np.isfinite(S).all() or S.max() <= 0:
        return Image.fromarray(canvas, "RGB")
    top = S.max()
    if log:
        positive = S[S > 0]
        bottom = max(float(positive.min()), top * 1e-12)
        span = math.log10(top) - math.log10(bottom)
        share = np.where(S > 0, (np.log10(np.maximum(S, bottom)) - math.log10(bottom)) / span
                         if span > 0 else 1.0, 0.0)
        share = np.where(S > 0, np.maximum(share, 0.03), 0.0)  # the smallest value still shows a sliver
    else:
        share = S / top
    edges = np.linspace(0, width, k + 1).round().astype(np.int64)
    for i in range(k):
        x0, x1 = int(edges[i]), max(int(edges[i + 1]) - (1 if edges[i + 1] - edges[i] > 2 else 0),
                                    int(edges[i]) + 1)
        bar = int(round(share[i] * (height - 2)))
        if bar > 0:
            canvas[height - bar:, x0:x1] = KEPT_RGB if i < rank else DROPPED_RGB
    return Image.fromarray(canvas, "RGB")


def font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """The shipped DejaVu Sans subset at ``size`` pixels (it has "−", "σ", "‖", subscripts; Pillow's own
    default font has no "−"), or Pillow's built-in font where FreeType is missing."""
    try:
        return ImageFont.truetype(str(FONT_FILE), size=size)
    except (OSError, ImportError):
        return ImageFont.load_default()


def png_bytes(image: Image.Image) -> bytes:
    """A Pillow image as PNG."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=False)
    return buffer.getvalue()


def png_data_url(data: bytes, mime: str = "image/png") -> str:
    """``data:image/png;base64,...`` for an <img src>."""
    return f"data:{mime};base64,{b64encode(data).decode('ascii')}"
