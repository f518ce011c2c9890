"""Plotly charts more than one page draws: the energy kept against rank and the outputs z against z_r.

Pure builders: numpy data in, ``plotly.graph_objects.Figure`` out (no Streamlit, no torch). Figures are
built from one dict each (a single validation pass): building them with ``make_subplots`` and ``update_*``
calls cost ten times more, which matters on every slider move.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ui.limits import MAX_SCATTER_POINTS
from ui.sampling import evenly_spaced
from ui.style import CHANNEL_COLOURS, FONT, KEPT_COLOUR, LEGEND_BELOW, MARGIN, MARK_COLOUR, NUMBER_FORMAT

__all__ = ["chosen_marker", "energy_figure", "outputs_scatter"]


def chosen_marker(rank: int, value: float, template: str) -> dict:
    """The marker of the chosen rank on a curve."""
    return {"type": "scatter", "x": [rank], "y": [value], "mode": "markers", "name": f"chosen rank {rank}",
            "marker": {"size": 14, "color": MARK_COLOUR, "symbol": "diamond"}, "hovertemplate": template}


def _channel_curves(energy: np.ndarray, names: Sequence[str], ranks: Sequence[int]) -> list[dict]:
    """One line per channel with its rank marked (the image page's channels)."""
    ranks_axis = np.arange(energy.shape[1])
    data = []
    for values, name, rank in zip(energy, names, ranks, strict=True):
        colour = CHANNEL_COLOURS.get(name, "#444444")
        data.append({"type": "scatter", "x": ranks_axis, "y": values, "mode": "lines", "name": name,
                     "line": {"color": colour, "width": 2},
                     "hovertemplate": f"{name}: rank %{{x}} keeps %{{y:.3f}} %<extra></extra>"})
        data.append({"type": "scatter", "x": [rank], "y": [values[rank]], "mode": "markers",
                     "showlegend": False, "name": f"{name} at rank {rank}",
                     "marker": {"size": 11, "color": colour, "symbol": "diamond",
                                "line": {"color": "white", "width": 1}},
                     "hovertemplate": f"{name}: rank %{{x}} keeps %{{y:.3f}} %<extra></extra>"})
    return data


def energy_figure(energy: np.ndarray, *, rank: int | Sequence[int], names: Sequence[str] | None = None,
                  targets: Sequence[float] = (0.9, 0.99, 0.999), title: str | None = None,
                  height: int = 360) -> go.Figure:
    """Cumulative share of ‖x‖_F² kept against rank 0..k, with the chosen rank marked.

    Parameters
    ----------
    energy : array of shape (k + 1,) or (C, k + 1)
        ``Factorization.energy()``: energy[..., r] is the share kept at rank r.
    rank : int, or one int per channel (C,)
    names : C channel names, optional
        With names, one line per channel ("R", "Y", ...) with its own marker; without, one curve named
        "energy kept", dotted lines at ``targets`` and the "chosen rank r" marker.
    """
    energy = np.asarray(energy, dtype=np.float64) * 100
    layout = {"height": height, "font": FONT, "legend": LEGEND_BELOW, "margin": MARGIN,
              "xaxis": {"title": {"text": "rank r"}}, "yaxis": {"title": {"text": "energy kept (%)"}}}
    if title:
        layout["title"] = {"text": title}
    if names is not None:
        curves = np.atleast_2d(energy)
        data = _channel_curves(curves, names, rank)
        low = float(np.nanmin(curves[:, 1:])) if curves.shape[1] > 1 else 0.0
        layout["yaxis"]["range"] = [max(0.0, low - 1), 100.5]
        return go.Figure({"data": data, "layout": layout})
    ranks = np.arange(energy.shape[0])
    data = [{"type": "scatter", "x": ranks, "y": energy, "mode": "lines+markers", "name": "energy kept",
             "line": {"color": KEPT_COLOUR}, "marker": {"size": 4},
             "hovertemplate": "rank %{x}: %{y:.4f} %<extra></extra>"}]
    for target in targets:
        data.append({"type": "scatter", "x": [0, ranks[-1]], "y": [target * 100] * 2, "mode": "lines",
                     "name": f"{target:.1%}", "showlegend": False,
                     "hovertemplate": f"{target:.1%}<extra></extra>",
                     "line": {"color": "#999999", "dash": "dot", "width": 1}})
    data.append(chosen_marker(int(rank), energy[int(rank)], "rank %{x}: %{y:.4f} %<extra></extra>"))
    return go.Figure({"data": data, "layout": layout})


def outputs_scatter(z: np.ndarray, z_low_rank: np.ndarray, *, rank: int, height: int = 380,
                    x_title: str = "z = W @ x + bias", y_title: str = "z_lr = W_lr @ x + bias",
                    title: str | None = None) -> go.Figure:
    """The layer's outputs z against the low-rank layer's z_lr, with the diagonal z = z_lr for reference.

    At most ``MAX_SCATTER_POINTS`` entries are drawn (evenly spaced); the axes share one scale.
    """
    z = np.asarray(z, dtype=np.float64).ravel()
    z_low_rank = np.asarray(z_low_rank, dtype=np.float64).ravel()
    both = np.concatenate([z, z_low_rank])
    low, high = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
    pad = 0.05 * (high - low or 1.0)
    index = evenly_spaced(z.shape[0], MAX_SCATTER_POINTS)
    many = index.size > 200
    data = [
        {"type": "scatter", "x": [low - pad, high + pad], "y": [low - pad, high + pad], "mode": "lines",
         "name": "z_lr = z", "line": {"color": "#999999", "dash": "dot"}, "hoverinfo": "skip"},
        {"type": "scatter", "x": z[index], "y": z_low_rank[index], "mode": "markers",
         "name": f"outputs at rank {rank}", "customdata": index,
         "marker": {"size": 5 if many else 10, "color": KEPT_COLOUR, "opacity": 0.55 if many else 1.0},
         "hovertemplate": "z[%{customdata}] = %{x:.5g}<br>z_lr = %{y:.5g}<extra></extra>"},
    ]
    span = [low - pad, high + pad]  # both axes show the data's range, one unit as long on each
    layout = {"height": height, "font": FONT, "legend": LEGEND_BELOW, "margin": MARGIN,
              "xaxis": {"title": {"text": x_title}, "range": span, "constrain": "domain", **NUMBER_FORMAT},
              "yaxis": {"title": {"text": y_title}, "range": span, "scaleanchor": "x", "constrain": "domain",
                        **NUMBER_FORMAT}}
    if title:
        layout["title"] = {"text": title}
        layout["margin"] = {**MARGIN, "t": 50}
    return go.Figure({"data": data, "layout": layout})
