"""The matrix explorer under AppTest: numbers against numpy (float64 LAPACK), bad input, caching, files."""

import importlib
import io
import math

import numpy as np
import pytest
import torch
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from lowrank_core.sources import generate
from tests.conftest import APP

FLOAT32_EPS = float(np.finfo(np.float32).eps)


def _matrix_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/matrix.py").run()
    assert not at.exception
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _number(text: str) -> float:
    return float(text.replace(",", "").replace("%", "").replace("×", ""))


def _oracle(W: np.ndarray, rank: int) -> dict[str, float]:
    """Everything the number cards show, computed by numpy in float64."""
    W = W.astype(np.float64)
    m, n = W.shape
    U, S, Vh = np.linalg.svd(W, full_matrices=False)
    W_r = (U[:, :rank] * S[:rank]) @ Vh[:rank]
    tol = FLOAT32_EPS * max(m, n) * S[0]
    return {
        "numerical rank": np.linalg.matrix_rank(W, tol=tol),
        "relative Frobenius error": np.linalg.norm(W - W_r) / np.linalg.norm(W),
        "relative spectral error": np.linalg.norm(W - W_r, 2) / S[0],
        "energy kept": 100 * (S[:rank] ** 2).sum() / (S**2).sum(),
        "parameters, dense": m * n,
        "parameters, factored": rank * (m + n),
        "break-even rank": m * n / (m + n),
        "W_r": W_r,
        "S": S,
    }


def _generated(name: str, **params) -> np.ndarray:
    return generate(name, **params).numpy()


def test_default_page_numbers_match_numpy():
    at = _matrix_page()
    W = _generated("notebook", m=15, n=15, k=4, seed=0)
    oracle = _oracle(W, 4)
    metrics = _metrics(at)
    assert oracle["numerical rank"] == 4
    assert metrics["numerical rank"] == "4"
    assert metrics["rank kept"] == "4"  # the slider starts at the numerical rank
    assert at.slider(key="matrix_rank").value == 4 and at.slider(key="matrix_rank").max == 15
    assert _number(metrics["relative Frobenius error"]) < 1e-5  # rank 4 reproduces W up to float32 rounding
    assert metrics["parameters, dense"] == "225" and metrics["parameters, factored"] == "120"

    at.slider(key="matrix_rank").set_value(2).run()
    assert not at.exception
    oracle = _oracle(W, 2)
    metrics = _metrics(at)
    assert metrics["rank kept"] == "2"
    assert metrics["numerical rank"] == "4"
    for label in ("relative Frobenius error", "relative spectral error"):
        assert _number(metrics[label]) == pytest.approx(oracle[label], rel=1e-3), label
    assert _number(metrics["energy kept"]) == pytest.approx(oracle["energy kept"], abs=1e-4)
    assert _number(metrics["parameters, dense"]) == oracle["parameters, dense"]
    assert _number(metrics["parameters, factored"]) == oracle["parameters, factored"] == 60
    assert _number(metrics["dense / factored"]) == pytest.approx(225 / 60, rel=1e-2)
    assert _number(metrics["break-even rank"]) == pytest.approx(oracle["break-even rank"], abs=0.05)
    assert not at.error
    assert len(at.get("plotly_chart")) >= 5


@pytest.mark.parametrize(("generator", "params"), [
    ("hilbert", {"n": 10}),
    ("identity", {"n": 7}),
    ("random-full-rank", {"m": 30, "n": 12}),
])
def test_a_new_source_restarts_the_slider_at_its_numerical_rank(generator, params):
    at = _matrix_page()
    at.selectbox(key="matrix_generator").set_value(generator).run()
    for name, value in params.items():
        at.number_input(key=f"matrix_gen_{generator}_{name}").set_value(value).run()
    assert not at.exception
    seed = {"seed": 0} if generator == "random-full-rank" else {}
    W = _generated(generator, **params, **seed)
    expected = _oracle(W, 1)["numerical rank"]
    assert at.slider(key="matrix_rank").value == expected
    assert _metrics(at)["numerical rank"] == str(expected)
    assert at.slider(key="matrix_rank").max == min(W.shape)


def test_optimal_hard_threshold_recovers_rank_10_under_noise():
    at = _matrix_page()
    at.selectbox(key="matrix_generator").set_value("noisy-low-rank").run()  # 200 x 200, rank 10, σ = 0.01
    assert not at.exception
    W = _generated("noisy-low-rank", m=200, n=200, rank=10, noise_sigma=0.01, seed=0)
    oracle = _oracle(W, 10)
    # numpy: the threshold (4/√3)·√n·σ of Gavish & Donoho for a square matrix with known σ
    tau = 4 / math.sqrt(3) * math.sqrt(200) * 0.01
    assert int((oracle["S"] > tau).sum()) == 10
    assert _metrics(at)["numerical rank"] == str(oracle["numerical rank"])
    assert oracle["numerical rank"] > 150  # the noise makes the numerical rank (nearly) full
    assert any("optimal hard threshold" in i.value for i in at.info)  # the noise demo explains why

    at.segmented_control(key="matrix_rule").set_value("oht").run()
    assert not at.exception
    assert _metrics(at)["rank kept"] == "10"
    assert at.slider(key="matrix_rank").value == 10
    assert any("known σ = 0.01" in md.value for md in at.markdown)

    at.radio(key="matrix_sigma").set_value("estimate").run()  # σ unknown: estimated from the median
    assert not at.exception
    assert _metrics(at)["rank kept"] == "10"

    at.segmented_control(key="matrix_rule").set_value("tolerance").run()
    assert _metrics(at)["rank kept"] == str(oracle["numerical rank"])


def test_energy_rule_matches_numpy():
    at = _matrix_page()
    at.selectbox(key="matrix_generator").set_value("decay-power").run()
    at.segmented_control(key="matrix_rule").set_value("energy").run()
    at.number_input(key="matrix_energy").set_value(95.0).run()
    assert not at.exception
    S = _oracle(_generated("decay-power", m=100, n=100, rate=1.0, seed=0), 1)["S"]
    kept = np.cumsum(S**2) / (S**2).sum()
    expected = int(np.argmax(kept >= 0.95)) + 1
    assert _metrics(at)["rank kept"] == str(expected)
    assert at.slider(key="matrix_rank").disabled


def test_added_noise_is_seeded_and_known_to_the_threshold():
    at = _matrix_page()
    at.selectbox(key="matrix_generator").set_value("notebook").run()
    at.number_input(key="matrix_gen_notebook_m").set_value(60).run()
    at.number_input(key="matrix_gen_notebook_n").set_value(60).run()
    at.number_input(key="matrix_noise").set_value(0.001).run()
    assert not at.exception
    at.segmented_control(key="matrix_rule").set_value("oht").run()
    assert _metrics(at)["rank kept"] == "4"  # rand(60, 4) @ rand(4, 60) has σ_4 far above 0.001·(4/√3)·√60
    first = _metrics(at)["relative Frobenius error"]
    at.run()
    assert _metrics(at)["relative Frobenius error"] == first  # same seed, same noise


def _bad_files() -> dict[str, bytes]:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    return {
        "text.csv": b"1,2,3\n4,five,6\n",
        "ragged.csv": b"1,2,3\n4,5\n",
        "nan.csv": b"1,2\nnan,4\n",
        "pickle.npy": buffer.getvalue(),
    }


@pytest.mark.parametrize("name", list(_bad_files()))
def test_a_bad_upload_shows_an_error_and_the_page_stays_usable(name):
    at = _matrix_page()
    at.segmented_control(key="matrix_source").set_value("upload").run()
    upload = (name, _bad_files()[name], "application/octet-stream")
    at.file_uploader(key="matrix_upload").set_value(upload).run()
    assert not at.exception
    assert len(at.error) == 1
    assert not at.metric  # nothing computed from the bad file
    assert at.segmented_control(key="matrix_source").value == "upload"  # the choice is still there
    assert any(t.value == f"File: {name}" for t in at.text)  # the name as plain text

    at.segmented_control(key="matrix_source").set_value("generator").run()
    assert not at.exception and not at.error
    assert _metrics(at)["numerical rank"] == "4"


def test_a_file_name_is_never_rendered_as_markdown():
    at = _matrix_page()
    name = "**bold** [link](http://x) $x$ :red[r].csv"
    at.segmented_control(key="matrix_source").set_value("upload").run()
    # an empty file: the loader's message quotes the name
    at.file_uploader(key="matrix_upload").set_value((name, b"", "text/csv")).run()
    assert not at.exception
    assert any(t.value == f"File: {name}" for t in at.text)  # st.text: shown as typed
    message = at.error[0].value
    assert "empty" in message
    for raw in ("**", "[link]", "$x$", ":red["):
        assert raw not in message  # every markdown character is escaped in the error
    assert "\\*\\*bold" in message


def test_a_good_upload_is_read_with_its_notices():
    at = _matrix_page()
    W = np.arange(1.0, 13.0).reshape(4, 3) ** 2  # rank 3
    text = "a,b,c\n" + "\n".join(",".join(str(v) for v in row) for row in W)
    at.segmented_control(key="matrix_source").set_value("upload").run()
    at.file_uploader(key="matrix_upload").set_value(("m.csv", text.encode(), "text/csv")).run()
    assert not at.exception and not at.error
    assert any("column names" in i.value for i in at.info)
    oracle = _oracle(W, 3)
    assert _metrics(at)["numerical rank"] == str(oracle["numerical rank"]) == "3"

    buffer = io.BytesIO()
    np.save(buffer, W.astype(np.float32), allow_pickle=False)
    at.file_uploader(key="matrix_upload").set_value(("m.npy", buffer.getvalue(), "application/octet-stream"))
    at.run()
    at.slider(key="matrix_rank").set_value(1).run()
    assert not at.exception
    oracle = _oracle(W, 1)
    assert _number(_metrics(at)["relative Frobenius error"]) == pytest.approx(
        oracle["relative Frobenius error"], rel=1e-3)


def test_the_grid_starts_at_the_notebook_2x3_and_takes_pasted_text():
    at = _matrix_page()
    at.segmented_control(key="matrix_source").set_value("grid").run()
    assert not at.exception
    metrics = _metrics(at)
    assert metrics["numerical rank"] == "2" and metrics["parameters, dense"] == "6"

    at.text_area(key="matrix_paste").set_value("1 2 3 4\n2 4 6 8\n-1 -2 -3 -4").run()
    at.button(key="matrix_paste_apply").click().run()
    assert not at.exception and not at.error
    assert _metrics(at)["numerical rank"] == "1"
    assert _metrics(at)["parameters, dense"] == "12"

    at.text_area(key="matrix_paste").set_value("1, 2\n3").run()  # ragged: refused, the grid is kept
    at.button(key="matrix_paste_apply").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "Row 2" in at.error[0].value
    assert _metrics(at)["numerical rank"] == "1"

    # issue 12: rows pasted with two separators used to turn row 1 into column names, silently 2 rows
    at.text_area(key="matrix_paste").set_value("1 2 3\n4,5,6\n7,8,10").run()
    at.button(key="matrix_paste_apply").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "Row 1" in at.error[0].value and "one separator" in at.error[0].value
    assert _metrics(at)["parameters, dense"] == "12"  # the grid is kept


def test_a_slider_move_does_not_recompute_the_svd(monkeypatch):
    engine = importlib.import_module("lowrank_core.factorize")
    original = engine.factorize
    calls = []

    def counting(*args, **kwargs):
        calls.append(tuple(args[0].shape))
        return original(*args, **kwargs)

    monkeypatch.setattr(engine, "factorize", counting)
    cache = importlib.import_module("ui.matrix.cache")  # the error curve's measurements, cached with the SVD
    measured = []
    original_error = cache.truncation_error

    def counting_error(x, factorization, rank, **kwargs):
        measured.append(rank)
        return original_error(x, factorization, rank, **kwargs)

    monkeypatch.setattr(cache, "truncation_error", counting_error)
    at = _matrix_page()
    at.selectbox(key="matrix_generator").set_value("random-full-rank").run()
    before, measured_before = len(calls), len(measured)
    at.number_input(key="matrix_seed").set_value(424242).run()  # a matrix no other test has cached
    assert not at.exception
    assert calls[before:] == [(50, 50)]  # the new matrix is factorized once
    curve = measured[measured_before:]
    assert 2 <= len(curve) <= 25 and curve[0] == 0 and curve[-1] == 50  # the error chart's ranks, once
    for rank in (3, 10, 49, 0, 50):
        at.slider(key="matrix_rank").set_value(rank).run()
        assert not at.exception
        assert _metrics(at)["rank kept"] == str(rank)
    at.toggle(key="matrix_log").set_value(False).run()
    assert len(calls) == before + 1  # ... and never again
    assert len(measured) == measured_before + len(curve)


def test_downloads_hold_the_factors(monkeypatch):
    stored: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def recording(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        stored[file_id] = path_or_data
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    at = _matrix_page()
    at.slider(key="matrix_rank").set_value(3).run()
    assert not at.exception
    buttons = {b.label: b for b in at.get("download_button")}
    assert set(buttons) == {"a.npy", "b.npy", "a.csv", "b.csv", "Summary of this view (HTML)"}

    def load(label):
        file_id = buttons[label].proto.url.rsplit("/", 1)[1].split(".")[0]
        return np.load(io.BytesIO(stored[file_id]), allow_pickle=False)

    a, b = load("a.npy"), load("b.npy")
    assert a.shape == (15, 3) and b.shape == (3, 15)
    W = _generated("notebook", m=15, n=15, k=4, seed=0)
    W_3 = _oracle(W, 3)["W_r"]
    np.testing.assert_allclose(a.astype(np.float64) @ b, W_3, atol=1e-4 * np.abs(W).max())
    # b has orthonormal rows (it is V_rᵀ)
    np.testing.assert_allclose(b @ b.T, np.eye(3), atol=1e-5)
    assert buttons["a.csv"].proto.deferred_file_id  # the CSV is made when clicked


def test_rank_zero_has_no_factors_but_still_renders():
    at = _matrix_page()
    at.slider(key="matrix_rank").set_value(0).run()
    assert not at.exception
    metrics = _metrics(at)
    assert _number(metrics["relative Frobenius error"]) == pytest.approx(1.0, rel=1e-6)
    assert _number(metrics["energy kept"]) == 0.0
    assert [button.label for button in at.get("download_button")] == ["Summary of this view (HTML)"]


def test_torch_threads_are_left_alone():
    # the page must not change global torch state that other sessions share
    before = torch.get_num_threads()
    _matrix_page()
    assert torch.get_num_threads() == before
