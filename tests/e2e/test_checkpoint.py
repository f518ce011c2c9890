"""The checkpoint inspector in chromium: upload a state dict and a safetensors file, pick a weight, read its
error curve from the chart, download the factored checkpoint and its rank_pattern; a refused file clears
the page. And the Layers page's own upload: a file over its limit replaces the previous one and says why."""

import base64
import io
import json
import pathlib
import re

import numpy as np
import safetensors.numpy
import safetensors.torch
import torch
from playwright.sync_api import Page, expect

from tests.e2e.conftest import expect_no_error, open_page, screenshot, wait_idle


class _TouchMarker:
    """Unpickling this calls ``pathlib.Path.touch(marker)``: the proof that code ran."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def _tensors(dtype=torch.float32) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(11)
    return {
        "encoder.fc.weight": (torch.randn(96, 5, generator=generator)
                              @ torch.randn(5, 64, generator=generator)
                              + 0.01 * torch.randn(96, 64, generator=generator)).to(dtype),
        "encoder.fc.bias": torch.randn(96, generator=generator).to(dtype),
        "head.weight": torch.randn(10, 96, generator=generator).to(dtype),
        "head.bias": torch.zeros(10, dtype=dtype),
    }


def _open(page: Page, url: str) -> None:
    open_page(page, url, "checkpoint", "2. Every weight")


def _upload(page: Page, path: pathlib.Path) -> None:
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
    expect(page.get_by_text(f"File: {path.name}")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("combobox", name="Weight")).to_be_visible(timeout=60_000)
    wait_idle(page, timeout=60_000)
    expect_no_error(page)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)


def _pick(page: Page, name: str) -> None:
    option = page.get_by_role("option", name=name, exact=True)
    for _ in range(3):  # a rerun that lands just after the click can close the list: open it again
        page.get_by_test_id("stSelectbox").filter(has_text="Weight").click()
        try:
            expect(option).to_be_visible(timeout=5_000)
            break
        except AssertionError:
            page.keyboard.press("Escape")
            wait_idle(page)
    option.click()
    expect(page.get_by_test_id("stPlotlyChart").filter(has_text=f"Relative error of {name}")).to_be_visible(
        timeout=60_000)
    wait_idle(page)


def _curve(page: Page, weight: str, trace: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of one trace of the error chart, read from the plotly graph in the page."""
    chart = page.get_by_test_id("stPlotlyChart").filter(has_text=f"Relative error of {weight}")
    traces = chart.locator(".js-plotly-plot").evaluate(
        "el => el.data.map(t => ({name: t.name, x: t.x.bdata ? t.x : Array.from(t.x),"
        " y: t.y.bdata ? t.y : Array.from(t.y)}))")
    (found,) = [t for t in traces if t["name"].startswith(trace)]

    def values(v):
        if isinstance(v, dict):
            return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
        return np.asarray(v, dtype=np.float64)

    return values(found["x"]), values(found["y"])


def _numpy_errors(W: np.ndarray, ranks) -> np.ndarray:
    U, S, Vh = np.linalg.svd(W, full_matrices=False)
    return np.array([np.linalg.norm(W - (U[:, :r] * S[:r]) @ Vh[:r]) / np.linalg.norm(W) for r in ranks])


def _download(page: Page, label: str) -> bytes:
    with page.expect_download(timeout=60_000) as info:
        page.get_by_test_id("stDownloadButton").filter(has_text=label).click()
    return pathlib.Path(info.value.path()).read_bytes()


def test_checkpoint_uploads_curves_and_export(page: Page, app_url: str, tmp_path):
    page.set_viewport_size({"width": 1400, "height": 3000})
    _open(page, app_url)
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    page.get_by_text("Upload a checkpoint").click()

    # A torch.save state dict, as engineers have it.
    tensors = _tensors()
    state_dict = tmp_path / "model.pt"
    torch.save(tensors, state_dict)
    _upload(page, state_dict)
    expect(page.get_by_role("combobox", name="Weight")).to_have_value("encoder.fc.weight")
    expect(page.get_by_text("2 weights analysed (7,104 parameters)")).to_be_visible()
    _pick(page, "head.weight")
    W = tensors["head.weight"].double().numpy()  # (10, 96)
    ranks, measured = _curve(page, "head.weight", "measured")
    assert ranks[0] == 0 and ranks[-1] == 10
    np.testing.assert_allclose(measured, _numpy_errors(W, ranks.astype(int)), atol=2e-6)
    screenshot(page, "checkpoint-state-dict")

    pattern = json.loads(_download(page, "rank_pattern"))
    assert set(pattern) <= {"encoder.fc.weight", "head.weight"} and pattern
    arrays = safetensors.numpy.load(_download(page, "Factored checkpoint"))
    for name, rank in pattern.items():
        M = tensors[name].double().numpy()
        U, S, Vh = np.linalg.svd(M, full_matrices=False)
        a, b = arrays[f"{name}.a"].astype(np.float64), arrays[f"{name}.b"].astype(np.float64)
        assert a.shape == (M.shape[0], rank)
        np.testing.assert_allclose(a @ b, (U[:, :rank] * S[:rank]) @ Vh[:rank], atol=1e-4)
    np.testing.assert_array_equal(arrays["encoder.fc.bias"], tensors["encoder.fc.bias"].numpy())

    # A .safetensors file in float16: it replaces the state dict.
    half = _tensors(torch.float16)
    safetensors_file = tmp_path / "model.safetensors"
    safetensors_file.write_bytes(safetensors.torch.save(half))
    _upload(page, safetensors_file)
    expect(page.get_by_test_id("stDataFrame").first).to_contain_text("float16")
    _pick(page, "encoder.fc.weight")
    ranks, measured = _curve(page, "encoder.fc.weight", "measured")
    W = half["encoder.fc.weight"].double().numpy()  # the stored float16 values, in float64
    np.testing.assert_allclose(measured, _numpy_errors(W, ranks.astype(int)), atol=5e-6)
    _, predicted = _curve(page, "encoder.fc.weight", "Eckart")
    np.testing.assert_allclose(predicted, measured, atol=5e-6)
    screenshot(page, "checkpoint-safetensors")

    # A pickle with a payload: refused, nothing runs, nothing of the previous file is left.
    marker = tmp_path / "ran"
    evil = tmp_path / "pytorch_model.bin"
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(3, 3), "hook": _TouchMarker(marker)}, buffer)
    evil.write_bytes(buffer.getvalue())
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(evil))
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("could run code", timeout=60_000)
    wait_idle(page)
    expect(page.get_by_test_id("stDataFrame")).to_have_count(0)
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(0)
    assert not marker.exists()
    expect_no_error(page)


def test_the_built_in_example_a_row_click_and_the_study(page: Page, app_url: str):
    page.set_viewport_size({"width": 1400, "height": 3000})
    _open(page, app_url)
    expect(page.get_by_test_id("stPlotlyChart").filter(has_text="Relative error of 0.weight")).to_be_visible()
    # A click on the table's second row (the grid is a canvas: a header and 3 rows of equal height) picks it.
    box = page.get_by_test_id("stDataFrame").first.bounding_box()
    row_height = box["height"] / 4
    page.mouse.click(box["x"] + 18, box["y"] + 2.5 * row_height)
    expect(page.get_by_role("combobox", name="Weight")).to_have_value("2.weight", timeout=60_000)
    expect(page.get_by_test_id("stPlotlyChart").filter(has_text="Relative error of 2.weight")).to_be_visible(
        timeout=60_000)
    wait_idle(page)
    page.get_by_test_id("stButton").filter(has_text="Run the accuracy study").click()
    refresh = page.get_by_test_id("stButton").filter(has_text=re.compile("Show the study"))
    chart = page.get_by_test_id("stPlotlyChart").filter(has_text="test accuracy against budget")
    for _ in range(60):  # the study runs in the background: about ten seconds, longer under load
        wait_idle(page)
        if chart.count():
            break
        refresh.click()
        page.wait_for_timeout(3000)
    expect(chart).to_be_visible()
    expect_no_error(page)
    screenshot(page, "checkpoint-study")


def test_the_layer_labs_rejected_upload_clears_the_old_results(page: Page, app_url: str, tmp_path):
    """Issue 15: a file over the upload limit used to sit in the uploader while the page kept showing the
    previous file's results."""
    open_page(page, app_url, "layer", re.compile("Layers and LoRA"))
    page.get_by_text("Upload a weight (.npy / .pt)").click()
    wait_idle(page)
    small, big = tmp_path / "w.npy", tmp_path / "big.npy"
    np.save(small, np.random.default_rng(0).normal(size=(20, 12)))
    np.save(big, np.zeros((4096, 1024), dtype=np.float32))  # 16.8 MB, the example
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(small))
    expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=60_000)
    wait_idle(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(big))
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("at most 16 MB", timeout=60_000)
    wait_idle(page)
    expect(page.get_by_test_id("stMetric")).to_have_count(0)
    expect(page.get_by_test_id("stFileUploader")).to_contain_text("big.npy")
    expect(page.get_by_test_id("stFileUploader")).not_to_contain_text("w.npy")
    expect_no_error(page)
    screenshot(page, "layer-upload-refused")
