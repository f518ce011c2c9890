"""The image page with a tiny upload (issue 12): its pixels shown square and sharp, not smoothed by the
browser, and an exact reconstruction reported as ∞ dB, not "149.52 dB"."""

import io

import numpy as np
import pytest
from PIL import Image
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from tests.conftest import APP
from ui.image import cache as image_cache

TINY = np.random.default_rng(0).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)


@pytest.fixture
def quiet_background(monkeypatch):
    """Leave the rate–distortion job pending: not what these tests are about."""
    from concurrent.futures import Future

    monkeypatch.setattr(image_cache, "rate_distortion_job", lambda *args, **kwargs: Future())


@pytest.fixture
def pictures(monkeypatch) -> list[bytes]:
    """Every picture the page hands to the browser, in order."""
    sent: list[bytes] = []
    original = MediaFileManager.add

    def spy(self, path_or_data, mimetype, coordinates, *args, **kwargs):
        if isinstance(path_or_data, bytes) and mimetype.startswith("image/"):
            sent.append(path_or_data)
        return original(self, path_or_data, mimetype, coordinates, *args, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add", spy)
    return sent


def _tiny_page() -> AppTest:
    buffer = io.BytesIO()
    Image.fromarray(TINY).save(buffer, format="PNG")
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("pages/image.py").run()
    at.radio(key="image_source").set_value("upload").run()
    at.file_uploader(key="image_upload").set_value(("tiny.png", buffer.getvalue(), "image/png")).run()
    assert not at.exception and not at.error
    return at


def _blocks(picture: bytes, zoom: int) -> np.ndarray:
    """The picture cut into zoom × zoom blocks: (8, 8, zoom, zoom, 3)."""
    array = np.asarray(Image.open(io.BytesIO(picture)).convert("RGB"), dtype=np.int16)
    return array.reshape(8, zoom, 8, zoom, 3).transpose(0, 2, 1, 3, 4)


def test_a_tiny_upload_is_shown_with_square_sharp_pixels(quiet_background, pictures):
    at = _tiny_page()
    at.slider(key="image_rank").set_value(8).run()  # full rank: the picture is the image itself
    at.radio(key="image_dtype").set_value("float32").run()
    assert not at.exception
    shown = [p for p in pictures if Image.open(io.BytesIO(p)).format == "JPEG"]  # the pictures, not galleries
    sizes = {Image.open(io.BytesIO(p)).size for p in shown[-2:]}
    assert sizes == {(512, 512)}, "sent enlarged, not left for the browser to stretch (and blur)"
    for picture in shown[-2:]:  # the original and the reconstruction beside it
        blocks = _blocks(picture, 64)
        inner = blocks[:, :, 2:-2, 2:-2]  # a decoder's chroma upsampling may blend the outer 2 pixels
        assert (inner.max(axis=(2, 3)) - inner.min(axis=(2, 3))).max() <= 2, "one flat square per pixel"
        assert np.abs(blocks[:, :, 32, 32] - TINY).max() <= 2  # the image's own pixels (JPEG q90, flat)
    assert any("Shown at 512×512 (the image is 8×8" in c.value for c in at.caption)
    last = [Image.open(io.BytesIO(p)) for p in pictures[-12:]]  # the last rerun's galleries
    assert all(t.format == "PNG" and t.size == (128, 128) for t in last)  # the galleries too: 8 px × 16


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_an_exact_reconstruction_has_infinite_psnr(quiet_background, dtype):
    """At full rank the float32 and float16 factors rebuild the 8-bit image exactly: ∞ dB, relative error 0.
    (The card showed 149.52 dB: the loader's v / 255 against the metric's v × (1/255).)"""
    at = _tiny_page()
    at.radio(key="image_dtype").set_value(dtype).run()
    at.slider(key="image_rank").set_value(8).run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["PSNR"] == "∞ dB" and metrics["Relative error"] == "0"
    at.slider(key="image_rank").set_value(7).run()
    assert {m.label: m.value for m in at.metric}["PSNR"] != "∞ dB"  # below full rank it is finite
