"""ui.matrix.figures and ui.charts: each figure carries exactly the data it was given (its traces)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ui.charts import energy_figure, outputs_scatter
from ui.matrix.figures import (
    display_indices,
    error_figure,
    heatmap_panels,
    matrix_heatmap,
    spectrum_figure,
    symmetric_limit,
)
from ui.style import DROPPED_COLOUR, KEPT_COLOUR


def _trace(fig, name):
    matches = [t for t in fig.data if t.name == name]
    assert len(matches) == 1, [t.name for t in fig.data]
    return matches[0]


def test_heatmap_panels_share_one_symmetric_scale():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(7, 5))
    W_r = 0.5 * W
    residual = W - W_r + np.eye(7, 5) * 9.0  # the residual holds the largest |value|
    fig = heatmap_panels([("W", W), ("W_r", W_r), ("W − W_r", residual)])
    expected = float(np.abs(residual).max())
    assert len(fig.data) == 3
    for trace, values in zip(fig.data, (W, W_r, residual), strict=True):
        assert trace.type == "heatmap"
        np.testing.assert_array_equal(np.asarray(trace.z), values)
        assert trace.zmin == -expected and trace.zmax == expected and trace.zmid == 0
        assert trace.coloraxis == "coloraxis"
        assert "row %{y}" in trace.hovertemplate and "col %{x}" in trace.hovertemplate
        assert "%{z" in trace.hovertemplate
    axis = fig.layout.coloraxis
    assert axis.cmin == -expected and axis.cmax == expected and axis.cmid == 0
    # one panel per x axis, side by side without overlap
    domains = [fig.layout[f"xaxis{s}"].domain for s in ("", "2", "3")]
    assert all(a[1] <= b[0] for a, b in zip(domains, domains[1:], strict=False))
    assert [a.text for a in fig.layout.annotations] == ["W", "W_r", "W − W_r"]


def test_heatmap_panels_keep_the_original_row_and_column_indices():
    rows, cols = np.array([0, 10, 20]), np.array([3, 7])
    fig = heatmap_panels([("W", np.ones((3, 2)))], rows=rows, cols=cols)
    np.testing.assert_array_equal(np.asarray(fig.data[0].y), rows)
    np.testing.assert_array_equal(np.asarray(fig.data[0].x), cols)
    assert fig.layout.yaxis.autorange == "reversed"  # row 0 on top, as a matrix is written


def test_all_zero_panels_get_a_unit_scale():
    fig = heatmap_panels([("Z", np.zeros((2, 2)))])
    assert fig.data[0].zmin == -1.0 and fig.data[0].zmax == 1.0


def test_matrix_heatmap_symmetric_and_sequential():
    values = np.array([[1.0, -3.0], [2.0, 0.5]])
    fig = matrix_heatmap(values, title="a")
    assert fig.data[0].zmin == -3.0 and fig.data[0].zmax == 3.0 and fig.data[0].zmid == 0
    plain = matrix_heatmap(np.abs(values), title="W", symmetric=False)
    assert plain.data[0].zmin is None
    np.testing.assert_array_equal(np.asarray(plain.data[0].z), np.abs(values))


@pytest.mark.parametrize(("size", "limit"), [(1, 5), (5, 5), (6, 5), (500, 120), (121, 120)])
def test_display_indices(size, limit):
    index = display_indices(size, limit)
    assert len(index) <= limit
    assert index[0] == 0 and index[-1] == size - 1
    assert np.all(np.diff(index) > 0)
    if size <= limit:
        np.testing.assert_array_equal(index, np.arange(size))


def test_symmetric_limit():
    assert symmetric_limit(np.array([1.0, -4.0]), np.array([3.0])) == 4.0
    assert symmetric_limit(np.zeros(3)) == 1.0


def test_spectrum_bars_lines_and_markers():
    S = np.array([10.0, 5.0, 2.0, 1.0, 1e-3, 1e-7])
    fig = spectrum_figure(S, rank=3, tolerance=1e-5, threshold=0.5, energy_ranks={"90 %": 2, "99 %": 3},
                          log=True)
    kept, dropped = _trace(fig, "kept (3)"), _trace(fig, "dropped (3)")
    assert kept.marker.color == KEPT_COLOUR and dropped.marker.color == DROPPED_COLOUR
    np.testing.assert_array_equal(np.asarray(kept.x), [1, 2, 3])
    np.testing.assert_array_equal(np.asarray(kept.y), S[:3])
    np.testing.assert_array_equal(np.asarray(dropped.y), S[3:])
    assert list(_trace(fig, "numerical tolerance").y) == [1e-5, 1e-5]
    assert list(_trace(fig, "optimal hard threshold").y) == [0.5, 0.5]
    line = _trace(fig, "numerical tolerance")
    assert line.x[0] <= 1 and line.x[-1] >= len(S)  # spans every bar
    marks = _trace(fig, "energy targets")
    assert list(marks.x) == [2, 3] and list(marks.y) == [5.0, 2.0] and list(marks.text) == ["90 %", "99 %"]
    assert fig.layout.yaxis.type == "log"
    assert spectrum_figure(S, rank=0, log=False).layout.yaxis.type == "linear"


def test_energy_targets_at_the_same_rank_share_one_marker():
    S = np.array([10.0, 1.0, 0.1])
    fig = spectrum_figure(S, rank=1, energy_ranks={"90 %": 1, "99 %": 1, "99.9 %": 2, "off": 0})
    marks = _trace(fig, "energy targets")
    assert list(marks.x) == [1, 2] and list(marks.text) == ["90 % · 99 %", "99.9 %"]
    assert list(marks.y) == [10.0, 1.0]


@given(st.lists(st.floats(0, 1e3), min_size=1, max_size=60), st.data())
def test_kept_bar_count_equals_rank(values, data):
    S = np.sort(np.asarray(values))[::-1]
    rank = data.draw(st.integers(0, len(S)))
    fig = spectrum_figure(S, rank=rank)
    bars = [t for t in fig.data if t.type == "bar"]
    colours = [t.marker.color for t in bars for _ in range(len(t.x))]
    assert colours.count(KEPT_COLOUR) == rank
    assert colours.count(DROPPED_COLOUR) == len(S) - rank


def test_spectrum_rejects_a_rank_beyond_the_values():
    with pytest.raises(ValueError):
        spectrum_figure(np.ones(3), rank=4)


def test_energy_figure_marks_the_chosen_rank():
    energy = np.array([0.0, 0.6, 0.9, 0.99, 1.0])
    fig = energy_figure(energy, rank=2)
    np.testing.assert_allclose(np.asarray(_trace(fig, "energy kept").y), energy * 100)
    chosen = _trace(fig, "chosen rank 2")
    assert list(chosen.x) == [2] and chosen.y[0] == pytest.approx(90.0)


def test_error_figure_has_the_prediction_the_measurements_and_the_rank():
    predicted = np.array([1.0, 0.5, 0.1, 0.0])
    fig = error_figure(predicted, np.array([0, 3]), np.array([1.0, 1e-7]), rank=1, log=True)
    np.testing.assert_array_equal(np.asarray(_trace(fig, "Eckart–Young prediction").y), predicted)
    measured = _trace(fig, "measured")
    assert list(measured.x) == [0, 3] and list(measured.y) == [1.0, 1e-7]
    chosen = _trace(fig, "chosen rank 1")
    assert list(chosen.x) == [1] and list(chosen.y) == [0.5]
    assert fig.layout.yaxis.type == "log"


def test_outputs_scatter_plots_z_against_z_lr():
    z, z_lr = np.array([1.0, 2.0, 3.0]), np.array([1.1, 2.0, 2.5])
    fig = outputs_scatter(z, z_lr, rank=2)
    points = _trace(fig, "outputs at rank 2")
    np.testing.assert_array_equal(np.asarray(points.x), z)
    np.testing.assert_array_equal(np.asarray(points.y), z_lr)
    diagonal = _trace(fig, "z_lr = z")
    assert list(diagonal.x) == list(diagonal.y)
    assert diagonal.x[0] <= 1.0 and diagonal.x[-1] >= 3.0


def test_the_outputs_scatter_shows_the_data_range_on_both_axes():
    z, z_lr = np.array([-2.5, 0.0, 2.4]), np.array([-2.4, 0.1, 2.5])
    fig = outputs_scatter(z, z_lr, rank=3)
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        low, high = axis.range
        assert -2.8 < low < -2.5 and 2.5 < high < 2.8  # the data's ±2.5 plus a 5 % pad, not ±8
    assert fig.layout.xaxis.constrain == "domain"  # the plot area shrinks to keep 1:1, not the range


def test_log_axes_write_whole_values_and_powers_of_ten():
    fig = spectrum_figure(np.array([10.0, 1e-4, 1e-7]), rank=1, log=True)
    assert fig.layout.yaxis.minorloglabels == "complete"  # "20", "50": not "2", "5" after "10"
    assert fig.layout.yaxis.exponentformat == "power"  # 10⁻⁴, not "100µ"
