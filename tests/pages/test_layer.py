"""AppTest of the Layers and LoRA page: its numbers equal the core's on the same input and a NumPy oracle.

Each section is a lazy tab (``st.tabs(..., on_change="rerun")``): a test opens one by setting
``session_state["layer_section"]``. The trained MLP lives in a ``st.cache_resource`` slot shared by the
whole test process, so it is trained once.
"""

import io

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

import ui.layer.cache as layer_cache
from lowrank_core import sources
from lowrank_core.factorize import factorize
from lowrank_core.layers import compress_model, layer_error, sample_inputs
from tests.conftest import APP

LAB, COMPRESS, LORA = "Layer lab", "Compress a trained network", "LoRA fine-tuning"


def open_page(section=LAB):
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("pages/layer.py")
    at.session_state["layer_section"] = section
    return at.run()


def metrics(at):
    return {m.label: m.value for m in at.metric}


def metric_value(at, start):
    """The value of the one metric whose label starts with ``start``."""
    (value,) = [m.value for m in at.metric if m.label.startswith(start)]
    return value


def table_with(at, column):
    """The one dataframe on the page that has ``column`` (dataframes carry no key in AppTest)."""
    (frame,) = [d.value for d in at.dataframe if column in d.value.columns]
    return frame


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def numpy_layer_numbers(W, bias, x, rank):
    """Max |z − z_r|, relative error, σ_{r+1} and the worst bound ratio, all in float64 NumPy."""
    W, x, bias = W.double().numpy(), x.double().numpy(), bias.double().numpy()
    U, S, Vh = np.linalg.svd(W, full_matrices=False)
    W_r = (U[:, :rank] * S[:rank]) @ Vh[:rank]
    difference = x @ (W - W_r).T
    z = x @ W.T + bias
    sigma_next = S[rank]
    ratio = np.linalg.norm(difference, axis=1) / (sigma_next * np.linalg.norm(x, axis=1))
    return np.abs(difference).max(), np.linalg.norm(difference) / np.linalg.norm(z), sigma_next, ratio.max()


def test_lab_numbers_equal_the_core_and_a_numpy_oracle():
    at = open_page()
    assert not at.exception
    assert at.slider(key="layer_rank").value == 32
    # The same input through the core: the default source is a 256×256 random weight, seed 0, batch 64.
    lab = layer_cache.generated_weight("random", 256, 256, 8, 0)
    torch.testing.assert_close(lab.weight, sources.random_full_rank(256, 256, seed=0))
    x = sample_inputs(64, 256, seed=0)
    core = layer_error(lab.weight, lab.bias, factorize(lab.weight), 32, x)
    shown = metrics(at)
    assert metric_value(at, "largest error") == f"{core.max_abs_error:.4g}"
    assert metric_value(at, "relative error") == f"{core.relative_error:.4g}"
    assert metric_value(at, "bound") == f"{core.bound:.4g}"
    assert metric_value(at, "worst") == f"{core.worst_ratio:.4f}"
    largest, relative, sigma_next, worst = numpy_layer_numbers(lab.weight, lab.bias, x, 32)
    assert float(metric_value(at, "largest error")) == pytest.approx(largest, rel=1e-3)
    assert float(metric_value(at, "relative error")) == pytest.approx(relative, rel=1e-3)
    assert float(metric_value(at, "bound")) == pytest.approx(sigma_next, rel=1e-3)
    assert float(metric_value(at, "worst")) == pytest.approx(worst, abs=2e-4)
    assert float(metric_value(at, "worst")) <= 1.0
    assert len(shown) == 4
    budget = table_with(at, "weight parameters")
    assert budget["weight parameters"].tolist() == [256 * 256, 32 * (256 + 256)]
    assert budget["FLOPs for the batch of 64"].tolist() == [2 * 256 * 256 * 64, 2 * 32 * 512 * 64]


def test_moving_the_rank_changes_the_numbers():
    at = open_page()
    before = metrics(at)
    at.slider(key="layer_rank").set_value(8).run()
    assert not at.exception
    after = metrics(at)
    assert after != before
    lab = layer_cache.generated_weight("random", 256, 256, 8, 0)
    _, _, sigma_next, _ = numpy_layer_numbers(lab.weight, lab.bias, sample_inputs(64, 256, seed=0), 8)
    assert float(metric_value(at, "bound")) == pytest.approx(sigma_next, rel=1e-3)
    assert float(metric_value(at, "largest error")) > float(before[next(k for k in before if "largest" in k)])


def test_exact_low_rank_weight_is_reproduced_at_rank_k():
    at = open_page()
    at.radio(key="layer_source").set_value("low_rank").run()
    at.number_input(key="layer_out").set_value(40).run()
    at.number_input(key="layer_in").set_value(30).run()
    at.number_input(key="layer_k").set_value(4).run()
    at.slider(key="layer_rank").set_value(4).run()
    assert not at.exception
    assert float(metric_value(at, "relative error")) < 1e-5
    assert float(metric_value(at, "worst")) <= 1.0
    W = sources.notebook_matrix(40, 30, 4, seed=0)
    assert np.linalg.svd(W.double().numpy(), compute_uv=False)[4] < 1e-5  # rank 4 indeed


def test_uploaded_weight_is_used():
    weight = np.random.default_rng(0).normal(size=(20, 12))
    at = open_page()
    at.radio(key="layer_source").set_value("upload").run()
    upload = ("w.npy", npy_bytes(weight), "application/octet-stream")
    at.file_uploader(key="layer_upload").set_value(upload).run()
    assert not at.exception and not at.error
    at.slider(key="layer_rank").set_value(5).run()
    S = np.linalg.svd(weight, compute_uv=False)
    assert float(metric_value(at, "bound")) == pytest.approx(S[5], rel=1e-3)  # shown to 4 digits


@pytest.mark.parametrize("name, data", [
    ("bad.npy", b"this is not a numpy file"),
    ("objects.npy", None),  # an object array: would need pickle
    ("big.npy", None),  # more than the lab's side limit
])
def test_bad_upload_shows_an_error(name, data):
    if name == "objects.npy":
        buffer = io.BytesIO()
        np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
        data = buffer.getvalue()
    elif name == "big.npy":
        data = npy_bytes(np.zeros((1, 5000), dtype=np.float32))
    at = open_page()
    at.radio(key="layer_source").set_value("upload").run()
    at.file_uploader(key="layer_upload").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception
    assert len(at.error) == 1
    assert not at.metric  # nothing computed from the bad file
    at.radio(key="layer_source").set_value("random").run()  # the page stays usable
    assert not at.exception and not at.error and len(at.metric) == 4


def test_trained_layer_source():
    at = open_page()
    at.radio(key="layer_source").set_value("trained").run()
    at.selectbox(key="layer_trained_layer").set_value("2").run()
    assert not at.exception
    weight = layer_cache.trained_model().model[2].weight.detach()
    assert at.slider(key="layer_rank").max == 64
    rank = at.slider(key="layer_rank").value
    S = np.linalg.svd(weight.double().numpy(), compute_uv=False)
    assert float(metric_value(at, "bound")) == pytest.approx(S[rank], rel=1e-3)


def test_timing_button_measures_and_caches(monkeypatch):
    # The page times a 4096×4096 layer; a smaller one keeps this test quick. The key is the device only,
    # so the cache is cleared around the patched sizes.
    monkeypatch.setattr(layer_cache, "TIMING_SIZE", 128)
    monkeypatch.setattr(layer_cache, "TIMING_RANKS", (8, 32, 64))
    monkeypatch.setattr(layer_cache, "TIMING_RANK", 8)
    monkeypatch.setattr(layer_cache, "TIMING_MIN_RUN_TIME", 0.01)
    layer_cache.forward_timings.clear()
    try:
        at = open_page()
        assert not [m for m in at.metric if m.label.startswith("dense nn.Linear")]
        assert not [m for m in at.metric if m.label == "crossover rank"]
        at.button(key="layer_time_button").click().run()
        assert not at.exception
        assert metric_value(at, "dense nn.Linear").endswith(" ms")
        table = table_with(at, "FLOP ratio")
        assert table["rank"].tolist() == [8, 32, 64]
        assert table["FLOP ratio"].tolist() == [round(128 * 128 / (r * 256), 2) for r in (8, 32, 64)]
        # the crossover shown follows the table: the rank after the last one where factored is faster
        faster = (table["factored (ms)"] < table["dense (ms)"]).tolist()
        expected = next((f"{r}" for r, fast in zip([8, 32, 64], faster, strict=True)
                         if not any(faster[[8, 32, 64].index(r):])), "> 64")
        assert metric_value(at, "crossover rank") == expected
        at.slider(key="layer_rank").set_value(10).run()  # the result stays on the page after a rerun
        assert metric_value(at, "dense nn.Linear").endswith(" ms")
    finally:
        layer_cache.forward_timings.clear()


def test_compress_section_matches_the_core():
    at = open_page(COMPRESS)
    assert not at.exception
    base = layer_cache.trained_model()
    assert metric_value(at, "test accuracy (dense)") == f"{100 * base.test_accuracy:.2f} %"
    compressed, reports = compress_model(base.model, rank=12)  # the page's default setting
    assert base.test_accuracy >= 0.95
    assert metric_value(at, "parameters (dense)") == "17,226"
    assert metric_value(at, "parameters (compressed)") == f"{(12 * 192 + 128) + (12 * 192 + 64) + 650:,}"
    split = layer_cache.digits_split()
    with torch.no_grad():
        logits = compressed(split.X_test).double().numpy()
    accuracy = np.mean(np.argmax(logits, axis=1) == split.y_test.numpy())
    assert metric_value(at, "test accuracy (compressed)") == f"{100 * accuracy:.2f} %"
    table = table_with(at, "rank kept")
    assert table["rank kept"].tolist() == [r.rank for r in reports] == [12, 12, 10]
    assert table["parameters after"].tolist() == [12 * 192 + 128, 12 * 192 + 64, 650]  # last kept dense
    assert table["factored"].tolist() == [True, True, False]
    np.testing.assert_allclose(table["bound σᵣ₊₁"].to_numpy(), [
        np.linalg.svd(base.model[i].weight.detach().double().numpy(), compute_uv=False)[12] for i in (0, 2)
    ] + [0.0], rtol=1e-4)
    charts = at.get("plotly_chart")
    assert len(charts) == 3
    at.radio(key="layer_compress_by").set_value("energy").run()
    assert not at.exception
    assert table_with(at, "rank kept")["energy kept"].min() >= 0.9 - 1e-4


def test_lora_section_table():
    """Issue 12: the table showed one seed, and r = 4 "beat" the full fine-tune by a few of 449 test images;
    it now shows each method over several fine-tune seeds, paired with the full fine-tune of the same seed."""
    at = open_page(LORA)
    assert not at.exception
    table = table_with(at, "% of full")
    seeds = layer_cache.LORA_SEEDS
    assert len(seeds) >= 3
    assert table["method"].tolist() == ["base, not fine-tuned", "full fine-tune", "LoRA r = 1", "LoRA r = 2",
                                        "LoRA r = 4", "LoRA r = 8"]
    expected = [0, 17226] + [r * 192 + r * 192 + min(r, 10) * 74 for r in (1, 2, 4, 8)]
    assert table["trainable parameters"].tolist() == expected
    split = layer_cache.digits_split().mirrored()
    labels = split.y_test.numpy()

    def measured(result) -> float:  # numpy's accuracy of the model's own predictions on the 449 images
        with torch.no_grad():
            logits = result.model(split.X_test).double().numpy()
        return float(np.mean(np.argmax(logits, axis=1) == labels))

    full = np.array([measured(layer_cache.full_finetune(finetune_seed=s)) for s in seeds])
    runs = {r: np.array([measured(layer_cache.lora_finetune(r, finetune_seed=s)) for s in seeds])
            for r in (1, 2, 4, 8)}
    mean = table[f"test accuracy, mean of {len(seeds)} seeds (%)"].tolist()
    lowest, highest = table["lowest (%)"].tolist(), table["highest (%)"].tolist()
    for row, accuracies in enumerate([full, *runs.values()], start=1):
        assert mean[row] == round(100 * accuracies.mean(), 2)
        assert lowest[row] == round(100 * accuracies.min(), 2)
        assert highest[row] == round(100 * accuracies.max(), 2)
    above = table["above the full fine-tune"].tolist()
    assert above[2:] == [f"in {int((runs[r] > full).sum())} of {len(seeds)} seeds" for r in (1, 2, 4, 8)]
    assert any(h > low for h, low in zip(highest[1:], lowest[1:], strict=True))  # the seeds really differ
    assert all(a > mean[0] for a in lowest[1:])  # every fine-tune, every seed, beats the unadapted base
    chart = next(c for c in at.get("plotly_chart") if c.proto.id.endswith("-layer_lora_chart"))
    assert '"error_y"' in chart.proto.spec  # the chart shows the spread too
    delta = table_with(at, "energy-90 % rank of ΔW")
    hidden = delta.iloc[:2]
    assert (hidden["energy-90 % rank of ΔW"] * 2 <= hidden["energy-90 % rank of W_base"]).all()


def test_a_single_row_weight_has_rank_one_without_a_slider():
    at = open_page()
    at.radio(key="layer_source").set_value("upload").run()
    upload = ("row.npy", npy_bytes(np.arange(1.0, 9.0)[None]), "application/octet-stream")
    at.file_uploader(key="layer_upload").set_value(upload).run()
    assert not at.exception and not at.error
    assert not [s for s in at.slider if s.key == "layer_rank"]
    assert float(metric_value(at, "bound")) == 0.0  # rank 1 keeps everything of a rank-1 weight
    assert float(metric_value(at, "relative error")) < 1e-6


def test_a_file_over_the_labs_limit_replaces_the_previous_one_and_says_why():
    """Issue 15: the browser let the old file stay when it refused a larger one. The uploader now lets
    through what the server takes, and the page refuses the file itself, with the reason."""
    from ui.limits import LAYER_MAX_UPLOAD_MB, SERVER_MAX_UPLOAD_MB

    at = open_page()
    at.radio(key="layer_source").set_value("upload").run()
    (uploader,) = at.get("file_uploader")
    assert uploader.proto.max_upload_size_mb == SERVER_MAX_UPLOAD_MB
    assert [link.proto.page for link in at.get("page_link")][-1].endswith("checkpoint")
    small = ("w.npy", npy_bytes(np.random.default_rng(0).normal(size=(20, 12))), "application/octet-stream")
    at.file_uploader(key="layer_upload").set_value(small).run()
    assert len(at.metric) == 4
    big = npy_bytes(np.zeros((4096, 1024), dtype=np.float32))  # 16.8 MB: the float32 example
    assert len(big) > LAYER_MAX_UPLOAD_MB * 1_000_000
    at.file_uploader(key="layer_upload").set_value(("big.npy", big, "application/octet-stream")).run()
    assert not at.exception and not at.metric  # nothing of w.npy is left
    (error,) = at.error
    plain = error.value.replace("\\", "")
    assert "is 16.78 MB" in plain and f"at most {LAYER_MAX_UPLOAD_MB} MB" in plain and "Checkpoint" in plain
