"""Pure figure and table builders for the checkpoint page: what ``lowrank_core.checkpoint`` computed, drawn.

No Streamlit here (its column settings live in ``ui.checkpoint.views``), so a test can read every trace and
cell back. The energy curve is ``ui.charts.energy_figure``; the forward times ``ui.layer.figures``'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from lowrank_core.allocation import ALLOCATIONS, Allocation
from lowrank_core.budget_study import BudgetStudy
from lowrank_core.checkpoint import CheckpointInspection, WeightDetail, WeightSummary
from ui.style import (
    ALL_COLOUR,
    DENSE_COLOUR,
    FONT,
    KEPT_COLOUR,
    LEGEND_BELOW,
    LOG_AXIS,
    MARGIN,
    MARK_COLOUR,
    NUMBER_FORMAT,
    PALETTE,
    THRESHOLD_COLOUR,
    TOLERANCE_COLOUR,
)

__all__ = [
    "ALLOCATION_LABELS",
    "shape_text",
    "weights_table",
    "skipped_table",
    "spectrum_figure",
    "error_figure",
    "allocation_summary",
    "allocation_table",
    "allocation_figure",
    "study_figure",
    "study_table",
]

ALLOCATION_LABELS = {"greedy": "greedy (least total error)", "uniform": "uniform share",
                     "energy": "same energy fraction"}
ALLOCATION_COLOURS = dict(zip(ALLOCATIONS, (ALL_COLOUR, PALETTE[0], PALETTE[1]), strict=True))


def shape_text(shape: Sequence[int]) -> str:
    """(768, 3, 3, 3) -> '768×3×3×3'."""
    return "×".join(str(int(side)) for side in shape)


def _layout(title: str, x_title: str, y_title: str, *, height: int = 400, **axes) -> dict:
    """The shared look: the app's font and margins, legend under the plot, numbers in powers of ten on both
    axes (never an SI prefix such as "100µ")."""
    return {"title": {"text": title}, "height": height, "font": FONT, "legend": LEGEND_BELOW,
            "margin": {**MARGIN, "t": 50},
            "xaxis": {"title": {"text": x_title}, **NUMBER_FORMAT, **axes.get("xaxis", {})},
            "yaxis": {"title": {"text": y_title}, **NUMBER_FORMAT, **axes.get("yaxis", {})}}


# ================================================================================================ tables


def weights_table(inspection: CheckpointInspection) -> pd.DataFrame:
    """One row per analysed weight, every number as a number (so each column sorts); None where a
    randomized SVD cannot tell."""
    rows = [weight.row() for weight in inspection.weights]
    return pd.DataFrame({
        "name": [row["name"] for row in rows],
        "shape": [shape_text(row["shape"]) for row in rows],
        "dtype": [row["dtype"] for row in rows],
        "parameters": [row["parameters"] for row in rows],
        "SVD": [row["method"] if row["method"] == "exact"
                else f"randomized ({row['singular_values_computed']})" for row in rows],
        "numerical rank": [row["numerical_rank"] for row in rows],
        "stable rank": [round(row["stable_rank"], 2) for row in rows],
        "rank 90 %": pd.array([row["rank_energy_90"] for row in rows], dtype="Int64"),
        "rank 99 %": pd.array([row["rank_energy_99"] for row in rows], dtype="Int64"),
        "optimal hard threshold": pd.array([row["optimal_hard_threshold_rank"] for row in rows],
                                           dtype="Int64"),
        "break-even rank": [round(row["break_even_rank"], 1) for row in rows],
    })


def skipped_table(inspection: CheckpointInspection) -> pd.DataFrame:
    """The tensors shaped like weights that were not analysed, and why."""
    return pd.DataFrame({
        "name": [skipped.name for skipped in inspection.skipped],
        "shape": [shape_text(skipped.shape) for skipped in inspection.skipped],
        "dtype": [skipped.dtype for skipped in inspection.skipped],
        "reason": [skipped.reason for skipped in inspection.skipped],
    })


# ============================================================================================ one weight


def _vline(x: float, y_range: tuple[float, float], name: str, colour: str, dash: str) -> dict:
    """A vertical marker line as a trace (it shows in the legend and on hover)."""
    return {"type": "scatter", "x": [x, x], "y": list(y_range), "mode": "lines", "name": name,
            "line": {"color": colour, "dash": dash, "width": 1.5}, "hovertemplate": f"{name}<extra></extra>"}


def spectrum_figure(summary: WeightSummary) -> go.Figure:
    """σ_i against i (log), with the rank rules of the table marked: numerical rank (and its tolerance),
    90 % and 99 % energy, the optimal hard threshold and the break-even rank."""
    S = summary.S.numpy()  # (k,), float64
    index = np.arange(1, S.size + 1)
    m, n = summary.matrix_shape
    positive = S[S > 0]
    low = float(positive.min()) if positive.size else 1e-12
    high = float(S[0]) if S.size and S[0] > 0 else 1.0
    span = (low / 2, high * 2)
    data = [{"type": "scatter", "x": index, "y": np.where(S > 0, S, np.nan), "mode": "lines+markers",
             "name": "σᵢ", "line": {"color": KEPT_COLOUR}, "marker": {"size": 3},
             "hovertemplate": "σ_%{x} = %{y:.4g}<extra></extra>"}]
    tolerance = np.finfo(np.float32).eps * max(m, n) * high
    if tolerance > low:
        data.append({"type": "scatter", "x": [1, max(S.size, 1)], "y": [tolerance] * 2, "mode": "lines",
                     "name": "tolerance of matrix_rank", "line": {"color": TOLERANCE_COLOUR, "dash": "dot"},
                     "hovertemplate": f"tolerance {tolerance:.3g}<extra></extra>"})
    marks = [(summary.rank_energy_90, "90 % energy", MARK_COLOUR, "dot"),
             (summary.rank_energy_99, "99 % energy", MARK_COLOUR, "dash"),
             (summary.optimal_hard_threshold_rank, "optimal hard threshold", THRESHOLD_COLOUR, "dash"),
             (summary.break_even_rank, "break-even mn/(m + n)", DENSE_COLOUR, "dashdot")]
    for rank, name, colour, dash in marks:
        if rank is not None and 1 <= rank <= S.size:  # a rank of 0 has no place on the 1-based axis
            data.append(_vline(rank, span, f"{name}: {rank:.4g}", colour, dash))
    what = "all" if summary.method == "exact" else f"the leading {S.size} (randomized SVD)"
    layout = _layout(f"Singular values of {summary.name} ({what})", "index i", "σᵢ",
                     yaxis={**LOG_AXIS, "range": [np.log10(span[0]), np.log10(span[1])]})
    return go.Figure({"data": data, "layout": layout})


def error_figure(detail: WeightDetail, *, break_even: float) -> go.Figure:
    """Relative error against rank: measured on the weight beside Eckart–Young's prediction, and on the
    layer's outputs for the inputs of ``detail``."""
    ranks = np.asarray(detail.ranks)
    data = [
        {"type": "scatter", "x": ranks, "y": detail.predicted_relative_error.numpy(), "mode": "lines",
         "name": "Eckart–Young: √(Σ_{i>r} σᵢ²) / ‖W‖_F",
         "line": {"color": DENSE_COLOUR, "dash": "dash", "width": 3},
         "hovertemplate": "rank %{x}: predicted %{y:.4g}<extra></extra>"},
        {"type": "scatter", "x": ranks, "y": detail.relative_error.numpy(), "mode": "markers",
         "name": "measured ‖W − a b‖_F / ‖W‖_F", "marker": {"color": KEPT_COLOUR, "size": 7},
         "hovertemplate": "rank %{x}: measured %{y:.4g}<extra></extra>"},
        {"type": "scatter", "x": ranks, "y": detail.output_relative_error.numpy(), "mode": "lines+markers",
         "name": f"outputs ‖Z − Zᵣ‖_F / ‖Z‖_F ({detail.inputs}, {detail.batch} inputs)",
         "line": {"color": ALL_COLOUR}, "marker": {"size": 4},
         "hovertemplate": "rank %{x}: outputs %{y:.4g}<extra></extra>"},
    ]
    if ranks.size and break_even <= ranks[-1]:
        data.append(_vline(break_even, (0.0, 1.05), f"break-even {break_even:.1f}", DENSE_COLOUR, "dot"))
    layout = _layout(f"Relative error of {detail.name} against rank", "rank r", "relative error",
                     yaxis={"range": [0, 1.05]})
    return go.Figure({"data": data, "layout": layout})


# ================================================================================================ budget


def allocation_summary(allocations: Mapping[str, Allocation]) -> pd.DataFrame:
    """One row per allocation: parameters after, saved, and the weights' total error."""
    return pd.DataFrame({
        "allocation": [ALLOCATION_LABELS[name] for name in allocations],
        "parameters after": [a.parameters_after for a in allocations.values()],
        "parameters saved": [a.parameters_saved for a in allocations.values()],
        "kept (% of dense)": [round(100 * a.parameters_after / a.parameters_before, 2)
                              for a in allocations.values()],
        "Σ ‖W − Wᵣ‖²_F": [a.total_squared_error for a in allocations.values()],
        "relative error of all weights": [round(a.relative_error, 5) for a in allocations.values()],
        "layers factored": [sum(layer.factored for layer in a.layers) for a in allocations.values()],
    })


def allocation_table(allocations: Mapping[str, Allocation]) -> pd.DataFrame:
    """One row per weight: its rank ("dense" where it stays dense) and relative error by each allocation."""
    first = next(iter(allocations.values()))
    columns = {"name": [layer.name for layer in first.layers],
               "shape": [shape_text(layer.shape) for layer in first.layers],
               "parameters": [layer.parameters_before for layer in first.layers]}
    for name, allocation in allocations.items():
        columns[f"{name} rank"] = [str(layer.rank) if layer.factored else "dense"
                                   for layer in allocation.layers]
        columns[f"{name} error"] = [round(layer.relative_error, 5) for layer in allocation.layers]
    return pd.DataFrame(columns)


def allocation_figure(allocations: Mapping[str, Allocation]) -> go.Figure:
    """The rank each allocation gives each weight, as grouped bars (a dense weight's bar is min(m, n),
    labelled "dense")."""
    data = []
    for name, allocation in allocations.items():
        data.append({"type": "bar", "name": ALLOCATION_LABELS[name],
                     "x": [layer.name for layer in allocation.layers],
                     "y": [layer.rank for layer in allocation.layers],
                     "text": [str(layer.rank) if layer.factored else "dense" for layer in allocation.layers],
                     "textposition": "outside", "marker": {"color": ALLOCATION_COLOURS[name]},
                     "hovertemplate": "%{x}: %{text}<extra>" + name + "</extra>"})
    layout = _layout("Rank per weight under each allocation", "weight", "rank r", yaxis=LOG_AXIS)
    layout["barmode"] = "group"
    return go.Figure({"data": data, "layout": layout})


def study_figure(study: BudgetStudy) -> go.Figure:
    """Test accuracy against budget: mean over seeds with the min–max spread as error bars; solid after the
    fine-tune of the factors, dashed without."""
    data = []
    fractions = 100 * np.asarray(study.fractions)
    for name in dict.fromkeys(point.allocation for point in study.points):
        for finetuned in (False, True):
            points = [study.point(name, f, finetuned=finetuned) for f in study.fractions
                      if any(p.allocation == name and p.finetuned == finetuned for p in study.points)]
            if not points:
                continue
            means = np.array([100 * p.mean for p in points])
            data.append({
                "type": "scatter", "x": fractions, "y": means, "mode": "lines+markers",
                "name": f"{ALLOCATION_LABELS[name]}{', fine-tuned' if finetuned else ''}",
                "line": {"color": ALLOCATION_COLOURS[name], "dash": "solid" if finetuned else "dash"},
                "error_y": {"type": "data", "symmetric": False,
                            "array": np.array([100 * p.maximum for p in points]) - means,
                            "arrayminus": means - np.array([100 * p.minimum for p in points])},
                "hovertemplate": "%{x:.0f} % of the parameters: %{y:.1f} %<extra></extra>"})
    dense = 100 * float(np.mean(study.dense_accuracies))
    data.append({"type": "scatter", "x": [fractions.min(), fractions.max()], "y": [dense, dense],
                 "mode": "lines", "name": f"dense {dense:.1f} %",
                 "line": {"color": DENSE_COLOUR, "dash": "dot"},
                 "hovertemplate": f"dense {dense:.1f} %<extra></extra>"})
    seeds = len(study.seeds)
    layout = _layout(f"Digits MLP: test accuracy against budget ({seeds} seeds; bars: min to max)",
                     "budget (% of the weights' parameters)", "test accuracy (%)", height=460,
                     yaxis={"range": [0, 102]})
    return go.Figure({"data": data, "layout": layout})


def study_table(study: BudgetStudy) -> pd.DataFrame:
    """Every point of the study: mean, standard deviation, min and max accuracy over the seeds."""
    return pd.DataFrame({
        "allocation": [point.allocation for point in study.points],
        "budget (%)": [round(100 * point.fraction, 1) for point in study.points],
        "fine-tuned": [point.finetuned for point in study.points],
        "mean accuracy (%)": [round(100 * point.mean, 2) for point in study.points],
        "std (points)": [round(100 * point.std, 2) for point in study.points],
        "min (%)": [round(100 * point.minimum, 2) for point in study.points],
        "max (%)": [round(100 * point.maximum, 2) for point in study.points],
        "parameters": [point.parameters[0] for point in study.points],
    })
