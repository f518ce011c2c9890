"""Pure builders for the image page: numbers in, a plotly Figure, a Pillow sweep frame or an HTML string out.

No Streamlit here. Figures are built from one dict each (a single validation pass), like ``ui.charts``; they
take plain numpy arrays and core results, so they can be tested by reading their traces back.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import plotly.graph_objects as go

from lowrank_core import image as codec_core
from lowrank_core.image import CurveComparison, RateDistortion, compare_curves
from lowrank_core.image.tiles import RAW_RANK
from ui.limits import MAX_SWEEP_FRAMES
from ui.style import CHANNEL_COLOURS, FONT, KEPT_COLOUR, LOG_AXIS, MARGIN, SEQUENTIAL, STAR_COLOUR
from ui.sweep import frame_picture_room, render_frames

__all__ = [
    "CODEC_STYLES",
    "channel_spectra_figure",
    "rate_distortion_figure",
    "rate_distortion_summary",
    "swipe_html",
    "image_sweep_frames",
    "tile_rank_figure",
    "tile_histogram_figure",
]

LEGEND_BELOW = {"orientation": "h", "y": -0.25}  # closer than the matrix page's: these charts are taller
CODEC_STYLES = {  # name -> (legend label, colour, dash)
    "svd-float16": ("SVD, float16 factors", "#1f5fbf", "solid"),
    "svd-int8": ("SVD, int8 factors", "#7fa8e8", "solid"),
    "jpeg": ("JPEG (Pillow, quality 5–95)", "#ff7f0e", "solid"),
    "downsample-raw": ("downsample + bicubic, raw 8-bit", "#2ca02c", "dash"),
    "downsample-png": ("downsample + bicubic, PNG", "#2ca02c", "solid"),
}
TILES_STYLE = ("#9467bd", "solid")  # the tile SVD's curve ("tiles-S" for S × S tiles)


def _codec_style(name: str) -> tuple[str, str, str]:
    """(legend label, colour, dash) of a codec's curve; "tiles-16" is the tile SVD in 16 × 16 tiles."""
    if name.startswith("tiles-"):
        side = name.removeprefix("tiles-")
        return (f"tile SVD, {side}×{side} tiles", *TILES_STYLE)
    return CODEC_STYLES.get(name, (name, "#888888", "solid"))


def channel_spectra_figure(S: np.ndarray, names: Sequence[str], ranks: Sequence[int], *,
                    height: int = 380) -> go.Figure:
    """Singular values of each channel on a log scale, with each channel's kept rank marked.

    Parameters
    ----------
    S : array of shape (C, k), each row descending
    names : C channel names ("R", "G", "B", "Y", "Cb", "Cr", "grey")
    ranks : C ranks (one per channel)
    """
    S = np.asarray(S, dtype=np.float64)
    index = np.arange(1, S.shape[1] + 1)
    data = []
    for values, name, rank in zip(S, names, ranks, strict=True):
        positive = np.where(values > 0, values, np.nan)  # zeros cannot be drawn on a log axis
        colour = CHANNEL_COLOURS.get(name, "#444444")
        data.append({"type": "scatter", "x": index, "y": positive, "mode": "lines", "name": f"σᵢ of {name}",
                     "line": {"color": colour, "width": 2},
                     "hovertemplate": f"{name}: σ<sub>%{{x}}</sub> = %{{y:.4g}}<extra></extra>"})
        if 1 <= rank <= S.shape[1]:
            data.append({"type": "scatter", "x": [rank], "y": [positive[rank - 1]], "mode": "markers",
                         "name": f"{name}: rank {rank}", "showlegend": False,
                         "marker": {"size": 11, "color": colour, "symbol": "diamond",
                                    "line": {"color": "white", "width": 1}},
                         "hovertemplate": f"{name}: last kept σ<sub>%{{x}}</sub> = %{{y:.4g}}"
                                          "<extra></extra>"})
    layout = {"height": height, "font": FONT, "legend": LEGEND_BELOW, "margin": MARGIN,
              "title": {"text": "Singular values (log scale)"},
              "xaxis": {"title": {"text": "index i"}, **LOG_AXIS},
              "yaxis": {"title": {"text": "σᵢ"}, **LOG_AXIS}}
    return go.Figure({"data": data, "layout": layout})


def rate_distortion_figure(rd: RateDistortion, *, metric: str = "psnr", current: dict | None = None,
                           references: dict[str, float] | None = None, height: int = 440) -> go.Figure:
    """Quality (PSNR or SSIM) against bits per pixel for every codec in ``rd``, log x axis.

    Parameters
    ----------
    rd : RateDistortion (measured on a working copy of at most RD_MAX_SIDE pixels a side)
    metric : {"psnr", "ssim"}
    current : dict with "bits_per_pixel", "psnr", "ssim" (may be NaN) and "label", optional
        The setting on screen, measured on the full image, drawn as a star.
    references : dict label -> bits per pixel, optional
        Vertical lines, e.g. the raw 8-bit size (24 bpp for RGB) and the original PNG.
    """
    title = "PSNR (dB)" if metric == "psnr" else "SSIM"
    data = []
    for name in rd.codecs:
        points = [p for p in rd.curve(name) if math.isfinite(getattr(p, metric))]
        if not points:
            continue
        label, colour, dash = _codec_style(name)
        data.append({
            "type": "scatter", "mode": "lines+markers", "name": label,
            "x": [p.bits_per_pixel for p in points], "y": [getattr(p, metric) for p in points],
            "text": [p.setting for p in points], "customdata": [p.bytes for p in points],
            "line": {"color": colour, "dash": dash, "width": 2}, "marker": {"size": 7},
            "hovertemplate": (f"{label}<br>%{{text}}<br>%{{x:.3g}} bits/pixel (%{{customdata:,}} bytes on "
                              f"the {rd.width}×{rd.height} copy)<br>{title} %{{y:.4g}}<extra></extra>"),
        })
    values = [y for trace in data for y in trace["y"]]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if current is not None and math.isfinite(current.get(metric, math.nan)):
        data.append({
            "type": "scatter", "mode": "markers", "name": current.get("label", "this setting"),
            "x": [current["bits_per_pixel"]], "y": [current[metric]],
            "marker": {"symbol": "star", "size": 18, "color": STAR_COLOUR,
                       "line": {"color": "black", "width": 1}},
            "hovertemplate": f"{current.get('label', 'this setting')}<br>%{{x:.3g}} bits/pixel<br>{title} "
                             "%{y:.4g}<extra></extra>",
        })
        low, high = min(low, current[metric]), max(high, current[metric])
    for label, bpp in (references or {}).items():
        data.append({"type": "scatter", "mode": "lines", "x": [bpp, bpp], "y": [low, high], "name": label,
                     "line": {"color": "#999999", "dash": "dot", "width": 1},
                     "hovertemplate": f"{label}: %{{x:.3g}} bits/pixel<extra></extra>"})
    layout = {
        "height": height, "font": FONT, "legend": LEGEND_BELOW, "margin": MARGIN,
        "title": {"text": f"{title} against size"
                  + (f" (on a {rd.width}×{rd.height} working copy)" if rd.is_downscaled else "")},
        "xaxis": {"title": {"text": "bits per pixel (bytes × 8 / pixels), log scale"}, **LOG_AXIS},
        "yaxis": {"title": {"text": title}},
    }
    return go.Figure({"data": data, "layout": layout})


def _ranges(comparison: CurveComparison) -> str:
    """'0.3–1.2 and 4–9 bits/pixel'."""
    parts = [f"{low:.2g}–{high:.2g}" for low, high in comparison.wins]
    return (" and ".join(parts) if len(parts) <= 2 else ", ".join(parts)) + " bits/pixel"


def _best_svd(rd: RateDistortion) -> RateDistortion:
    """``rd`` with the float16 and int8 SVD points pooled as one codec "svd" (the better precision wins)."""
    points = tuple(replace(p, codec="svd") if p.codec.startswith("svd-") else p for p in rd.points)
    return replace(rd, points=points)


def _verdict(comparison: CurveComparison | None) -> str:
    """'loses at every size both reach (0.25–2.8 bits/pixel)', 'wins at 0.3–1 bits/pixel', ..."""
    if comparison is None:
        return "cannot be compared (no common range of sizes)"
    span = f"{comparison.low_bpp:.2g}–{comparison.high_bpp:.2g} bits/pixel"
    if not comparison.wins:
        return f"loses at every size both reach ({span})"
    if comparison.share > 0.999:
        return f"wins at every size both reach ({span})"
    return f"wins only at {_ranges(comparison)} and loses on the rest of {span}"


def _gap(comparison: CurveComparison | None) -> str:
    """'9.2 dB lower' / '1.3 dB higher': the mean PSNR difference over the common range."""
    if comparison is None:
        return "not comparable"
    return f"{abs(comparison.mean_gap):.1f} dB {'lower' if comparison.mean_gap < 0 else 'higher'}"


def _tile_sentences(pooled: RateDistortion, name: str) -> list[str]:
    """Where the tile SVD ``name`` stands against JPEG and against the global SVD, in plain words."""
    label = _codec_style(name)[0].removeprefix("tile SVD, ")
    sentences = []
    if "jpeg" in pooled.codecs:
        against_jpeg = compare_curves(pooled, name, "jpeg", metric="psnr")
        global_gap = compare_curves(pooled, "svd", "jpeg", metric="psnr") if "svd" in pooled.codecs else None
        sentence = (f"Against JPEG, the tile SVD ({label}) {_verdict(against_jpeg)}: its PSNR is "
                    f"{_gap(against_jpeg)} on average")
        if global_gap is not None:
            sentence += f", where the global SVD's is {_gap(global_gap)}"
        sentences.append(sentence + ".")
    if "svd" in pooled.codecs:
        against_global = compare_curves(pooled, name, "svd", metric="psnr")
        sentences.append(f"Against the global SVD, the tile SVD {_verdict(against_global)}: its PSNR is "
                         f"{_gap(against_global)} on average.")
    return sentences


def rate_distortion_summary(rd: RateDistortion) -> list[str]:
    """Plain sentences: where the SVD beats JPEG and downsampling on this image, and where it loses; then,
    when ``rd`` holds a tile SVD curve ("tiles-S"), where the tile SVD stands against JPEG and the global SVD.

    The SVD is taken at its best (float16 or int8 factors, whichever is higher at a size); each comparison
    is made on the bits-per-pixel range both curves cover (upper envelopes, interpolated on a log scale).
    """
    pooled = _best_svd(rd)
    sentences = []
    for other in ("jpeg", "downsample-png", "downsample-raw"):
        if other not in rd.codecs:
            continue
        label = CODEC_STYLES[other][0].split(" (")[0]
        by_metric = {metric: _verdict(compare_curves(pooled, "svd", other, metric=metric))
                     for metric in ("psnr", "ssim")}
        if by_metric["psnr"] == by_metric["ssim"]:
            sentences.append(f"Against {label}, the SVD {by_metric['psnr']}, on PSNR and on SSIM.")
        else:
            sentences.append(f"Against {label}, the SVD {by_metric['psnr']} on PSNR; on SSIM it "
                             f"{by_metric['ssim']}.")
    for name in rd.codecs:
        if name.startswith("tiles-"):
            sentences += _tile_sentences(pooled, name)
    return sentences


def swipe_html(before: bytes, after: bytes, *, width: int, height: int, before_label: str = "original",
               after_label: str = "reconstruction", mime: str = "image/jpeg") -> str:
    """A self-contained before/after comparison: two stacked images and a range input that clips the top one.

    Both images are inlined as data URLs; the only script is the input's handler (no external JS). The
    labels must be our own text (they are inserted as HTML).
    """
    top = base64.b64encode(before).decode("ascii")
    bottom = base64.b64encode(after).decode("ascii")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><style>
  body {{ margin: 0; font-family: sans-serif; }}
  .frame {{ position: relative; width: 100%; max-width: {width}px; aspect-ratio: {width} / {height}; }}
  .frame img {{ position: absolute; inset: 0; width: 100%; height: 100%; display: block; }}
  #top {{ clip-path: inset(0 50% 0 0); }}
  #line {{ position: absolute; top: 0; bottom: 0; left: 50%; width: 2px; background: #fff;
          box-shadow: 0 0 3px #000; pointer-events: none; }}
  .tag {{ position: absolute; top: 6px; padding: 2px 6px; background: rgba(0,0,0,.6); color: #fff;
         font-size: 14px; border-radius: 3px; }}
  input {{ width: 100%; max-width: {width}px; margin: 8px 0 0 0; }}
</style></head><body>
<div class="frame">
  <img id="bottom" alt="{after_label}" src="data:{mime};base64,{bottom}">
  <img id="top" alt="{before_label}" src="data:{mime};base64,{top}">
  <div id="line"></div>
  <span class="tag" style="left: 6px">{before_label}</span>
  <span class="tag" style="right: 6px">{after_label}</span>
</div>
<input id="swipe" type="range" min="0" max="100" value="50" step="0.5" aria-label="swipe position">
<script>
  const swipe = document.getElementById("swipe");
  const topImage = document.getElementById("top");
  const line = document.getElementById("line");
  swipe.addEventListener("input", () => {{
    topImage.style.clipPath = "inset(0 " + (100 - swipe.value) + "% 0 0)";
    line.style.left = swipe.value + "%";
  }});
</script>
</body></html>"""


def image_sweep_frames(codec, settings: Sequence[tuple[int, ...]], *, dtype: str = "float32",
                       on_frame: Callable[[int, int], None] | None = None) -> list:
    """The frames of an image's rank sweep: the reconstruction and the (first group's) spectrum per setting.

    Parameters
    ----------
    codec : lowrank_core.image.ImageCodec
    settings : sequence of rank settings (one int per channel group), at most ``MAX_SWEEP_FRAMES``
    dtype : the precision the factors are read back at (as the page shows them)
    """
    if len(settings) > MAX_SWEEP_FRAMES:
        raise ValueError(f"a sweep has at most {MAX_SWEEP_FRAMES} frames; got {len(settings)}")
    room = frame_picture_room()
    size = codec_core.shown_size(codec.height, codec.width, room, sharp_side=room)  # small: square pixels

    def picture_at(ranks):
        picture = codec_core.to_pil(codec.reconstruct(ranks, dtype=dtype, size=size))
        label = "rank " + "/".join(str(int(r)) for r in ranks) + f" of {codec.max_rank}"
        return picture, label, int(ranks[0])

    S = codec.factorization.S.double().cpu().numpy()  # (C, k)
    return render_frames(list(settings), picture_at, S[0], log=True, on_frame=on_frame)


def tile_rank_figure(ranks: np.ndarray, tile_bytes: np.ndarray, *, tile_side: int, height: int, width: int,
                     channel: str, picture: bytes | None = None, picture_size: tuple[int, int] | None = None,
                     chart_height: int = 560) -> go.Figure:
    """Each tile's rank as a heatmap laid over the picture: where the bytes went.

    A tile at rank 0 (its mean only) is left uncoloured, so the picture shows through where no factor was
    stored; a tile stored raw is one colour step above the largest rank used.

    Parameters
    ----------
    ranks : array of shape (R, K), int
        One channel's ranks per tile (``RAW_RANK`` for a tile stored as raw pixels).
    tile_bytes : array of shape (R, K), int
        What each of those tiles takes in the file.
    tile_side, height, width : int
        s, and the image's H and W (the last row and column of tiles are cut short by its edges).
    channel : str
        The channel's name, for the title and the hover.
    picture : bytes, optional
        A JPEG of the image, drawn under the heatmap, of ``picture_size`` = (h, w) pixels.
    """
    ranks = np.asarray(ranks, dtype=np.int64)
    is_raw = ranks == RAW_RANK
    top = max(1, int(ranks.max(initial=0)))  # the largest rank used (colour scale: 1 .. top, raw above)
    raw_level = top + 1
    z = np.where(is_raw, raw_level, ranks).astype(float)  # (R, K)
    z[ranks == 0] = np.nan  # mean only: uncoloured
    rows, cols = ranks.shape
    x_edges = np.minimum(np.arange(cols + 1) * tile_side, width)  # (K + 1,): tiles as cells, in pixels
    y_edges = np.minimum(np.arange(rows + 1) * tile_side, height)  # (R + 1,)
    label = np.where(is_raw, "raw", np.where(ranks == 0, "0 (mean only)", ranks.astype(str)))
    row_index, col_index = np.indices(ranks.shape)
    customdata = np.stack([row_index, col_index, np.asarray(tile_bytes)], axis=-1)  # (R, K, 3)
    data = []
    if picture is not None and picture_size is not None:
        dy, dx = height / picture_size[0], width / picture_size[1]
        source = "data:image/jpeg;base64," + base64.b64encode(picture).decode("ascii")
        data.append({"type": "image", "source": source, "x0": dx / 2, "y0": dy / 2, "dx": dx, "dy": dy,
                     "hoverinfo": "skip"})
    ticks = sorted({int(t) for t in np.linspace(1, top, num=min(top, 5))})
    labels = [str(t) for t in ticks]
    if is_raw.any():
        ticks, labels = [*ticks, raw_level], [*labels, "raw"]
    data.append({
        "type": "heatmap", "x": x_edges, "y": y_edges, "z": z, "zmin": 1, "zmax": ticks[-1],
        "colorscale": SEQUENTIAL, "opacity": 0.6 if picture is not None else 1.0, "text": label,
        "customdata": customdata, "name": f"ranks of {channel}", "hoverongaps": True,
        "colorbar": {"title": {"text": "rank"}, "tickvals": ticks, "ticktext": labels},
        "hovertemplate": (f"{channel}, tile row %{{customdata[0]}}, column %{{customdata[1]}}<br>rank "
                          "%{text}, %{customdata[2]:,} bytes<extra></extra>"),
    })
    layout = {"height": chart_height, "font": FONT, "margin": {**MARGIN, "t": 64},  # a two-line title
              "title": {"text": f"Rank of each {tile_side}×{tile_side} tile of {channel}<br>"
                                "<sup>uncoloured: its mean only</sup>"},
              "xaxis": {"range": [0, width], "showgrid": False, "constrain": "domain"},
              "yaxis": {"range": [height, 0], "showgrid": False, "scaleanchor": "x", "constrain": "domain"}}
    return go.Figure({"data": data, "layout": layout})


def tile_histogram_figure(histogram: Sequence[int], raw_tiles: int, *, height: int = 380) -> go.Figure:
    """Tiles (all channels) at each rank 0 .. s, and those stored raw, as bars."""
    labels = [str(r) for r in range(len(histogram))] + ["raw"]
    counts = [int(n) for n in histogram] + [int(raw_tiles)]
    data = [{"type": "bar", "x": labels, "y": counts, "marker": {"color": KEPT_COLOUR}, "name": "tiles",
             "hovertemplate": "rank %{x}: %{y:,} tiles<extra></extra>"}]
    layout = {"height": height, "font": FONT, "margin": {**MARGIN, "t": 64}, "showlegend": False,
              "title": {"text": "Tiles at each rank<br><sup>all channels</sup>"},
              "xaxis": {"title": {"text": "rank (0: mean only)"}, "type": "category"},
              "yaxis": {"title": {"text": "tiles"}}}
    return go.Figure({"data": data, "layout": layout})
