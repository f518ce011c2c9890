"""Issue 12: no chart writes a singular value, an entry or an error with an SI prefix ("100µ" is no unit).

plotly's default ``exponentformat`` ("B") labels 1e-4 as "100µ" on any axis or colour bar; every figure that
shows such values must ask for powers of ten instead. Each figure is built with values around 1e-4."""

import numpy as np
import plotly.graph_objects as go
import pytest

from ui.charts import outputs_scatter
from ui.image.figures import channel_spectra_figure
from ui.layer.figures import bound_scatter, delta_spectra_figure, spectra_figure
from ui.matrix.figures import error_figure, heatmap_panels, matrix_heatmap, spectrum_figure

TINY = np.array([3e-4, 1e-4, 2e-5, 1e-7])
GRID = np.outer(TINY, TINY[::-1]) * 1e3  # entries around 1e-4


def _numeric_axes(fig: go.Figure) -> dict[str, dict]:
    """Every axis and colour bar of a figure (values, indices and ranks alike)."""
    layout = fig.to_plotly_json()["layout"]
    axes = {name: axis for name, axis in layout.items() if name.startswith(("xaxis", "yaxis"))}
    axes.update({f"{name}.colorbar": axis.get("colorbar", {}) for name, axis in layout.items()
                 if name.startswith("coloraxis")})
    axes.update({f"trace {i}.colorbar": trace.to_plotly_json().get("colorbar", {})
                 for i, trace in enumerate(fig.data) if trace.type == "heatmap" and not trace.coloraxis})
    return axes


FIGURES = {
    "spectrum, linear": lambda: spectrum_figure(TINY, rank=2, log=False),
    "spectrum, log": lambda: spectrum_figure(TINY, rank=2, log=True),
    "error, linear": lambda: error_figure(TINY, np.arange(4), TINY, rank=1, log=False),
    "error, log": lambda: error_figure(TINY, np.arange(4), TINY, rank=1, log=True),
    "heatmap panels": lambda: heatmap_panels([("W", GRID), ("W_r", GRID), ("W − W_r", GRID * 1e-3)]),
    "heatmap, 2000 columns": lambda: matrix_heatmap(np.ones((2, 2000)) * 1e-4, title="W"),  # not "1.5k"
    "heatmap, diverging": lambda: matrix_heatmap(GRID, title="a"),
    "heatmap, sequential": lambda: matrix_heatmap(GRID, title="W", symmetric=False),
    "outputs": lambda: outputs_scatter(TINY, TINY * 1.01, rank=1),
    "layer bound": lambda: bound_scatter(TINY, TINY / 2, rank=1),
    "image spectra": lambda: channel_spectra_figure(np.stack([TINY, TINY / 2]), ("Y", "C"), (1, 1)),
    "layer spectra": lambda: spectra_figure({"layer 1": TINY}),
    "ΔW spectra": lambda: delta_spectra_figure([("layer 1", TINY, TINY / 3, 2, 1)]),
}


@pytest.mark.parametrize("name", FIGURES)
def test_values_are_written_in_powers_of_ten_never_with_si_prefixes(name):
    axes = _numeric_axes(FIGURES[name]())
    assert axes, "the figure shows values somewhere"
    prefixed = {axis: spec.get("exponentformat", "B (plotly's default)") for axis, spec in axes.items()
                if spec.get("exponentformat") != "power"}
    assert not prefixed, f"{name}: SI prefixes on {prefixed}"
