"""AppTest of the checkpoint inspector: the table, one weight's curves, the budget and the export, each
checked against numpy float64 (and files read back by safetensors' own numpy reader, not by lowrank_core).
"""

import base64
import io
import json
import math
import pathlib
import pickle

import numpy as np
import pandas as pd
import pytest
import safetensors.numpy
import safetensors.torch
import torch
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

import ui.checkpoint.cache as checkpoint_cache
from lowrank_core.budget_study import digits_budget_study
from lowrank_core.layers import derived_seed
from tests.conftest import APP
from ui.jobs import job_board

FLOAT32_EPS = float(np.finfo(np.float32).eps)
PAGE = "pages/checkpoint.py"


class _TouchMarker:
    """Unpickling this calls ``pathlib.Path.touch(marker)``: the proof that code ran."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def _torch_file(tensors: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    return buffer.getvalue()


def _state_dict() -> dict[str, torch.Tensor]:
    """A small model's state dict: a linear layer, a conv kernel, and tensors that are not analysed."""
    generator = torch.Generator().manual_seed(7)
    low_rank = torch.randn(48, 6, generator=generator) @ torch.randn(6, 32, generator=generator)
    return {
        "fc.weight": low_rank + 1e-3 * torch.randn(48, 32, generator=generator),
        "fc.bias": torch.randn(48, generator=generator),
        "conv.weight": torch.randn(16, 4, 3, 3, generator=generator),
        "embedding.index": torch.arange(64).reshape(8, 8),  # integers: skipped with the reason
        "broken.weight": torch.full((12, 12), math.nan),  # NaN: skipped with the reason
        "norm.weight": torch.ones(48),
    }


@pytest.fixture
def downloads(monkeypatch) -> dict:
    """file name -> a function returning that download button's bytes (made on click, or stored)."""
    found = {}
    add, add_deferred = MediaFileManager.add, MediaFileManager.add_deferred

    def stored(self, path_or_data, mimetype, coordinates, file_name=None, *args, **kwargs):
        found[file_name] = lambda: path_or_data
        return add(self, path_or_data, mimetype, coordinates, file_name, *args, **kwargs)

    def deferred(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        found[file_name] = data_callable
        return add_deferred(self, data_callable, mimetype, coordinates, file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add", stored)
    monkeypatch.setattr(MediaFileManager, "add_deferred", deferred)
    return found


def _open(params: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(PAGE)
    for name, value in (params or {}).items():
        at.query_params[name] = value
    at.run()
    assert not at.exception
    return at


def _upload(at: AppTest, data: bytes, name: str) -> AppTest:
    at.radio(key="checkpoint_source").set_value("upload").run()
    at.file_uploader(key="checkpoint_upload").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception
    return at


def _plain(text: str) -> str:
    """A message as the user reads it (the page escapes every punctuation mark for markdown)."""
    return text.replace("\\", "")


def _table(at: AppTest, column: str):
    (frame,) = [d.value for d in at.dataframe if column in d.value.columns]
    return frame


def _chart(at: AppTest, key: str) -> dict:
    (chart,) = [c for c in at.get("plotly_chart") if c.proto.id.endswith(key) or key in c.proto.id]
    return json.loads(chart.proto.spec)


def _trace(figure: dict, starts: str) -> dict:
    """The one trace whose name starts with ``starts``, its x and y as numpy arrays."""
    (trace,) = [t for t in figure["data"] if t.get("name", "").startswith(starts)]
    return {**trace, "x": _array(trace["x"]), "y": _array(trace["y"])}


def _array(values) -> np.ndarray:
    """A plotly JSON array: a list, or a typed array {"dtype": "f8", "bdata": base64}."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
    return np.asarray(values)


def _numpy_row(W: np.ndarray) -> dict:
    """The table's numbers for one weight, from numpy's float64 SVD of its (out, in·kh·kw) matrix."""
    W = W.reshape(W.shape[0], -1).astype(np.float64)
    S = np.linalg.svd(W, compute_uv=False)
    energy = np.cumsum(S**2) / np.sum(S**2)
    m, n = W.shape
    return {"numerical rank": int((S > FLOAT32_EPS * max(m, n) * S[0]).sum()),
            "stable rank": float(np.sum(S**2) / S[0] ** 2),
            "rank 90 %": int(np.searchsorted(energy, 0.9 - 1e-12) + 1),
            "rank 99 %": int(np.searchsorted(energy, 0.99 - 1e-12) + 1),
            "break-even rank": m * n / (m + n), "parameters": m * n}


def _check_row(row, W: np.ndarray) -> None:
    expected = _numpy_row(W)
    for column in ("numerical rank", "parameters", "rank 90 %", "rank 99 %"):
        assert row[column] == expected[column], column
    assert row["stable rank"] == pytest.approx(expected["stable rank"], abs=0.006)
    assert row["break-even rank"] == pytest.approx(expected["break-even rank"], abs=0.06)


# ============================================================================================== the file


def test_the_built_in_digits_mlp_is_listed_with_numpy_numbers(downloads):
    at = _open()
    table = _table(at, "stable rank")
    assert list(table["name"]) == ["0.weight", "2.weight", "4.weight"]
    arrays = safetensors.numpy.load(downloads["digits_mlp.safetensors"]())  # the example as a user gets it
    for _, row in table.iterrows():
        _check_row(row, arrays[row["name"]])
    assert any("3 weights analysed (17,024 parameters)" in caption.value for caption in at.caption)


def test_a_state_dict_upload_lists_its_weights_and_the_skipped_ones_with_reasons():
    tensors = _state_dict()
    at = _upload(_open(), _torch_file(tensors), "model.pt")
    table = _table(at, "stable rank")
    assert list(table["name"]) == ["fc.weight", "conv.weight"]
    assert list(table["shape"]) == ["48×32", "16×4×3×3"]
    for _, row in table.iterrows():
        _check_row(row, tensors[row["name"]].numpy())
    skipped = _table(at, "reason").set_index("name")["reason"]
    assert "not float16, bfloat16, float32 or float64" in skipped["embedding.index"]
    assert "NaN" in skipped["broken.weight"]
    assert not at.error


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_a_safetensors_upload_in_each_precision_is_read(dtype):
    tensors = {name: t.to(dtype) for name, t in _state_dict().items() if t.is_floating_point()
               and torch.isfinite(t).all()}
    at = _upload(_open(), safetensors.torch.save(tensors), "model.safetensors")
    table = _table(at, "stable rank")
    assert set(table["dtype"]) == {str(dtype).removeprefix("torch.")}
    for _, row in table.iterrows():
        _check_row(row, tensors[row["name"]].double().numpy())  # the stored values, not the float32 originals


def test_a_rejected_upload_clears_the_old_results_and_says_why(tmp_path):
    at = _upload(_open(), _torch_file(_state_dict()), "good.pt")
    assert at.dataframe and at.metric
    marker = tmp_path / "ran"
    payload = _torch_file({"fc.weight": torch.ones(4, 4), "hook": _TouchMarker(marker)})
    at.file_uploader(key="checkpoint_upload").set_value(("evil.bin", payload, "x")).run()
    assert not at.exception
    assert "could run code" in _plain(at.error[0].value)
    assert not at.dataframe and not at.metric and not at.get("plotly_chart")  # nothing of good.pt is left
    assert not marker.exists()
    for data, words in [(b"", "empty"), (b"not a model", "neither a .safetensors"),
                        (pickle.dumps({"w": [1.0]}), "bare Python pickle")]:
        at.file_uploader(key="checkpoint_upload").set_value(("x.bin", data, "x")).run()
        assert words in _plain(at.error[0].value) and not at.dataframe


# ============================================================================================ one weight


def test_a_picked_weight_shows_its_spectrum_and_errors_against_numpy():
    tensors = _state_dict()
    at = _upload(_open(), _torch_file(tensors), "model.pt")
    at.selectbox(key="checkpoint_weight").select("conv.weight").run()
    W = tensors["conv.weight"].reshape(16, -1).double().numpy()  # (16, 36)
    U, S, Vh = np.linalg.svd(W, full_matrices=False)
    spectrum = _trace(_chart(at, "checkpoint_spectrum"), "σ")
    np.testing.assert_allclose(spectrum["y"], S, rtol=1e-5)
    errors = _chart(at, "checkpoint_errors")
    ranks = np.asarray(_trace(errors, "measured")["x"])
    assert ranks[0] == 0 and ranks[-1] == 16
    expected = [np.linalg.norm(W - (U[:, :r] * S[:r]) @ Vh[:r]) / np.linalg.norm(W) for r in ranks]
    np.testing.assert_allclose(_trace(errors, "measured")["y"], expected, atol=2e-6)
    np.testing.assert_allclose(_trace(errors, "Eckart")["y"], expected, atol=1e-6)  # float32 σ
    assert _trace(errors, "outputs")["y"][0] == pytest.approx(1.0)  # rank 0 keeps nothing (no bias here)
    assert _trace(errors, "outputs")["y"][-1] == pytest.approx(0.0, abs=1e-5)
    assert at.metric[0].value == "16 × 36"


def test_the_linear_layer_uses_its_bias_and_seeded_random_inputs():
    tensors = _state_dict()
    at = _upload(_open(), _torch_file(tensors), "model.pt")
    W, b = tensors["fc.weight"].double().numpy(), tensors["fc.bias"].double().numpy()
    generator = torch.Generator().manual_seed(derived_seed(0, "checkpoint-inputs"))
    X = torch.randn(256, 32, generator=generator).double().numpy()
    U, S, Vh = np.linalg.svd(W, full_matrices=False)
    Z = X @ W.T + b
    errors = _chart(at, "checkpoint_errors")
    outputs = _trace(errors, "outputs")
    assert "random normal, 256 inputs" in outputs["name"]
    for r, value in zip(outputs["x"].astype(int), outputs["y"], strict=True):
        Z_r = X @ ((U[:, :r] * S[:r]) @ Vh[:r]).T + b
        assert value == pytest.approx(np.linalg.norm(Z - Z_r) / np.linalg.norm(Z), abs=2e-5)


def test_timing_runs_at_the_weights_own_shape(monkeypatch):
    calls = []
    original = checkpoint_cache.weight_timing

    def quick(shape, **kwargs):
        calls.append(shape)
        return original(shape, ranks=[1, 2], batch=4, min_run_time=0.001)

    monkeypatch.setattr(checkpoint_cache, "weight_timing", quick)
    at = _upload(_open(), _torch_file(_state_dict()), "timing.pt")
    at.selectbox(key="checkpoint_weight").select("conv.weight").run()
    at.button(key="checkpoint_time_button").click().run()
    assert calls == [(16, 36)]
    assert list(_table(at, "speed-up")["rank"]) == [1, 2]
    assert "16×36 layer" in _chart(at, "checkpoint_timing")["layout"]["title"]["text"]


# ================================================================================================ budget


def test_the_budget_shares_parameters_and_greedy_has_the_least_error():
    tensors = _state_dict()
    at = _upload(_open(), _torch_file(tensors), "model.pt")
    at.slider(key="checkpoint_budget").set_value(0.4).run()
    summary = _table(at, "Σ ‖W − Wᵣ‖²_F").set_index("allocation")
    dense = 48 * 32 + 16 * 36
    assert (summary["parameters after"] <= math.floor(0.4 * dense)).all()
    greedy = summary.loc["greedy (least total error)", "Σ ‖W − Wᵣ‖²_F"]
    assert greedy <= summary["Σ ‖W − Wᵣ‖²_F"].min() + 1e-9
    layers = _table(at, "greedy rank").set_index("name")
    for name in ("fc.weight", "conv.weight"):
        for method in ("greedy", "uniform", "energy"):
            rank = layers.loc[name, f"{method} rank"]
            W = tensors[name].reshape(tensors[name].shape[0], -1).double().numpy()
            S = np.linalg.svd(W, compute_uv=False)
            expected = 0.0 if rank == "dense" else math.sqrt(np.sum(S[int(rank):] ** 2) / np.sum(S**2))
            assert layers.loc[name, f"{method} error"] == pytest.approx(expected, abs=1e-5)


def test_a_byte_budget_counts_bytes_per_number():
    at = _upload(_open(), _torch_file(_state_dict()), "model.pt")
    at.radio(key="checkpoint_budget_kind").set_value("bytes").run()
    at.selectbox(key="checkpoint_precision").select(2).run()
    at.number_input(key="checkpoint_budget_mb").set_value(0.002).run()
    assert not at.exception
    assert next(m.value for m in at.metric if m.label == "budget") == "1,000 numbers"  # 2000 bytes / 2


def test_a_budget_below_rank_one_everywhere_says_so():
    at = _upload(_open(), _torch_file(_state_dict()), "model.pt")
    at.slider(key="checkpoint_budget").set_value(0.01).run()
    assert "below the" in _plain(at.error[0].value) and "rank 1 in every layer" in _plain(at.error[0].value)
    assert not at.exception


# ================================================================================================ export


@pytest.mark.parametrize("allocation", ["greedy", "uniform"])
def test_the_export_holds_numpy_best_factors_and_the_rank_pattern(downloads, allocation):
    tensors = _state_dict()
    at = _upload(_open(), _torch_file(tensors), "model.pt")
    at.radio(key="checkpoint_allocation").set_value(allocation).run()
    layers = _table(at, "greedy rank").set_index("name")
    pattern = json.loads(downloads["model_rank_pattern.json"]())
    expected = {name: int(layers.loc[name, f"{allocation} rank"]) for name in layers.index
                if layers.loc[name, f"{allocation} rank"] != "dense"}
    assert pattern == expected and pattern
    arrays = safetensors.numpy.load(downloads["model_factored.safetensors"]())
    for name, rank in pattern.items():
        W = tensors[name].reshape(tensors[name].shape[0], -1).double().numpy()
        U, S, Vh = np.linalg.svd(W, full_matrices=False)
        a, b = arrays[name + ".a"].astype(np.float64), arrays[name + ".b"].astype(np.float64)
        assert a.shape == (W.shape[0], rank) and b.shape == (rank, W.shape[1])
        np.testing.assert_allclose(a @ b, (U[:, :rank] * S[:rank]) @ Vh[:rank], atol=1e-4)
        assert name not in arrays
    np.testing.assert_array_equal(arrays["fc.bias"], tensors["fc.bias"].numpy())
    np.testing.assert_array_equal(arrays["embedding.index"], tensors["embedding.index"].numpy())


# ========================================================================================= digits study


def test_the_digits_study_runs_in_the_background_on_request(monkeypatch):
    def small(**kwargs):
        return digits_budget_study(fractions=(0.2, 0.5), seeds=(0, 1), train_epochs=3, finetune_epochs=1)

    monkeypatch.setattr(checkpoint_cache, "digits_budget_study", small)
    monkeypatch.setattr(checkpoint_cache, "study_key", lambda: ("checkpoint_study", "test", id(small)))
    at = _open()
    at.button(key="checkpoint_study_button").click().run()
    job_board().wait(timeout=120)
    at.run()
    figure = _chart(at, "checkpoint_study_chart")
    names = {trace["name"] for trace in figure["data"]}
    assert {"greedy (least total error)", "greedy (least total error), fine-tuned",
            "uniform share, fine-tuned", "same energy fraction"} <= names
    table = _table(at, "mean accuracy (%)")
    assert len(table) == 3 * 2 * 2 and (table["min (%)"] <= table["max (%)"]).all()


def test_an_upload_offers_no_digits_study():
    at = _upload(_open(), _torch_file(_state_dict()), "model.pt")
    assert not [b for b in at.button if b.key == "checkpoint_study_button"]


# ================================================================================================ links


def test_a_link_reopens_the_weight_budget_and_allocation():
    at = _open({"weight": "2.weight", "budget": "0.5", "alloc": "energy"})
    assert at.selectbox(key="checkpoint_weight").value == "2.weight"
    assert at.slider(key="checkpoint_budget").value == 0.5
    assert at.radio(key="checkpoint_allocation").value == "energy"
    assert at.query_params["weight"] == ["2.weight"] or at.query_params["weight"] == "2.weight"


def test_a_bad_link_falls_back_with_notices():
    at = _open({"weight": "nowhere.weight", "budget": "7", "alloc": "magic"})
    notice = "\n".join(i.value for i in at.info if "could not be used" in i.value)
    for word in ("nowhere", "7", "magic"):
        assert word in notice
    assert at.selectbox(key="checkpoint_weight").value == "0.weight"


def test_an_upload_link_asks_for_the_file():
    at = _open({"src": "upload", "weight": "fc.weight"})
    assert any("cannot travel in a link" in i.value for i in at.info)
    at.file_uploader(key="checkpoint_upload").set_value(("m.pt", _torch_file(_state_dict()), "x")).run()
    assert at.selectbox(key="checkpoint_weight").value == "fc.weight"


def test_a_weight_above_the_exact_limit_gets_the_randomized_svd_and_says_so():
    generator = torch.Generator().manual_seed(3)
    big = torch.randn(1600, 40, generator=generator) @ torch.randn(40, 1600, generator=generator)  # 2.56 M
    big += 0.05 * torch.randn(1600, 1600, generator=generator)
    at = _upload(_open(), safetensors.torch.save({"big.weight": big}), "big.safetensors")
    row = _table(at, "stable rank").iloc[0]
    assert row["SVD"] == "randomized (256)"
    W = big.double().numpy()
    expected = _numpy_row(W)
    assert row["rank 90 %"] == expected["rank 90 %"] and row["rank 99 %"] == expected["rank 99 %"]
    assert row["stable rank"] == pytest.approx(expected["stable rank"], rel=1e-3)
    assert pd.isna(row["optimal hard threshold"])  # needs every singular value
    assert next(m.value for m in at.metric if m.label == "optimal hard threshold") == "?"
    errors = _chart(at, "checkpoint_errors")
    ranks = _trace(errors, "measured")["x"].astype(int)
    assert ranks[-1] == 256
    S = np.linalg.svd(W, compute_uv=False)
    optimal = np.sqrt([np.sum(S[r:] ** 2) / np.sum(S**2) for r in ranks])  # Eckart–Young, numpy
    np.testing.assert_allclose(_trace(errors, "measured")["y"], optimal, atol=2e-3)
    assert any("Randomized SVD" in caption.value for caption in at.caption)
