"""Pure figure and table builders for the Layers and LoRA page: numbers in, plotly figures or DataFrames out.

No Streamlit here: each function only draws what ``lowrank_core`` computed, so a test can read the traces
back. (The outputs scatter, which the tour draws too, is ``ui.charts.outputs_scatter``.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lowrank_core import flops, parameter_budget
from lowrank_core.layers import effective_weights
from ui.style import ALL_COLOUR, DENSE_COLOUR, FONT_SIZE, LOG_AXIS, NUMBER_FORMAT, PALETTE

__all__ = [
    "layer_labels",
    "bound_scatter",
    "accuracy_vs_rank",
    "accuracy_vs_parameters",
    "spectra_figure",
    "delta_spectra_figure",
    "lora_figure",
    "timing_figure",
    "reports_table",
    "delta_table",
    "lora_table",
    "timing_table",
    "budget_table",
]

BOUND_COLOUR = ALL_COLOUR
SPECTRUM_DECADES = 4  # the ΔW spectra show this many powers of ten below their largest value


def layer_labels(model) -> dict[str, str]:
    """'0' -> 'layer 1: 64 → 128' for each linear layer of the MLP, in order."""
    return {name: f"layer {number}: {weight.shape[1]} → {weight.shape[0]}"
            for number, (name, weight) in enumerate(effective_weights(model).items(), start=1)}


def _layout(fig: go.Figure, *, title: str, height: int = 440) -> go.Figure:
    """Shared look: title on top, readable font, white background, legend under the plot."""
    fig.update_layout(title={"text": title, "font": {"size": FONT_SIZE + 1}}, height=height,
                      font={"size": FONT_SIZE - 1}, template="plotly_white",
                      margin={"l": 60, "r": 20, "t": 50, "b": 20},
                      legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0})
    return fig


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
    fig.update_xaxes(title="σᵣ₊₁ ‖x‖ (the bound)", rangemode="tozero", **NUMBER_FORMAT)
    fig.update_yaxes(title="‖z − zᵣ‖ (measured)", rangemode="tozero", **NUMBER_FORMAT)
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
    fig.update_xaxes(title="rank r (each layer clipped to min(out, in))", **LOG_AXIS)
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
    fig.update_xaxes(title="parameters (weights and biases)", **LOG_AXIS)
    fig.update_yaxes(title="test accuracy (%)", range=[0, 102])
    return _layout(fig, title="Accuracy against parameters (dashed: the dense size)")


def spectra_figure(spectra: Mapping[str, np.ndarray]) -> go.Figure:
    """Singular values of each trained weight, log scale, against their index (1-based)."""
    fig = go.Figure()
    for i, (label, S) in enumerate(spectra.items()):
        S = np.asarray(S, dtype=np.float64)
        fig.add_trace(go.Scatter(x=np.arange(1, S.size + 1), y=S, mode="lines+markers", name=label,
                                 line={"color": PALETTE[i % len(PALETTE)]}, marker={"size": 4}))
    fig.update_xaxes(title="index i", **NUMBER_FORMAT)
    fig.update_yaxes(title="σ_i", **LOG_AXIS)
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
        fig.update_yaxes(**LOG_AXIS, range=[np.log10(top) - SPECTRUM_DECADES, np.log10(top) + 0.2],
                         row=1, col=col)
        fig.update_xaxes(title="index i", row=1, col=col, **NUMBER_FORMAT)
    fig.update_yaxes(title="σ_i", row=1, col=1)
    return _layout(fig, title="Spectrum of the fine-tuning change ΔW beside the base weight's own",
                   height=400)


def lora_figure(adapters: Sequence[tuple[int, int, Sequence[float]]], *, full_parameters: int,
                full_accuracies: Sequence[float], base_accuracy: float) -> go.Figure:
    """Accuracy on the shifted task against trainable parameters: LoRA ranks, the full fine-tune, the base.

    ``adapters`` holds (rank, trainable parameters, test accuracy per fine-tune seed); each method is drawn
    at its mean over the seeds with a bar from the lowest to the highest seed.
    """
    def spread(values: Sequence[float]) -> tuple[float, float, float]:  # mean, up to max, down to min (%)
        values = 100 * np.asarray(values, dtype=np.float64)
        return float(values.mean()), float(values.max() - values.mean()), float(values.mean() - values.min())

    lora = [spread(accuracies) for _, _, accuracies in adapters]
    full = spread(full_accuracies)
    seeds = len(full_accuracies)

    def bars(spreads) -> dict:
        return {"type": "data", "array": [up for _, up, _ in spreads],
                "arrayminus": [down for _, _, down in spreads]}

    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=[parameters for _, parameters, _ in adapters], y=[mean for mean, _, _ in lora], error_y=bars(lora),
        mode="lines+markers+text", name=f"LoRA (base frozen): mean of {seeds} seeds, bar lowest to highest",
        text=[f"r = {r}" for r, _, _ in adapters], textposition="bottom right", line={"color": PALETTE[0]},
        marker={"size": 9}))
    fig.add_trace(go.Scatter(x=[full_parameters], y=[full[0]], error_y=bars([full]), mode="markers+text",
                             name="full fine-tune", text=["full"], textposition="bottom left",
                             marker={"size": 14, "symbol": "star", "color": ALL_COLOUR}))
    fig.add_hline(y=100 * base_accuracy, line={"color": DENSE_COLOUR, "dash": "dash"},
                  annotation_text=f"base, not fine-tuned: {100 * base_accuracy:.1f} %",
                  annotation_position="bottom right")
    fig.update_xaxes(title="trainable parameters", **LOG_AXIS)
    fig.update_yaxes(title="test accuracy on mirrored digits (%)", range=[0, 102])
    return _layout(fig, title="LoRA against the full fine-tune")


def timing_figure(ranks: Sequence[int], dense_ms: float, factored_ms: Sequence[float], *,
                  break_even: float, size: int | tuple[int, int]) -> go.Figure:
    """Forward time of the factored layer against rank, the dense time as a line, the FLOP break-even.

    ``size``: the layer's side, or its (out, in) shape.
    """
    out_features, in_features = (size, size) if isinstance(size, int) else size
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=list(ranks), y=list(factored_ms), mode="lines+markers", name="LowRankLinear",
                             line={"color": PALETTE[0]}, marker={"size": 8}))
    fig.add_hline(y=dense_ms, line={"color": DENSE_COLOUR, "dash": "dash"},
                  annotation_text=f"dense nn.Linear {dense_ms:.2f} ms", annotation_position="top left")
    fig.add_vline(x=break_even, line={"color": ALL_COLOUR, "dash": "dot"},
                  annotation_text=f"FLOP break-even {break_even:g}", annotation_position="top left")
    fig.update_xaxes(title="rank r", **LOG_AXIS)
    fig.update_yaxes(title="median forward time (ms)", rangemode="tozero")
    return _layout(fig, title=f"Forward time of a {out_features}×{in_features} layer, dense against factored")


def reports_table(reports, labels: Mapping[str, str]) -> pd.DataFrame:
    """One row per layer of a compressed network (``compress_model``'s ``LayerReport``s)."""
    return pd.DataFrame({
        "layer": [labels[r.name] for r in reports],
        "rank kept": [r.rank for r in reports],
        "parameters before": [r.parameters_before for r in reports],
        "parameters after": [r.parameters_after for r in reports],
        "energy kept": [round(r.energy_kept, 4) for r in reports],
        "bound σᵣ₊₁": [r.spectral_bound for r in reports],
        "factored": [r.factored for r in reports],
        "note": [r.note for r in reports],
    })


def delta_table(spectra, labels: Mapping[str, str]) -> pd.DataFrame:
    """One row per layer: the energy-90 % ranks of W_base and of the fine-tune's ΔW (``DeltaSpectrum``s)."""
    return pd.DataFrame({
        "layer": [labels[s.name] for s in spectra],
        "energy-90 % rank of W_base": [s.base_energy_rank for s in spectra],
        "energy-90 % rank of ΔW": [s.delta_energy_rank for s in spectra],
        "min(m, n)": [min(s.shape) for s in spectra],
        "‖ΔW‖_F / ‖W_base‖_F": [round(s.relative_change, 3) for s in spectra],
    })


def lora_table(base_accuracy: float, full_parameters: int, full_accuracies: Sequence[float],
               adapters: Sequence[tuple[int, int, Sequence[float]]]) -> pd.DataFrame:
    """The base, the full fine-tune and each LoRA rank: trainable parameters and test accuracy over the
    fine-tune seeds (mean, lowest, highest), and in how many seeds a method beat the full fine-tune of the
    same seed (the same test images, so the comparison is paired).

    ``adapters`` holds (rank, trainable parameters, test accuracy per seed), seeds in the order of
    ``full_accuracies``.
    """
    full = np.asarray(full_accuracies, dtype=np.float64)
    seeds = len(full)
    rows = [("full fine-tune", full_parameters, full)] + [
        (f"LoRA r = {rank}", parameters, np.asarray(accuracies, dtype=np.float64))
        for rank, parameters, accuracies in adapters]
    return pd.DataFrame({
        "method": ["base, not fine-tuned", *[name for name, _, _ in rows]],
        "trainable parameters": [0, *[parameters for _, parameters, _ in rows]],
        "% of full": [0.0, *[round(100 * parameters / full_parameters, 1) for _, parameters, _ in rows]],
        f"test accuracy, mean of {seeds} seeds (%)": [round(100 * base_accuracy, 2),
                                                       *[round(100 * a.mean(), 2) for _, _, a in rows]],
        "lowest (%)": [round(100 * base_accuracy, 2), *[round(100 * a.min(), 2) for _, _, a in rows]],
        "highest (%)": [round(100 * base_accuracy, 2), *[round(100 * a.max(), 2) for _, _, a in rows]],
        "above the full fine-tune": ["", "", *[f"in {int((a > full).sum())} of {seeds} seeds"
                                               for _, _, a in rows[1:]]],
    })


def timing_table(timings) -> pd.DataFrame:
    """One row per timed rank: dense and factored forward times (``ForwardTiming``s)."""
    return pd.DataFrame({
        "rank": [t.rank for t in timings],
        "dense (ms)": [round(1e3 * t.dense_seconds, 3) for t in timings],
        "factored (ms)": [round(1e3 * t.factored_seconds, 3) for t in timings],
        "speed-up": [round(t.speedup, 2) for t in timings],
        "FLOP ratio": [round(t.flop_ratio, 2) for t in timings],
    })


def budget_table(m: int, n: int, rank: int, batch: int) -> pd.DataFrame:
    """Weight parameters and the batch's FLOPs of the dense layer and of its rank-r factors."""
    budget = parameter_budget(m, n, rank)
    dense_flops, factored_flops = flops(m, n, rank, batch=batch)
    return pd.DataFrame({
        "": ["dense W", f"factored a b (rank {rank})"],
        "weight parameters": [budget.dense, budget.factored],
        f"FLOPs for the batch of {batch}": [dense_flops, factored_flops],
    })
