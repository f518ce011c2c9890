"""The matrix explorer's rank rules and numbers as a new user reads them (issue 12), against numpy in float64:
"energy 100 %" is the numerical rank whatever the seed, the optimal hard threshold on the exactly-rank-4
default matrix keeps 4 and says why, the two noise inputs are told apart, and a relative error is written
one way (a fraction) on every page."""

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from lowrank_core import factorize
from lowrank_core.sources import generate
from tests.conftest import APP
from ui import sweep
from ui.matrix.figures import matrix_sweep_frames

FLOAT32_EPS = float(np.finfo(np.float32).eps)


def _page(path: str = "pages/matrix.py") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page(path).run()
    assert not at.exception
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _numpy_rank(W: np.ndarray) -> int:
    """numpy's rank with torch's float32 tolerance, in float64."""
    S = np.linalg.svd(W.astype(np.float64), compute_uv=False)
    return int((S > FLOAT32_EPS * max(W.shape) * S[0]).sum())


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 5, 8])
def test_all_the_energy_is_the_numerical_rank_on_the_page(seed):
    """Seeds 0–9 gave 15 or 4: a float32 ΣS² was compared with a float64 ‖W‖² with a 1e-12 slack."""
    at = _page()
    at.number_input(key="matrix_seed").set_value(seed).run()
    at.segmented_control(key="matrix_rule").set_value("energy").run()
    at.number_input(key="matrix_energy").set_value(100.0).run()
    assert not at.exception
    expected = _numpy_rank(generate("notebook", m=15, n=15, k=4, seed=seed).numpy())
    assert expected == 4
    assert _metrics(at)["rank kept"] == str(expected)


def test_the_optimal_hard_threshold_keeps_the_rank_of_an_exactly_low_rank_matrix_and_says_why():
    """On the default (rank 4) matrix it kept 5 with no word: the "noise" it estimated is float32 rounding,
    whose median singular value put τ below the numerical tolerance."""
    at = _page()
    at.segmented_control(key="matrix_rule").set_value("oht").run()
    at.radio(key="matrix_sigma").set_value("estimate").run()
    assert not at.exception
    assert _metrics(at)["rank kept"] == "4" == str(_numpy_rank(generate("notebook", m=15, n=15, k=4,
                                                                          seed=0).numpy()))
    said = " ".join(block.value for block in at.markdown)
    assert "raised to the numerical tolerance" in said and "exactly low rank" in said and "keeps 4" in said


def test_the_two_noise_inputs_are_told_apart():
    at = _page()
    at.selectbox(key="matrix_generator").set_value("noisy-low-rank").run()
    assert not at.exception
    caption = " ".join(c.value for c in at.caption)
    assert "Two noise settings" in caption and "σ² = σ_generator² + σ_added²" in caption
    added = at.number_input(key="matrix_noise")
    assert "on top of any generator" in added.help and "independent" in added.help


def test_a_relative_error_is_a_fraction_with_four_significant_digits_on_every_page(monkeypatch):
    """It was 1.2345e-01 on the matrix page, 0.1234 on the image page and a percentage in the sweep."""
    at = _page()
    at.slider(key="matrix_rank").set_value(2).run()
    W = generate("notebook", m=15, n=15, k=4, seed=0).numpy().astype(np.float64)
    U, S, Vh = np.linalg.svd(W)
    residual = W - (U[:, :2] * S[:2]) @ Vh[:2]
    metrics = _metrics(at)
    relative = float(metrics["relative Frobenius error"])
    assert metrics["relative Frobenius error"] == f"{relative:.4g}" and "e" not in f"{relative:.4g}"
    assert relative == pytest.approx(np.linalg.norm(residual) / np.linalg.norm(W), rel=1e-3)
    assert metrics["relative spectral error"] == f"{float(metrics['relative spectral error']):.4g}"
    assert not any("%" in value for label, value in metrics.items() if "relative" in label)

    labels = []  # the sweep writes it into each frame the same way
    monkeypatch.setattr(sweep, "sweep_frame", lambda picture, S, rank, *, label, **kw: labels.append(label))
    errors = np.linalg.norm(residual) / np.linalg.norm(W) * np.ones(16)
    matrix_sweep_frames(factorize(torch.from_numpy(W).float()), np.arange(15), np.arange(15), [2], limit=1.0,
                        relative_errors=errors)
    assert labels == [f"rank r = 2 of 15   relative error {errors[2]:.4g}"]

    layer = _page("pages/layer.py")
    value = next(m.value for m in layer.metric if m.label == "relative error")
    assert value == f"{float(value):.4g}" and "%" not in value
