"""The presenter's live histograms: votes per rank against the energy curve, votes per answer against the
right one. Pure builders (no Streamlit): counts in, ``plotly.graph_objects.Figure`` out.

Voters' typed answers become bar labels: they are HTML-escaped first, because plotly renders a few tags
(``<b>``, ``<a href>``, ``<br>``) in labels; nothing a voter types is markup.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go

from ui.style import DROPPED_COLOUR, FONT, KEPT_COLOUR, MARGIN, MARK_COLOUR, THRESHOLD_COLOUR

__all__ = ["rank_votes_figure", "answer_votes_figure"]


def rank_votes_figure(counts: Mapping[str, int], *, high: int, energy: np.ndarray | None = None,
                      height: int = 420) -> go.Figure:
    """Votes per rank (bars, left axis) with the energy kept against rank (line, right axis, in %).

    Parameters
    ----------
    counts : mapping rank (as text) -> votes
    high : int
        The largest rank the poll takes (the x axis ends there).
    energy : array of shape (k + 1,), optional
        The share of energy kept at ranks 0..k (``Factorization.energy()``, channels averaged).
    """
    ranks = [int(rank) for rank in counts]
    votes = [int(counts[rank]) for rank in counts]
    data = [{"type": "bar", "x": ranks, "y": votes, "name": "votes", "marker": {"color": KEPT_COLOUR},
             "hovertemplate": "rank %{x}: %{y} vote(s)<extra></extra>"}]
    layout = {"height": height, "font": FONT, "margin": {**MARGIN, "r": 70}, "bargap": 0.1,
              "legend": {"orientation": "h", "y": 1.12}, "title": {"text": "At which rank does it look good "
                                                                       "enough?"},
              "xaxis": {"title": {"text": "rank r"}, "range": [0, high + 1]},
              "yaxis": {"title": {"text": "votes"}, "rangemode": "tozero", "dtick": 1 if max(votes, default=0)
                        <= 10 else None}}
    if ranks:
        middle = float(np.median(np.repeat(ranks, votes)))
        data.append({"type": "scatter", "x": [middle, middle], "y": [0, max(votes)], "mode": "lines",
                     "name": f"median {middle:g}", "line": {"color": MARK_COLOUR, "width": 3, "dash": "dash"},
                     "hoverinfo": "skip"})
    if energy is not None:
        energy = np.asarray(energy, dtype=np.float64)[: high + 1] * 100
        data.append({"type": "scatter", "x": np.arange(energy.shape[0]), "y": energy, "mode": "lines",
                     "name": "energy kept (%)", "yaxis": "y2",
                     "line": {"color": THRESHOLD_COLOUR, "width": 2},
                     "hovertemplate": "rank %{x}: %{y:.2f} % of the energy<extra></extra>"})
        layout["yaxis2"] = {"title": {"text": "energy kept (%)"}, "overlaying": "y", "side": "right",
                            "range": [max(0.0, float(np.nanmin(energy[1:], initial=100.0)) - 1), 100.5],
                            "showgrid": False}
    return go.Figure({"data": data, "layout": layout})


def answer_votes_figure(counts: Mapping[str, int], *, answer: str | None = None,
                        height: int = 420) -> go.Figure:
    """Votes per answer as horizontal bars, the offered answers first; ``answer`` (once revealed) in green.

    Labels are escaped: a typed answer shows as the text it is.
    """
    labels = list(counts)
    shown = [html.escape(label, quote=False) for label in labels]
    colours = [THRESHOLD_COLOUR if answer is not None and label == answer else
               (KEPT_COLOUR if answer is None else DROPPED_COLOUR) for label in labels]
    data = [{"type": "bar", "orientation": "h", "y": shown[::-1], "x": [counts[k] for k in labels][::-1],
             "marker": {"color": colours[::-1]}, "name": "votes",
             "hovertemplate": "%{y}: %{x} vote(s)<extra></extra>"}]
    title = "What is it?" + (f" It was: {html.escape(answer, quote=False)}" if answer else "")
    layout = {"height": height, "font": FONT, "margin": {**MARGIN, "l": 20}, "showlegend": False,
              "title": {"text": title},
              "xaxis": {"title": {"text": "votes"}, "rangemode": "tozero",
                        "dtick": 1 if max(counts.values(), default=0) <= 10 else None},
              "yaxis": {"automargin": True, "type": "category"}}
    return go.Figure({"data": data, "layout": layout})
