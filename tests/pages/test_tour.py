"""The tour page ("From the notebook") under AppTest, its numbers checked against numpy in float64."""

import base64
import json

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from lowrank_core.cli import demo_report
from lowrank_core.sources import notebook_matrix
from tests.conftest import APP

FLOAT32_EPS = float(np.finfo(np.float32).eps)


def _tour() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/tour.py").run()
    assert not at.exception
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _oracle_rank(m, n, k, seed) -> tuple[int, np.ndarray]:
    """numpy's rank of the notebook's W (float64, torch's float32 tolerance) and its singular values."""
    W = notebook_matrix(m, n, k, seed=seed).double().numpy()
    S = np.linalg.svd(W, compute_uv=False)
    tol = FLOAT32_EPS * max(m, n) * S[0]
    return int(np.linalg.matrix_rank(W, tol=tol)), S


def test_default_run_replays_the_notebook():
    at = _tour()
    metrics = _metrics(at)
    rank, S = _oracle_rank(15, 15, 4, 0)
    assert rank == 4
    assert metrics["rank of W"] == "4"
    assert float(metrics["tolerance ε·max(m, n)·σ₁"]) == pytest.approx(FLOAT32_EPS * 15 * S[0], rel=1e-3)
    assert metrics["U.shape"] == "(15, 15)"
    assert metrics["S.shape"] == "(15,)"
    assert metrics["Vh.shape"] == "(15, 15)"
    assert metrics["a.shape"] == "(15, 4)" and metrics["b.shape"] == "(4, 15)"
    assert metrics["W.nelement()"] == "225"
    assert metrics["a.nelement() + b.nelement()"] == "120"
    assert float(metrics["largest |z − z_lr|"]) < 1e-4
    assert float(metrics["largest |z − z_lr| at rank 4"]) < 1e-4
    assert _oracle_difference(15, 15, 4, 0, 4) < 1e-5  # rank 4 up to W's own float32 rounding
    # the torch lines the steps quote
    code = "\n".join(c.value for c in at.code)
    for line in ("torch.linalg.matrix_rank(W)", "U, S, Vh = torch.linalg.svd(W, full_matrices=False)",
                 "b = Vh[:r]", "z = W @ x + bias"):
        assert line in code
    assert at.slider(key="tour_rank").value == 4
    assert at.slider(key="tour_rank").max == 15 and at.slider(key="tour_rank").min == 1


def _oracle_difference(m, n, k, seed, rank) -> float:
    """max |z - z_lr| in float64 by numpy, with x and bias drawn as the command line's demo draws them."""
    W = notebook_matrix(m, n, k, seed=seed).double().numpy()
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=generator).double().numpy()
    bias = torch.randn(m, generator=generator).double().numpy()
    U, S, Vh = np.linalg.svd(W)
    W_lr = (U[:, :rank] * S[:rank]) @ Vh[:rank]
    return float(np.abs((W @ x + bias) - (W_lr @ x + bias)).max())


def test_below_the_rank_the_outputs_part():
    at = _tour()
    _, S = _oracle_rank(15, 15, 4, 0)
    at.slider(key="tour_rank").set_value(3).run()
    assert not at.exception
    metrics = _metrics(at)
    difference = float(metrics["largest |z − z_lr| at rank 3"])
    assert difference > 1e-2
    assert difference == pytest.approx(_oracle_difference(15, 15, 4, 0, 3), rel=1e-2)
    assert difference == pytest.approx(demo_report(0)["lower_rank_max_abs_difference"], rel=1e-2)  # = the CLI
    assert float(metrics["first dropped singular value σᵣ₊₁"]) == pytest.approx(S[3], rel=1e-2)
    # the rest of the story (at the matrix's rank) is unchanged
    assert float(metrics["largest |z − z_lr|"]) < 1e-4


def test_other_sizes_follow_the_controls():
    at = _tour()
    at.number_input(key="tour_m").set_value(20).run()
    at.number_input(key="tour_n").set_value(10).run()
    at.number_input(key="tour_k").set_value(6).run()
    at.number_input(key="tour_seed").set_value(3).run()
    assert not at.exception
    rank, _ = _oracle_rank(20, 10, 6, 3)
    metrics = _metrics(at)
    assert metrics["rank of W"] == str(rank) == "6"
    assert metrics["U.shape"] == "(20, 10)" and metrics["S.shape"] == "(10,)"
    assert metrics["Vh.shape"] == "(10, 10)"
    assert metrics["W.nelement()"] == "200"
    assert metrics["a.nelement() + b.nelement()"] == str(6 * (20 + 10))
    assert at.slider(key="tour_rank").value == 6  # the rank slider restarts at the new k
    assert at.slider(key="tour_rank").max == 10


def test_k_is_clamped_when_the_matrix_shrinks():
    at = _tour()
    at.number_input(key="tour_m").set_value(3).run()
    assert not at.exception
    assert at.number_input(key="tour_k").value == 3
    assert _metrics(at)["rank of W"] == "3"
    at.number_input(key="tour_n").set_value(1).run()  # a single column: rank 1, no slider needed
    assert not at.exception
    assert _metrics(at)["rank of W"] == "1"


def _run_shown_code(at: AppTest) -> dict:
    """Run the tour's code blocks, exactly as the page shows them, top to bottom in a fresh namespace."""
    namespace: dict = {}
    for block in (block for block in at.code if block.language == "python"):  # not the share box's link
        exec(compile(block.value, "<tour>", "exec"), namespace)  # noqa: S102 - the page's own code
    return namespace


@pytest.mark.parametrize(("sizes", "lower"), [((15, 15, 4, 0), 3), ((20, 10, 6, 3), 2), ((7, 12, 3, 11), 1),
                                            ((9, 6, 2, 5), 6)])
def test_the_shown_code_runs_and_gives_every_number_the_page_prints(sizes, lower):
    m, n, k, seed = sizes
    at = _tour()
    for key, value in zip(("tour_m", "tour_n", "tour_k", "tour_seed"), sizes, strict=True):
        at.number_input(key=key).set_value(value).run()
    at.slider(key="tour_rank").set_value(lower).run()
    assert not at.exception
    code = "\n".join(block.value for block in at.code)
    assert "V[:, :r].T" not in code  # the notebook's torch.svd line, wrong with torch.linalg.svd
    ns = _run_shown_code(at)
    metrics = _metrics(at)
    W, W_lr = ns["W"].double().numpy(), ns["W_lr"].double().numpy()
    assert np.abs(W_lr - W).max() < 1e-5 * np.abs(W).max()  # W_lr equals W at the default rank
    assert metrics["rank of W"] == str(int(ns["rank"])) == str(min(k, m, n))
    assert metrics["tolerance ε·max(m, n)·σ₁"] == f"{float(ns['tolerance']):.3e}"
    for name in ("U", "S", "Vh", "a", "b", "W_lr"):
        assert metrics[f"{name}.shape"] == str(tuple(ns[name].shape))
    assert metrics["largest |W_lr − W|"] == f"{float((ns['W_lr'] - ns['W']).abs().max()):.2e}"
    assert metrics["W.nelement()"] == str(ns["W"].nelement())
    assert metrics["a.nelement() + b.nelement()"] == str(ns["a"].nelement() + ns["b"].nelement())
    assert metrics["largest |z − z_lr|"] == f"{float((ns['z'] - ns['z_lr']).abs().max()):.2e}"
    lowered = float((ns["z"] - ns["z_r2"]).abs().max())
    assert metrics[f"largest |z − z_lr| at rank {lower}"] == f"{lowered:.2e}"
    dropped = float(ns["S"][lower]) if lower < min(m, n) else 0.0  # at full rank nothing is dropped
    assert metrics["first dropped singular value σᵣ₊₁"] == f"{dropped:.2e}"
    # the numbers in the text, the table and the charts are the code's too
    ratio = ns["W"].nelement() / (ns["a"].nelement() + ns["b"].nelement())
    assert metrics["ratio"] == f"{ratio:.2f}×"
    prose = " ".join(block.value for block in at.markdown)
    assert f"mn/(m + n) = {m * n / (m + n):.1f}" in prose and f"r = {int(ns['rank'])} " in prose
    table = at.dataframe[0].value
    np.testing.assert_array_equal(table["z"].to_numpy(), ns["z"].numpy())
    np.testing.assert_array_equal(table["z_lr"].to_numpy(), ns["z_lr"].numpy())
    spectrum = next(chart for chart in at.get("plotly_chart") if chart.proto.id.endswith("-tour_spectrum"))
    bars = [trace for trace in json.loads(spectrum.proto.spec)["data"] if trace.get("type") == "bar"]
    shown_S = np.concatenate([_plotly_values(trace["y"]) for trace in bars])
    np.testing.assert_array_equal(np.sort(shown_S)[::-1], ns["S"].numpy())
    if dropped > 0:  # the share of Eckart–Young's bound ‖z − z_r2‖ ≤ σ_{r2+1}‖x‖ the error uses
        share = float(torch.linalg.vector_norm((ns["z"] - ns["z_r2"]).double())) / (
            dropped * float(torch.linalg.vector_norm(ns["x"].double())))
        assert f"here the error is {share:.0%} of that bound" in " ".join(c.value for c in at.caption)
    # and the code's W is the matrix the rest of the app means by the notebook's (m, n, k, seed)
    np.testing.assert_array_equal(ns["W"].numpy(), notebook_matrix(m, n, k, seed=seed).numpy())


def _plotly_values(values) -> np.ndarray:
    """A trace's values as plotly's JSON holds them: a list, or a typed array {"dtype", "bdata"}."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"])).astype(float)
    return np.asarray(values, dtype=float)
