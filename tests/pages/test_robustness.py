"""The pages when something fails below the user's input, and in a full room (AppTest).

- A broken installation (the sample photos missing or corrupt, the digits file gone) gives each page a
  message, never a traceback, and the page stays usable; the shipped config hides error details.
- One session uploading many photos cannot push another session's factorization out of the shared cache.
- A session that ends gives back what it held: its cache shares and its queued background work.
"""

from __future__ import annotations

import io
import re
import threading
import tomllib
from concurrent.futures import Future

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import lowrank_core.image as codec_core
from lowrank_core import training
from lowrank_core.sources import quiz, samples
from tests.conftest import APP, ROOT
from tests.pages.scrubber import settle
from ui import jobs, limits
from ui.image import cache as image_cache
from ui.layer import cache as layer_cache
from ui.quiz import cache as quiz_cache


def _open(page_file: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(page_file).run()
    return at


def _png(seed: int, height: int = 24, width: int = 32) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _upload(at: AppTest, data: bytes, name: str = "photo.png") -> AppTest:
    at.radio(key="image_source").set_value("upload").run()
    at.file_uploader(key="image_upload").set_value((name, data, "image/png")).run()
    return at


@pytest.fixture
def quiet_background(monkeypatch):
    """No rate–distortion curves (tested on their own): no CPU spent on them here."""
    monkeypatch.setattr(image_cache, "rate_distortion_job", lambda *args, **kwargs: Future())


# ====================================================================================== broken install


def test_the_shipped_config_hides_error_details():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["client"]["showErrorDetails"] == "none"


@pytest.fixture(params=["missing", "corrupt"])
def broken_samples(request, monkeypatch, tmp_path):
    """The sample folder empty, or its photos replaced by text; the decoded samples of earlier tests gone."""
    if request.param == "corrupt":
        for file in [*samples.PHOTO_FILES.values(), *(path.name for path in quiz.QUIZ_FILES.values())]:
            (tmp_path / file).write_bytes(b"this is not a photograph")
    monkeypatch.setattr(samples, "SAMPLES_DIR", tmp_path)
    monkeypatch.setattr(quiz, "QUIZ_DIR", tmp_path)  # the quiz's other pictures too
    image_cache.load_sample.clear()
    quiz_cache.load_picture.clear()
    yield tmp_path
    image_cache.load_sample.clear()
    quiz_cache.load_picture.clear()


@pytest.mark.parametrize("page_file", ["pages/image.py", "pages/quiz.py"])
def test_a_broken_sample_folder_gives_a_message_not_a_traceback(broken_samples, page_file, quiet_background):
    at = _open(page_file)
    assert not at.exception, [e.value for e in at.exception]
    errors = [re.sub(r"\\(.)", r"\1", e.value) for e in at.error]  # the pages escape markdown
    assert len(errors) == 1, errors
    assert any(path.name in errors[0] for path in quiz.QUIZ_FILES.values())  # names the file (every sample
    #                                                                           is a quiz picture too)
    assert str(broken_samples) not in errors[0] and "Traceback" not in errors[0]  # no server path


def test_the_image_page_stays_usable_after_a_broken_sample(broken_samples, quiet_background):
    at = _open("pages/image.py")
    assert at.error
    _upload(at, _png(1))
    assert not at.exception and not at.error
    assert any(m.label == "PSNR" for m in at.metric)


def test_a_missing_digits_file_gives_the_layer_page_a_message(monkeypatch, tmp_path):
    monkeypatch.setattr(training, "DIGITS_PATH", tmp_path / "digits.csv.gz")
    training._read_digits.cache_clear()  # the digits read by earlier tests
    layer_cache.digits_split.clear()
    try:
        at = AppTest.from_file(APP, default_timeout=120).run()
        at.switch_page("pages/layer.py")
        at.session_state["layer_section"] = "Compress a trained network"
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        errors = [re.sub(r"\\(.)", r"\1", e.value) for e in at.error]
        assert any("digits.csv.gz" in e and "could not be read" in e for e in errors), errors
        assert str(tmp_path) not in " ".join(e.value for e in at.error)
    finally:
        monkeypatch.undo()
        training._read_digits.cache_clear()
        layer_cache.digits_split.clear()


# ========================================================================================== full room


def test_one_session_uploading_many_photos_keeps_another_sessions_codec(monkeypatch, quiet_background):
    """30 uploads in one session used to evict everyone's factorizations (and grow the server by 2 GB)."""
    computed = []
    real_prepare = codec_core.prepare_codec

    def counting(pixels, mode, **kwargs):
        computed.append(tuple(pixels.shape))
        return real_prepare(pixels, mode, **kwargs)

    monkeypatch.setattr(codec_core, "prepare_codec", counting)
    b = _upload(_open("pages/image.py"), _png(100, 26, 30), "b.png")
    assert not b.exception and computed.count((3, 26, 30)) == 1
    a = _upload(_open("pages/image.py"), _png(0), "a0.png")
    for i in range(1, limits.CODEC_ENTRIES + 4):  # more photos than the cache has entries
        a.file_uploader(key="image_upload").set_value((f"a{i}.png", _png(i), "image/png")).run()
        assert not a.exception
    settle(b, "image_scrub", 5)  # b moves its rank scrubber
    assert not b.exception and not b.error
    assert computed.count((3, 26, 30)) == 1  # b's factorization was still there


def test_a_session_that_ends_gives_back_its_cache_shares_and_its_queued_work(monkeypatch, quiet_background):
    from ui.sessions import session_watch

    monkeypatch.setattr(limits, "EXACT_MAX_PIXELS", 1_000)  # a preview now, the exact SVD queued
    monkeypatch.setattr(limits, "PREVIEW_RANK", 6)
    monkeypatch.setattr(image_cache.codec, "keep_unowned_bytes", 0)
    monkeypatch.setattr(image_cache.load_upload, "keep_unowned_bytes", 0)
    board = jobs.job_board()
    release, started = threading.Event(), threading.Event()

    def hold():
        started.set()
        release.wait(30)

    board.submit(("hold", id(release)), hold, priority=-1)  # the worker is busy: the exact SVD stays queued
    started.wait(30)
    try:
        at = _upload(_open("pages/image.py"), _png(7, 40, 56), "leaving.png")
        token = at.session_state["_session_token"]
        assert image_cache.codec.stats()["owners"].get(token)  # the default sample's, and the preview
        assert image_cache.load_upload.stats()["owners"].get(token) == 1
        (queued,) = [f for f in board.pending() if f is not None and not f.running()]
        session_watch().end(token)
        assert queued.cancelled()
        assert token not in image_cache.codec.stats()["owners"]
        assert token not in image_cache.load_upload.stats()["owners"]
    finally:
        release.set()
    board.wait()
