"""The image page's bytes, honestly (issue 12, item 5): the factor payload is held against this image's own
PNG and JPEG (Pillow is the oracle), never sold as "N× smaller than raw", and the .npz card is the real size
of the file the download gives."""

import io
from concurrent.futures import Future

import numpy as np
import pytest
from PIL import Image
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from tests.conftest import APP
from ui.image import cache as image_cache
from ui.text import format_bytes


def _screenshot() -> np.ndarray:
    """A 120×160 'screenshot': flat panels and thin lines, which PNG stores in well under a kilobyte."""
    image = np.full((120, 160, 3), 245, dtype=np.uint8)
    image[10:50, 10:150] = (30, 90, 200)
    image[60:110, 10:70] = (220, 60, 40)
    image[60:110, 80:150:4] = (20, 20, 20)
    return image


@pytest.fixture
def page(monkeypatch) -> tuple[AppTest, dict]:
    """The page with the screenshot uploaded, and the deferred downloads it registered (name -> callable)."""
    monkeypatch.setattr(image_cache, "rate_distortion_job", lambda *args, **kwargs: Future())
    downloads = {}
    original = MediaFileManager.add_deferred

    def spy(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        downloads[file_name] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)
    buffer = io.BytesIO()
    Image.fromarray(_screenshot()).save(buffer, format="PNG")
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("pages/image.py").run()
    at.radio(key="image_source").set_value("upload").run()
    at.file_uploader(key="image_upload").set_value(("shot.png", buffer.getvalue(), "image/png")).run()
    assert not at.exception and not at.error
    return at, downloads


def _cards(at: AppTest) -> dict[str, tuple[str, str]]:
    """label -> (value, delta) of every metric card."""
    return {m.label: (m.value, m.proto.delta) for m in at.metric}


def test_the_payload_is_held_against_this_images_own_png_and_jpeg(page):
    at, _ = page
    at.slider(key="image_rank").set_value(10).run()
    cards = _cards(at)
    payload = 10 * (120 + 160) * 3 * 2  # float16, the page's default: r(H + W) numbers per channel
    assert cards["Factor payload (float16)"][0] == format_bytes(payload)
    sizes = {}
    for key, options in (("png", {"format": "PNG", "compress_level": 6}),
                         ("jpeg90", {"format": "JPEG", "quality": 90}),
                         ("jpeg75", {"format": "JPEG", "quality": 75})):
        buffer = io.BytesIO()
        Image.fromarray(_screenshot()).save(buffer, **options)
        sizes[key] = len(buffer.getvalue())
    png_value, png_delta = cards["This image as PNG"]
    assert png_value == format_bytes(sizes["png"]) and sizes["png"] < payload
    assert png_delta == f"factors {payload / sizes['png']:.1f}× larger than the PNG"  # not "smaller than raw"
    assert cards["As JPEG q90"][0] == format_bytes(sizes["jpeg90"])
    assert cards["As JPEG q75"][0] == format_bytes(sizes["jpeg75"])
    assert not any("raw" in delta for _, delta in cards.values())  # raw pixels are no competitor
    assert any("larger than this image's own PNG" in w.value for w in at.warning)


def test_the_npz_card_is_the_real_size_of_the_download(page):
    at, downloads = page
    at.slider(key="image_rank").set_value(7).run()
    data = downloads["image_7_float16.npz"]()
    value, delta = _cards(at)["The .npz download (float16)"]
    payload = 7 * (120 + 160) * 3 * 2
    assert value == format_bytes(len(data)) and delta == f"payload + {len(data) - payload:,} B of headers"
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:  # and it is that payload, readable
        assert sum(arrays[f"{f}{c}"].nbytes for f in "ab" for c in range(3)) == payload
        assert arrays["readme"].dtype.kind == "S"  # one byte a character (a str array is UTF-32)
