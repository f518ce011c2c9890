"""Pure figure builders of the matrix explorer and the tour: numpy data in, plotly Figure (or a Pillow sweep
frame) out; no Streamlit, no torch beyond the factorization a sweep reads.

Every function takes plain arrays and numbers (already computed by ``lowrank_core``) and only draws them,
so each figure can be tested by reading its traces back. Figures are built from one dict each (a single
validation pass), as in ``ui.charts``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from ui.charts import chosen_marker
from ui.limits import MAX_FRAME_SIDE, MAX_HEATMAP_SIDE, MAX_SWEEP_FRAMES
from ui.sampling import evenly_spaced
from ui.stills import heatmap_image
from ui.style import (
    DIVERGING,
    DROPPED_COLOUR,
    FONT,
    KEPT_COLOUR,
    LEGEND_BELOW,
    LINEAR_AXIS,
    LOG_AXIS,
    MARGIN,
    MARK_COLOUR,
    NUMBER_FORMAT,
    SEQUENTIAL,
    THRESHOLD_COLOUR,
    TOLERANCE_COLOUR,
)
from ui.sweep import render_frames
from ui.text import format_relative

__all__ = [
    "display_indices",
    "symmetric_limit",
    "heatmap_panels",
    "matrix_heatmap",
    "spectrum_figure",
    "error_figure",
    "matrix_sweep_frames",
]


def display_indices(size: int, limit: int = MAX_HEATMAP_SIDE) -> np.ndarray:
    """Evenly spaced row (or column) indices, at most ``limit`` of them, first and last included.

    Returns ``arange(size)`` when ``size <= limit``: a heatmap then shows every entry.
    """
    return evenly_spaced(size, limit)


def symmetric_limit(*arrays: np.ndarray) -> float:
    """The largest |value| over all arrays: the colour scale runs from -limit to +limit (1.0 if all zero)."""
    limit = max((float(np.abs(a).max()) for a in arrays if np.size(a)), default=0.0)
    return limit if limit > 0 and np.isfinite(limit) else 1.0


def _floats(values) -> np.ndarray:
    """A float array; float32 stays float32 (half the bytes sent to the browser), anything else float64."""
    values = np.asarray(values)
    return values if values.dtype in (np.float32, np.float64) else values.astype(np.float64)


def _index_ticks(indices: np.ndarray) -> dict:
    """Axis settings that put ticks on whole indices when only a few are shown (no ticks at 0.5)."""
    span = int(indices[-1] - indices[0]) if len(indices) else 0
    return {"tickmode": "linear", "tick0": 0, "dtick": 1, **NUMBER_FORMAT} if span < 10 else NUMBER_FORMAT


def _hover(name: str) -> str:
    """Hover text of a heatmap cell: the matrix, its real row and column (0-based), and the value."""
    return f"{name}<br>row %{{y}}, col %{{x}}<br>value %{{z:.4g}}<extra></extra>"


def heatmap_panels(
    panels: Sequence[tuple[str, np.ndarray]],
    *,
    rows: np.ndarray | None = None,
    cols: np.ndarray | None = None,
    limit: float | None = None,
    height: int = 420,
) -> go.Figure:
    """Side-by-side heatmaps on ONE symmetric diverging colour scale (zmid 0, same zmin/zmax, one colour bar).

    Parameters
    ----------
    panels : sequence of (title, array of shape (p, q))
        E.g. ("W", W), ("W_r", W_r), ("W − W_r", residual), all the same shape.
    rows, cols : int arrays of shape (p,), (q,), optional
        The original indices of the shown rows and columns (after ``display_indices``); default 0..p-1.
    limit : float, optional
        Half-width of the colour scale; default the largest |value| over all panels.
    """
    if not panels:
        raise ValueError("heatmap_panels needs at least one panel")
    shape = np.shape(panels[0][1])
    rows = np.arange(shape[0]) if rows is None else np.asarray(rows)
    cols = np.arange(shape[1]) if cols is None else np.asarray(cols)
    limit = symmetric_limit(*(values for _, values in panels)) if limit is None else float(limit)
    count, gap = len(panels), 0.04
    width = (1 - gap * (count - 1)) / count
    data, layout, titles = [], {}, []
    for i, (title, values) in enumerate(panels):
        suffix = "" if i == 0 else str(i + 1)
        left = i * (width + gap)
        data.append({
            "type": "heatmap", "z": _floats(values), "x": cols, "y": rows, "name": title,
            "xaxis": f"x{suffix}", "yaxis": f"y{suffix}", "coloraxis": "coloraxis",
            "zmin": -limit, "zmax": limit, "zmid": 0.0, "hovertemplate": _hover(title),
        })
        layout[f"xaxis{suffix}"] = {"domain": [left, left + width], "anchor": f"y{suffix}",
                                    "title": {"text": "column"}, **_index_ticks(cols)}
        layout[f"yaxis{suffix}"] = {"anchor": f"x{suffix}", "autorange": "reversed", **_index_ticks(rows),
                                    "title": {"text": "row" if i == 0 else ""}, "showticklabels": i == 0}
        if i > 0:  # the panels share rows and columns: zooming one zooms all
            layout[f"xaxis{suffix}"]["matches"] = "x"
            layout[f"yaxis{suffix}"]["matches"] = "y"
        titles.append({"text": title, "x": left + width / 2, "y": 1.0, "xref": "paper", "yref": "paper",
                       "xanchor": "center", "yanchor": "bottom", "showarrow": False})
    layout.update(
        coloraxis={"colorscale": DIVERGING, "cmin": -limit, "cmax": limit, "cmid": 0.0,
                   "colorbar": {"title": {"text": "value"}, **NUMBER_FORMAT}},
        annotations=titles, height=height, margin=MARGIN, font=FONT,
    )
    return go.Figure({"data": data, "layout": layout})


def matrix_heatmap(
    values: np.ndarray,
    *,
    title: str,
    rows: np.ndarray | None = None,
    cols: np.ndarray | None = None,
    symmetric: bool = True,
    height: int = 380,
) -> go.Figure:
    """One matrix as a heatmap: diverging and centred on 0 when ``symmetric``, else a sequential scale."""
    values = _floats(values)
    rows = np.arange(values.shape[0]) if rows is None else np.asarray(rows)
    cols = np.arange(values.shape[1]) if cols is None else np.asarray(cols)
    trace = {"type": "heatmap", "z": values, "x": cols, "y": rows, "name": title,
             "hovertemplate": _hover(title), "colorbar": NUMBER_FORMAT}
    if symmetric:
        limit = symmetric_limit(values)
        trace.update(colorscale=DIVERGING, zmin=-limit, zmax=limit, zmid=0.0)
    else:
        trace.update(colorscale=SEQUENTIAL)
    layout = {"title": {"text": title}, "height": height, "margin": {**MARGIN, "t": 50}, "font": FONT,
              "xaxis": {"title": {"text": "column"}, **_index_ticks(cols)},
              "yaxis": {"title": {"text": "row"}, "autorange": "reversed", **_index_ticks(rows)}}
    return go.Figure({"data": [trace], "layout": layout})


def _horizontal_line(y: float, x_end: float, name: str, colour: str, dash: str) -> dict:
    """A horizontal line drawn as a trace (so it is right on log axes and appears in the legend)."""
    return {"type": "scatter", "x": [0.5, x_end + 0.5], "y": [y, y], "mode": "lines", "name": name,
            "line": {"color": colour, "dash": dash, "width": 2},
            "hovertemplate": f"{name}: %{{y:.3g}}<extra></extra>"}


def spectrum_figure(
    S: np.ndarray,
    *,
    rank: int,
    tolerance: float | None = None,
    threshold: float | None = None,
    energy_ranks: Mapping[str, int] | None = None,
    log: bool = True,
    height: int = 400,
) -> go.Figure:
    """The singular values σ₁ ≥ σ₂ ≥ … as bars: the first ``rank`` kept (blue), the rest dropped (grey).

    Parameters
    ----------
    S : array of shape (k,), descending
    rank : int
        Number of kept values, 0..k.
    tolerance : float, optional
        The numerical-rank tolerance, drawn as a dotted line.
    threshold : float, optional
        The optimal hard threshold τ, drawn as a dashed line.
    energy_ranks : mapping label -> rank, optional
        E.g. {"90 %": 3, "99 %": 7}: a marker on the bar σ_r that reaches that share of the energy; targets
        reached at the same rank share one marker ("90 % · 99 %").
    log : bool
        Logarithmic y axis (zeros are not drawn there).
    """
    S = np.asarray(S, dtype=np.float64)
    k = S.shape[0]
    if not 0 <= rank <= k:
        raise ValueError(f"rank must be in 0..{k}; got {rank}")
    index = np.arange(1, k + 1)
    data = [
        {"type": "bar", "x": index[:rank], "y": S[:rank], "name": f"kept ({rank})",
         "marker": {"color": KEPT_COLOUR},
         "hovertemplate": "σ<sub>%{x}</sub> = %{y:.4g} (kept)<extra></extra>"},
        {"type": "bar", "x": index[rank:], "y": S[rank:], "name": f"dropped ({k - rank})",
         "marker": {"color": DROPPED_COLOUR},
         "hovertemplate": "σ<sub>%{x}</sub> = %{y:.4g} (dropped)<extra></extra>"},
    ]
    if tolerance is not None:
        data.append(_horizontal_line(tolerance, k, "numerical tolerance", TOLERANCE_COLOUR, "dot"))
    if threshold is not None:
        data.append(_horizontal_line(threshold, k, "optimal hard threshold", THRESHOLD_COLOUR, "dash"))
    grouped: dict[int, list[str]] = {}  # targets reached at the same rank share one marker
    for label, r in (energy_ranks or {}).items():
        if 1 <= r <= k:
            grouped.setdefault(int(r), []).append(label)
    marks = [(" · ".join(labels), r) for r, labels in sorted(grouped.items())]
    if marks:
        data.append({
            "type": "scatter", "x": [r for _, r in marks], "y": [S[r - 1] for _, r in marks],
            "text": [label for label, _ in marks], "mode": "markers+text", "textposition": "top center",
            "name": "energy targets", "marker": {"symbol": "triangle-down", "size": 12, "color": MARK_COLOUR},
            "cliponaxis": False,
            "hovertemplate": "%{text} of the energy at rank %{x}<extra></extra>",
        })
    layout = {"barmode": "overlay", "bargap": 0.1, "height": height, "font": FONT, "legend": LEGEND_BELOW,
              "margin": MARGIN, "xaxis": {"title": {"text": "index i"}, **NUMBER_FORMAT},
              "yaxis": {"title": {"text": "σᵢ"}, **(LOG_AXIS if log else LINEAR_AXIS)}}
    return go.Figure({"data": data, "layout": layout})


def error_figure(
    predicted: np.ndarray,
    measured_ranks: np.ndarray,
    measured: np.ndarray,
    *,
    rank: int,
    log: bool = False,
    height: int = 360,
) -> go.Figure:
    """Relative Frobenius error against rank: the Eckart–Young curve (line) and measurements (dots).

    Parameters
    ----------
    predicted : array of shape (k + 1,)
        Predicted relative error at ranks 0..k (``predicted_error_curve(..., relative=True)``).
    measured_ranks, measured : arrays of the same length
        Ranks at which the error was measured on a reconstruction, and the relative errors found.
    rank : int
        The chosen rank, marked on the curve.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    data = [
        {"type": "scatter", "x": np.arange(predicted.shape[0]), "y": predicted, "mode": "lines",
         "name": "Eckart–Young prediction", "line": {"color": KEPT_COLOUR},
         "hovertemplate": "rank %{x}: %{y:.3e} (predicted)<extra></extra>"},
        {"type": "scatter", "x": np.asarray(measured_ranks), "y": np.asarray(measured, dtype=np.float64),
         "mode": "markers", "name": "measured",
         "hovertemplate": "rank %{x}: %{y:.3e} (measured)<extra></extra>",
         "marker": {"size": 9, "color": TOLERANCE_COLOUR, "symbol": "circle-open", "line": {"width": 2}}},
        chosen_marker(rank, predicted[rank], "rank %{x}: %{y:.3e}<extra></extra>"),
    ]
    layout = {"height": height, "font": FONT, "legend": LEGEND_BELOW, "margin": MARGIN,
              "xaxis": {"title": {"text": "rank r"}, **NUMBER_FORMAT},
              "yaxis": {"title": {"text": "‖W − W_r‖_F / ‖W‖_F"},
                        **(LOG_AXIS if log else LINEAR_AXIS)}}
    return go.Figure({"data": data, "layout": layout})


def matrix_sweep_frames(factorization, rows: np.ndarray, cols: np.ndarray, ranks: Sequence[int], *,
                        limit: float, log: bool = True, relative_errors: Sequence[float] | None = None,
                        on_frame: Callable[[int, int], None] | None = None) -> list:
    """The frames of a matrix's rank sweep: W_r (shown rows and columns) and the spectrum, one per rank.

    Parameters
    ----------
    factorization : lowrank_core.Factorization of an (m, n) matrix
    rows, cols : int arrays
        The rows and columns shown (``display_indices``).
    ranks : sequence of int
        At most ``MAX_SWEEP_FRAMES`` ranks (``ui.sweep.sweep_ranks``).
    limit : float
        Half-width of the colour scale (the page's: max |W| over the shown entries).
    relative_errors : sequence of float, optional
        ‖W − W_r‖_F / ‖W‖_F indexed by rank, written on each frame.
    on_frame : callable(done, total), optional
        Called after each frame (a progress bar).
    """
    if len(ranks) > MAX_SWEEP_FRAMES:
        raise ValueError(f"a sweep has at most {MAX_SWEEP_FRAMES} frames; got {len(ranks)}")

    def picture_at(r):
        shown = factorization.entries(int(r), rows, cols).double().cpu().numpy()  # (p, q)
        label = f"rank r = {int(r)} of {factorization.max_rank}"
        if relative_errors is not None:
            label += f"   relative error {format_relative(float(relative_errors[int(r)]))}"
        return heatmap_image(shown, limit=limit, max_side=MAX_FRAME_SIDE), label, int(r)

    S = factorization.S.double().cpu().numpy()
    return render_frames(list(ranks), picture_at, S, log=log, on_frame=on_frame)
