"""The checkpoint page's figures and tables, built without Streamlit and read back against numpy."""

import numpy as np
import pandas as pd
import pytest
import safetensors.torch
import torch

from lowrank_core.allocation import LayerSpectrum, compare_allocations
from lowrank_core.budget_study import BudgetPoint, BudgetStudy
from lowrank_core.checkpoint import inspect_checkpoint, read_checkpoint
from ui.checkpoint.cache import Shelf
from ui.checkpoint.figures import (
    allocation_figure,
    allocation_table,
    shape_text,
    spectrum_figure,
    study_figure,
    study_table,
    weights_table,
)


def _inspection():
    generator = torch.Generator().manual_seed(0)
    tensors = {"a.weight": torch.randn(30, 20, generator=generator),
               "conv.weight": torch.randn(8, 3, 2, 2, generator=generator),
               "ids": torch.arange(16).reshape(4, 4)}
    return tensors, inspect_checkpoint(read_checkpoint(safetensors.torch.save(tensors)))


def test_the_weights_table_is_numeric_so_each_column_sorts():
    tensors, inspection = _inspection()
    table = weights_table(inspection)
    assert list(table["name"]) == ["a.weight", "conv.weight"]
    assert list(table["shape"]) == ["30×20", "8×3×2×2"]
    for column in ("parameters", "numerical rank", "stable rank", "rank 90 %", "rank 99 %",
                   "optimal hard threshold", "break-even rank"):
        assert pd.api.types.is_numeric_dtype(table[column]), column
    S = np.linalg.svd(tensors["conv.weight"].reshape(8, 12).double().numpy(), compute_uv=False)
    assert table.loc[1, "stable rank"] == pytest.approx(np.sum(S**2) / S[0] ** 2, abs=0.006)
    assert table.loc[1, "break-even rank"] == pytest.approx(8 * 12 / 20, abs=0.05)


def test_the_spectrum_shows_every_singular_value_and_the_rules_ranks():
    tensors, inspection = _inspection()
    figure = spectrum_figure(inspection.weights[0])
    S = np.linalg.svd(tensors["a.weight"].double().numpy(), compute_uv=False)
    np.testing.assert_allclose(figure.data[0].y, S, rtol=1e-5)
    names = [trace.name for trace in figure.data[1:]]
    summary = inspection.weights[0]
    assert f"90 % energy: {summary.rank_energy_90}" in names
    assert any(name.startswith("break-even mn/(m + n): 12") for name in names)  # 600 / 50


def test_the_allocation_table_says_dense_and_the_bars_follow_the_ranks():
    spectra = [LayerSpectrum("big", (40, 40), torch.linspace(10, 1, 40), 0.0),
               LayerSpectrum("tiny", (3, 2), torch.tensor([2.0, 1.0]), 0.0)]
    allocations = compare_allocations(spectra, fraction=0.5)
    table = allocation_table(allocations)
    assert table.loc[1, "greedy rank"] == "dense"  # a 3×2 weight never saves by factoring
    figure = allocation_figure(allocations)
    assert [trace.name.split(" ")[0] for trace in figure.data] == ["greedy", "uniform", "same"]
    assert list(figure.data[0].y) == [layer.rank for layer in allocations["greedy"].layers]


def test_the_study_figure_has_a_curve_per_allocation_and_fine_tune_with_min_max_bars():
    points = tuple(BudgetPoint(allocation=name, fraction=fraction, finetuned=tuned,
                               accuracies=(0.5 + fraction / 2, 0.4 + fraction / 2), parameters=(100, 100),
                               relative_errors=(0.1, 0.1), ranks=({}, {}))
                   for name in ("greedy", "uniform") for fraction in (0.1, 0.5) for tuned in (False, True))
    study = BudgetStudy(seeds=(0, 1), fractions=(0.1, 0.5), dense_accuracies=(0.97, 0.95),
                        dense_parameters=1000, points=points, finetune_epochs=1)
    figure = study_figure(study)
    assert len(figure.data) == 2 * 2 + 1  # and the dense line
    first = figure.data[0]
    np.testing.assert_allclose(first.y, [100 * 0.5, 100 * 0.7])  # means of 0.55/0.45 and 0.75/0.65
    np.testing.assert_allclose(first.error_y.array, [5, 5])
    np.testing.assert_allclose(first.error_y.arrayminus, [5, 5])
    assert len(study_table(study)) == len(points)


def test_shape_text():
    assert shape_text((768, 3, 3, 3)) == "768×3×3×3"


def test_the_shelf_drops_the_least_recently_used():
    shelf = Shelf(2)
    shelf.put("a", 1)
    shelf.put("b", 2)
    assert shelf.get("a") == 1  # a is now the most recent
    shelf.put("c", 3)
    assert shelf.get("b") is None and shelf.get("a") == 1 and shelf.get("c") == 3


def test_every_axis_writes_powers_of_ten_never_si_prefixes():
    """Issue 12's rule on this page's charts: 1e-4 is written 10⁻⁴, never "100µ"."""
    _, inspection = _inspection()
    tiny = [LayerSpectrum("w", (4, 4), torch.tensor([3e-4, 1e-4, 2e-5, 1e-7]), 0.0)]
    figures = [spectrum_figure(inspection.weights[0]),
               allocation_figure(compare_allocations(tiny, fraction=0.9))]
    for figure in figures:
        layout = figure.to_plotly_json()["layout"]
        axes = {name: axis for name, axis in layout.items() if name.startswith(("xaxis", "yaxis"))}
        assert axes and all(axis.get("exponentformat") == "power" for axis in axes.values()), axes
