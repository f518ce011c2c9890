"""Pure figure builders for the Layers and LoRA page: numpy arrays and numbers in, plotly figures out.

No Streamlit and no torch here: each function only draws what ``lowrank_core`` computed, so a test can
read the traces back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = [
    "MAX_SCATTER_POINTS",
    "scatter_indices",
    "outputs_scatter",
    "bound_scatter",
    "accuracy_vs_rank",
    "accuracy_vs_parameters",
    "spectra_figure",
    "delta_spectra_figure",
    "lora_figure",
    "timing_figure",
]

MAX_SCATTER_POINTS = 4000  # a scatter of z against z_r shows at most this many entries
FONT_SIZE = 15
DENSE_COLOUR = "#555555"
ALL_COLOUR = "#d62728"
PALETTE = ("#1f5fbf", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
BOUND_COLOUR = "#d62728"
SPECTRUM_DECADES = 4  # the ΔW spectra show this many powers of ten below their largest value


def _layout(fig: go.Figure, *, title: str, height: int = 440) -> go.Figure:
    """Shared look: title on top, readable font, white background, legend under the plot."""
    fig.update_layout(title={"text": title, "font": {"size": FONT_SIZE + 1}}, height=height,
                      font={"size": FONT_SIZE - 1}, template="plotly_white",
                      margin={"l": 60, "r": 20, "t": 50, "b": 20},
                      legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0})
    return fig


def scatter_indices(count: int, limit: int = MAX_SCATTER_POINTS) -> np.ndarray:
    """Evenly spaced indices into ``count`` entries, at most ``limit`` (all of them when count <= limit)."""
    if count <= limit:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, limit).round().astype(np.int64))


def outputs_scatter(z: np.ndarray, z_r: np.ndarray, *, rank: int) -> go.Figure:
    """Each output entry of the dense layer (x) against the rank-r layer (y), with the line y = x.

    z and z_r have the same shape (batch, out); at most ``MAX_SCATTER_POINTS`` entries are drawn.
    """
    z, z_r = np.asarray(z, dtype=np.float64).ravel(), np.asarray(z_r, dtype=np.float64).ravel()
    index = scatter_indices(z.size)
    low = float(min(z.min(), z_r.min())) if z.size else 0.0
    high = float(max(z.max(), z_r.max())) if z.size else 1.0
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[low, high], y=[low, high], mode="lines", name="y = x (no error)",
                             line={"color": DENSE_COLOUR, "dash": "dash"}))
    fig.add_trace(go.Scatter(x=z[index], y=z_r[index], mode="markers", name=f"outputs (rank {rank})",
                             marker={"size": 5, "opacity": 0.55, "color": PALETTE[0]}))
    fig.update_xaxes(title="z = Wx + b (dense)")
    fig.update_yaxes(title=f"zᵣ = Wᵣx + b (rank {rank})")
    shown = f"{index.size} of {z.size} entries" if index.size < z.size else f"{z.size} entries"
    return _layout(fig, title=f"Dense against rank-{rank} outputs ({shown})")


def bound_scatter(bound_norms: np.ndarray, error_norms: np.ndarray, *, rank: int) -> go.Figure:
    """Per input: the bound σ_{r+1}‖x‖ (x) against the measured ‖(W − W_r)x‖ (y); all points lie below
    the line y = x."""
    bound_norms = np.asarray(bound_norms, dtype=np.float64)
    error_norms = np.asarray(error_norms, dtype=np.float64)
    high = float(max(bound_norms.max(initial=0.0), error_norms.max(initial=0.0), 1e-12))
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, high], y=[0, high], mode="lines", name="bound reached (y = x)",
                             line={"color": BOUND_COLOUR, "dash": "dash"}))
    fig.add_trace(go.Scatter(x=bound_norms, y=error_norms, mode="markers", name="one input x",
                             marker={"size": 7, "opacity": 0.7, "color": PALETTE[1]}))
    fig.update_xaxes(title="σᵣ₊₁ ‖x‖ (the bound)", rangemode="tozero")
    fig.update_yaxes(title="‖z − zᵣ‖ (measured)", rangemode="tozero")
    return _layout(fig, title=f"Each input's error against its bound (rank {rank})")


def accuracy_vs_rank(curves: Mapping[str, tuple[Sequence[int], Sequence[float]]], *,
                     dense_accuracy: float, selected_rank: int | None = None) -> go.Figure:
    """Test accuracy against rank, one line per scope ("all layers" drawn thicker), dense as a dashed line."""
    fig = go.Figure()
    for i, (label, (ranks, accuracies)) in enumerate(curves.items()):
        is_all = label.startswith("all")
        fig.add_trace(go.Scatter(
            x=list(ranks), y=[100 * a for a in accuracies], mode="lines+markers", name=label,
            line={"width": 3.5 if is_all else 2,
                  "color": ALL_COLOUR if is_all else PALETTE[i % len(PALETTE)]},
            marker={"size": 4},
        ))
    fig.add_hline(y=100 * dense_accuracy, line={"color": DENSE_COLOUR, "dash": "dash"},
                  annotation_text=f"dense {100 * dense_accuracy:.1f} %", annotation_position="bottom right")
    if selected_rank is not None:
        fig.add_vline(x=selected_rank, line={"color": "#999999", "dash": "dot"})
    fig.update_xaxes(title="rank r (each layer clipped to min(out, in))", type="log")
    fig.update_yaxes(title="test accuracy (%)", range=[0, 102])
    return _layout(fig, title="Accuracy against rank")


def accuracy_vs_parameters(parameters: Sequence[int], accuracies: Sequence[float], ranks: Sequence[int], *,
                           dense_parameters: int, dense_accuracy: float) -> go.Figure:
    """The trade-off curve: accuracy of the all-layers truncation against its parameter count."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=list(parameters), y=[100 * a for a in accuracies], mode="lines+markers",
                             name="all layers at rank r", text=[f"rank {r}" for r in ranks],
                             hovertemplate="%{text}: %{x} parameters, %{y:.1f} %<extra></extra>",
                             line={"color": ALL_COLOUR}, marker={"size": 5}))
    fig.add_trace(go.Scatter(x=[dense_parameters], y=[100 * dense_accuracy], mode="markers",
                             name="dense network",
                             marker={"size": 14, "symbol": "star", "color": DENSE_COLOUR}))
    fig.add_vline(x=dense_parameters, line={"color": DENSE_COLOUR, "dash": "dash"})
    fig.update_xaxes(title="parameters (weights and biases)", type="log")
    fig.update_yaxes(title="test accuracy (%)", range=[0, 102])
    return _layout(fig, title="Accuracy against parameters (dashed: the dense size)")


def spectra_figure(spectra: Mapping[str, np.ndarray]) -> go.Figure:
    """Singular values of each trained weight, log scale, against their index (1-based)."""
    fig = go.Figure()
    for i, (label, S) in enumerate(spectra.items()):
        S = np.asarray(S, dtype=np.float64)
        fig.add_trace(go.Scatter(x=np.arange(1, S.size + 1), y=S, mode="lines+markers", name=label,
                                 line={"color": PALETTE[i % len(PALETTE)]}, marker={"size": 4}))
    fig.update_xaxes(title="index i")
    fig.update_yaxes(title="σ_i", type="log")
    return _layout(fig, title="Singular values of the trained weights")


def delta_spectra_figure(panels: Sequence[tuple[str, np.ndarray, np.ndarray, int, int]]) -> go.Figure:
    """One panel per layer: σ_i of W_base and of ΔW = W_ft − W_base (log), with their energy-90 % ranks.

    Each panel's axis spans ``SPECTRUM_DECADES`` powers of ten below its largest singular value.

    ``panels`` holds (label, base_S, delta_S, base_rank90, delta_rank90).
    """
    fig = make_subplots(rows=1, cols=max(len(panels), 1), subplot_titles=[p[0] for p in panels])
    for col, (_, base_S, delta_S, base_rank, delta_rank) in enumerate(panels, start=1):
        base_S, delta_S = np.asarray(base_S, np.float64), np.asarray(delta_S, np.float64)
        first = col == 1
        fig.add_trace(go.Scatter(x=np.arange(1, base_S.size + 1), y=base_S, mode="lines", name="W_base",
                                 line={"color": PALETTE[0], "width": 2.5}, showlegend=first,
                                 legendgroup="base"), row=1, col=col)
        fig.add_trace(go.Scatter(x=np.arange(1, delta_S.size + 1), y=delta_S, mode="lines",
                                 name="ΔW = W_ft − W_base", line={"color": ALL_COLOUR, "width": 2.5},
                                 showlegend=first, legendgroup="delta"), row=1, col=col)
        for rank, colour, label in ((base_rank, PALETTE[0], "W"), (delta_rank, ALL_COLOUR, "ΔW")):
            fig.add_vline(x=rank, line={"color": colour, "dash": "dot"}, row=1, col=col,
                          annotation_text=f"{label} 90 %: {rank}", annotation_font_color=colour,
                          annotation_position="top right" if label == "W" else "bottom left")
        top = float(max(base_S.max(initial=0.0), delta_S.max(initial=0.0), 1e-300))
        # Show four decades under the largest value: exact zeros (columns no gradient reached) would
        # otherwise stretch the axis down to rounding level.
        fig.update_yaxes(type="log", range=[np.log10(top) - SPECTRUM_DECADES, np.log10(top) + 0.2],
                         row=1, col=col)
        fig.update_xaxes(title="index i", row=1, col=col)
    fig.update_yaxes(title="σ_i", row=1, col=1)
    return _layout(fig, title="Spectrum of the fine-tuning change ΔW beside the base weight's own",
                   height=400)


def lora_figure(ranks: Sequence[int], parameters: Sequence[int], accuracies: Sequence[float], *,
                full_parameters: int, full_accuracy: float, base_accuracy: float) -> go.Figure:
    """Accuracy on the shifted task against trainable parameters: LoRA ranks, the full fine-tune, the base."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=list(parameters), y=[100 * a for a in accuracies], mode="lines+markers+text",
                             name="LoRA (base frozen)", text=[f"r = {r}" for r in ranks],
                             textposition="bottom right", line={"color": PALETTE[0]}, marker={"size": 9}))
    fig.add_trace(go.Scatter(x=[full_parameters], y=[100 * full_accuracy], mode="markers+text",
                             name="full fine-tune", text=["full"], textposition="bottom left",
                             marker={"size": 14, "symbol": "star", "color": ALL_COLOUR}))
    fig.add_hline(y=100 * base_accuracy, line={"color": DENSE_COLOUR, "dash": "dash"},
                  annotation_text=f"base, not fine-tuned: {100 * base_accuracy:.1f} %",
                  annotation_position="bottom right")
    fig.update_xaxes(title="trainable parameters", type="log")
    fig.update_yaxes(title="test accuracy on mirrored digits (%)", range=[0, 102])
    return _layout(fig, title="LoRA against the full fine-tune")


def timing_figure(ranks: Sequence[int], dense_ms: float, factored_ms: Sequence[float], *,
                  break_even: float, size: int) -> go.Figure:
    """Forward time of the factored layer against rank, the dense time as a line, the FLOP break-even."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=list(ranks), y=list(factored_ms), mode="lines+markers", name="LowRankLinear",
                             line={"color": PALETTE[0]}, marker={"size": 8}))
    fig.add_hline(y=dense_ms, line={"color": DENSE_COLOUR, "dash": "dash"},
                  annotation_text=f"dense nn.Linear {dense_ms:.2f} ms", annotation_position="top left")
    fig.add_vline(x=break_even, line={"color": ALL_COLOUR, "dash": "dot"},
                  annotation_text=f"FLOP break-even {break_even:g}", annotation_position="top left")
    fig.update_xaxes(title="rank r", type="log")
    fig.update_yaxes(title="median forward time (ms)", rangemode="tozero")
    return _layout(fig, title=f"Forward time of a {size}×{size} layer, dense against factored")
