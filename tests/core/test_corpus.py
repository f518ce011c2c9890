"""The corpus of bad and odd files (tests/corpus) through the loaders and the command line.

Each file of ``MANIFEST`` must give exactly its documented outcome: ``ok`` with the documented conversion
(a notice fragment, the shape, and pixel or matrix values checked against numbers computed here from the
recipe that made the file), or its ``InputError`` subclass with a message fragment. Bombs are refused
before any pixel is decoded; pickle payloads (armed: the first test proves it) never run.
"""

from __future__ import annotations

import io
import json
import pathlib
import pickle
import re
import shutil
import subprocess
import sys
import time
import tracemalloc
import warnings
import zlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from lowrank_core import errors
from lowrank_core.cli import main as cli_main
from lowrank_core.errors import InputError
from lowrank_core.sources import image_file, load_image, load_matrix
from tests.conftest import ROOT
from tests.corpus.make_corpus import FILES, MANIFEST, MARKER, build

CASES = {case.file: case for case in MANIFEST}
ERROR_CASES = [case for case in MANIFEST if case.outcome != "ok"]
OK_CASES = [case for case in MANIFEST if case.outcome == "ok"]
BOMBS = [case for case in MANIFEST if case.outcome == "DecompressionBombError"]
PICKLES = [case.file for case in MANIFEST if case.file.startswith("pickle_")]
CLI_TOO_SLOW = {"downscale_2400x2000.png"}  # `info` runs an exact SVD of 1825×2190: ~20 s on 2 cores
BOMB_PEAK_BYTES = 50 * 2**20
BOMB_SECONDS = 10.0  # generous; decoding 100 megapixels and more would take far longer, and the real
# check is the allocation bound and the spy on Pillow's decoder


def _ids(cases):
    return [case.file for case in cases]


def _final(case) -> tuple[str, str]:
    """(outcome, fragment) where the file is also factorized: the command line and the pages."""
    return case.refused_later or (case.outcome, case.fragment)


def _load(case):
    data = (FILES / case.file).read_bytes()
    loader = load_image if case.kind == "image" else load_matrix
    return loader(data, name=case.name)


@pytest.fixture(autouse=True)
def _no_code_execution():
    """The pickle marker is absent before every test, and still absent after it."""
    MARKER.unlink(missing_ok=True)
    yield
    assert not MARKER.exists(), f"a pickle payload ran: {MARKER} was created"


# ============================================================================================= manifest


def test_manifest_lists_exactly_the_committed_files():
    on_disk = {path.name for path in FILES.iterdir()}
    assert on_disk == set(CASES)
    assert len(CASES) == len(MANIFEST)  # no file listed twice
    assert sum(path.stat().st_size for path in FILES.iterdir()) < 1_000_000


def test_manifest_outcomes_are_ok_or_input_errors():
    for case in MANIFEST:
        assert case.kind in ("image", "matrix")
        if case.outcome == "ok":
            assert case.shape is not None, case.file
        else:
            cls = getattr(errors, case.outcome)
            assert issubclass(cls, InputError), case.file
            assert case.fragment, case.file


def test_corpus_script_reproduces_the_committed_files():
    """Files made without an image encoder or torch must be byte-identical to a fresh run of the script."""
    encoder_free = {".csv", ".txt", ".tsv", ".npy", ".npz"}
    handmade = {"bomb_png_40000x40000.png", "bomb_png_10000x10000.png", "bomb_gif_65535x65535.gif",
                "bomb_bmp_30000x30000.bmp", "pickle_legacy.pt", "text_as_image.png", "empty.png"}
    fresh = build()
    checked = [name for name in fresh if pathlib.Path(name).suffix in encoder_free or name in handmade]
    assert len(checked) > 30
    assert [name for name in checked if (FILES / name).read_bytes() != fresh[name]] == []


def test_pickle_payloads_are_armed():
    """Proof that the payloads would run: unpickling each (deliberately, here only) creates the marker."""
    unpicklers = {
        "pickle_payload.npy": lambda path: np.load(path, allow_pickle=True),
        "pickle_payload.npz": lambda path: np.load(path, allow_pickle=True)["W"],
        "pickle_payload.pt": lambda path: torch.load(path, weights_only=False),
        "pickle_legacy.pt": lambda path: pickle.loads(path.read_bytes()),
    }
    assert set(unpicklers) == set(PICKLES)
    for name, unpickle in unpicklers.items():
        MARKER.unlink(missing_ok=True)
        unpickle(FILES / name)
        assert MARKER.exists(), name
    MARKER.unlink()


def test_bombs_really_claim_their_size(monkeypatch):
    """The headers claim what the manifest says (read by Pillow, header only), and the PNG bomb is real."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # so that Image.open reads the claim and stops
    claims = {"bomb_png_40000x40000.png": (40000, 40000), "bomb_png_10000x10000.png": (10000, 10000),
              "bomb_gif_65535x65535.gif": (65535, 65535), "bomb_bmp_30000x30000.bmp": (30000, 30000),
              "bomb_jpeg_60000x60000.jpg": (60000, 60000), "bomb_tiff_tile.tif": (64, 64),
              "bomb_jpeg_scans.jpg": (64, 64)}
    assert set(claims) == set(_ids(BOMBS))
    for name, size in claims.items():
        data = (FILES / name).read_bytes()
        assert len(data) < 20_000
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            assert image.size == size, name
    png = (FILES / "bomb_png_10000x10000.png").read_bytes()
    idat = png.index(b"IDAT")
    length = int.from_bytes(png[idat - 4 : idat], "big")
    assert len(zlib.decompress(png[idat + 4 : idat + 4 + length])) == 10000 * (1 + 10000 // 8)


# ============================================================================================== loaders


@pytest.mark.parametrize("case", ERROR_CASES, ids=_ids(ERROR_CASES))
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_bad_input_raises_its_documented_error(case):
    expected = getattr(errors, case.outcome)
    with pytest.raises(InputError) as info:
        _load(case)
    assert type(info.value) is expected, f"{type(info.value).__name__}: {info.value}"
    message = str(info.value)
    assert case.fragment in message
    assert "Traceback" not in message and len(message) < 400


@pytest.mark.parametrize("case", OK_CASES, ids=_ids(OK_CASES))
def test_odd_input_loads_with_its_documented_conversion(case):
    loaded = _load(case)
    values = loaded.pixels if case.kind == "image" else loaded.values
    assert tuple(values.shape) == case.shape
    assert values.dtype == torch.float32
    assert bool(torch.isfinite(values).all())
    if case.kind == "image":
        assert float(values.min()) >= 0.0 and float(values.max()) <= 1.0
    if case.fragment:
        assert any(case.fragment in notice for notice in loaded.notices), loaded.notices
    else:
        assert loaded.notices == (), "an unexpected notice: the manifest says nothing is changed"


def _image(name):
    return load_image((FILES / name).read_bytes(), name=name)


def _matrix(name):
    return load_matrix((FILES / name).read_bytes(), name=name).values.numpy()


def _noise(shape, seed):
    """The same noise the corpus script drew (numpy's generator, not the loader)."""
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_image_values_match_their_recipes():
    rows, cols = np.mgrid[0:32, 0:48]
    np.testing.assert_allclose(_image("gray16.png").pixels[0].numpy(), (rows * 48 + cols) * 28 / 65535,
                               atol=1e-6)
    np.testing.assert_array_equal(_image("constant.png").pixels.numpy(), np.float32(128 / 255))
    np.testing.assert_allclose(_image("one_pixel.png").pixels.numpy(), [[[77 / 255]]], atol=1e-7)
    thin = _image("thin_5000x1.png").pixels[0, 0].numpy()
    np.testing.assert_allclose(thin, (np.arange(5000) % 256) / 255, atol=1e-7)
    noise = _noise((20, 24, 3), seed=3).transpose(2, 0, 1) / 255  # (3, 20, 24)
    np.testing.assert_allclose(_image("lossless.webp").pixels.numpy(), noise, atol=1e-7)  # lossless
    np.testing.assert_allclose(_image("rgb24.bmp").pixels.numpy(), noise, atol=1e-7)
    unit = np.linspace(0, 1, 16 * 24, dtype=np.float32).reshape(16, 24)
    np.testing.assert_array_equal(_image("float32.tif").pixels[0].numpy(), unit)
    np.testing.assert_allclose(_image("float32_wide_range.tif").pixels[0].numpy(), unit, atol=1e-5)


def test_transparency_is_laid_on_white():
    palette = _image("palette_transparent.png").pixels.numpy()  # left half transparent, right half red
    np.testing.assert_array_equal(palette[:, :, :8], 1.0)
    red = np.array([1.0, 0.0, 0.0])[:, None, None] * np.ones((16, 8))  # (3, 16, 8)
    np.testing.assert_array_equal(palette[:, :, 8:], red)
    grey, opacity = 40 / 255, 128 / 255
    np.testing.assert_allclose(_image("gray_alpha.png").pixels.numpy(), grey * opacity + 1 - opacity,
                               atol=1e-6)
    assert _image("gray_alpha.png").alpha == "composited"


def test_exif_orientation_6_turns_the_left_of_the_stored_pixels_to_the_top():
    loaded = _image("exif_orientation6.jpg")
    assert loaded.original_size == (20, 40)  # (width, height) upright
    top, bottom = loaded.pixels[:, :15].mean(dim=(1, 2)), loaded.pixels[:, -15:].mean(dim=(1, 2))
    assert top[0] > 0.9 and top[2] < 0.1  # red
    assert bottom[2] > 0.9 and bottom[0] < 0.1  # blue


def test_first_frame_of_the_animation_and_cmyk_colours():
    np.testing.assert_allclose(_image("animated.gif").pixels.mean(dim=(1, 2)).numpy(), [1, 0, 0], atol=0.01)
    cmyk = _image("cmyk.jpg").pixels
    cyan, yellow = cmyk[:, :, 2:12].mean(dim=(1, 2)), cmyk[:, :, 20:30].mean(dim=(1, 2))
    assert cyan[0] < 0.1 and cyan[1] > 0.9 and cyan[2] > 0.9
    assert yellow[0] > 0.9 and yellow[1] > 0.9 and yellow[2] < 0.1


def test_matrix_values_match_their_recipes():
    for name in ("header.csv", "semicolons.csv", "bom_crlf.csv"):
        np.testing.assert_array_equal(_matrix(name), [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(_matrix("spaces.txt"), np.float32([[1.5, 2], [3, 4e-3], [-5, 6]]))
    np.testing.assert_array_equal(_matrix("tabs.tsv"), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(_matrix("vector.npy"), [[0, 1, 2, 3, 4]])
    np.testing.assert_array_equal(_matrix("bool.npy"), (np.arange(12).reshape(3, 4) % 3 == 0) * 1.0)
    np.testing.assert_array_equal(_matrix("int64.npy"), np.arange(-6000, 6000, 1000).reshape(3, 4))
    np.testing.assert_array_equal(_matrix("big_int.npy"), [[16777216, 7]])  # 2^24 + 1 rounds to 2^24
    np.testing.assert_array_equal(_matrix("big_endian.npy"), np.float32(np.arange(12.0).reshape(3, 4) / 7))
    np.testing.assert_array_equal(_matrix("float16.npy"), [[0.5, -1.25], [65504, 3]])
    np.testing.assert_array_equal(_matrix("single.npz"), np.arange(12.0).reshape(4, 3))
    np.testing.assert_array_equal(_matrix("tensor.pt"), np.arange(15.0).reshape(3, 5) / 4)


@pytest.mark.parametrize("case", BOMBS, ids=_ids(BOMBS))
def test_bomb_is_refused_before_decoding_without_allocating_its_pixels(case, monkeypatch):
    data = (FILES / case.file).read_bytes()
    decoded = []

    def spy(self, *args, **kwargs):
        decoded.append(self.size)
        raise AssertionError("Pillow was asked to decode the pixels of a bomb")

    monkeypatch.setattr(image_file, "ISOLATE_DECODING", False, raising=False)  # decode here, under the spy
    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    monkeypatch.setattr(Image.Image, "load", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        tracemalloc.start()
        start = time.perf_counter()
        try:
            with pytest.raises(errors.DecompressionBombError, match=case.fragment):
                load_image(data, name=case.name)
        finally:
            elapsed = time.perf_counter() - start
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    assert decoded == []
    assert peak < BOMB_PEAK_BYTES, f"{peak / 2**20:.0f} MiB allocated"
    assert elapsed < BOMB_SECONDS


@pytest.mark.parametrize("file", PICKLES)
@pytest.mark.parametrize("name", ["x.npy", "x.npz", "x.pt", "x.pth", "x.csv", "x.bin", "x"])
def test_pickle_payload_never_runs_under_any_name(file, name):
    data = (FILES / file).read_bytes()
    with pytest.raises(InputError):
        load_matrix(data, name=name)
    with pytest.raises(InputError):
        load_image(data, name=name)
    assert not MARKER.exists()


# ========================================================================================= command line


def _cli_path(case, tmp_path) -> pathlib.Path:
    """The file to give the command line: the corpus file, or a copy under its upload name."""
    if case.upload_name is None:
        return FILES / case.file
    path = tmp_path / case.upload_name
    shutil.copyfile(FILES / case.file, path)
    return path


CLI_CASES = [case for case in MANIFEST if case.file not in CLI_TOO_SLOW]


@pytest.mark.parametrize("case", CLI_CASES, ids=_ids(CLI_CASES))
def test_cli_info_in_process(case, tmp_path, capsys):
    """``main(["info", FILE])``: 0 and the notice, or 2 and one line on stderr; no warning, no traceback.

    Warnings are recorded: the real command would print each on stderr.
    """
    path = _cli_path(case, tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = cli_main(["info", str(path)])
    out, err = capsys.readouterr()
    warned = [f"{w.category.__name__}: {w.message}" for w in caught]
    outcome, fragment = _final(case)
    if outcome == "ok":
        assert status == 0, err
        assert err == "" and warned == []
        assert f"shape: {case.shape}" in out
        assert fragment in out
        numbers = out.split("\n", 1)[1]  # after the file's name
        assert re.search(r"\b(nan|inf)\b", numbers, re.IGNORECASE) is None, out
    else:
        assert status == 2
        assert out == ""
        lines = err.splitlines() + warned
        assert len(lines) == 1, lines
        assert lines[0].startswith("error: ") and fragment in lines[0]


CLI_OK_CASES = [case for case in CLI_CASES if _final(case)[0] == "ok"]


@pytest.mark.parametrize("case", CLI_OK_CASES, ids=_ids(CLI_OK_CASES))
def test_cli_info_json_is_valid_json(case, tmp_path, capsys):
    status = cli_main(["info", str(_cli_path(case, tmp_path)), "--json"])
    out, err = capsys.readouterr()
    assert status == 0, err
    report = json.loads(out)  # strict JSON: no NaN or Infinity
    assert report["shape"] == list(case.shape)


SUBPROCESS_FILES = ["bomb_png_10000x10000.png", "truncated_half.png", "pickle_payload.pt",
                    "exif_orientation6.jpg", "html_name.csv"]


def test_cli_info_as_a_real_command(tmp_path):
    """``python -m lowrank_core info FILE`` in subprocesses, for one file of each kind of outcome.

    Each run imports torch (about 1.5 s), so only a few files go through a real process; every file goes
    through ``main`` in-process above.
    """
    failures = []
    for name in SUBPROCESS_FILES:
        case = CASES[name]
        run = subprocess.run([sys.executable, "-m", "lowrank_core", "info", str(_cli_path(case, tmp_path))],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
        out, err = run.stdout, run.stderr
        outcome, fragment = _final(case)
        if outcome == "ok":
            good = run.returncode == 0 and err == "" and fragment in out
        else:
            lines = err.splitlines()
            good = (run.returncode == 2 and out == "" and len(lines) == 1 and lines[0].startswith("error: ")
                    and fragment in lines[0])
        if not good or "Traceback" in out + err:
            failures.append(f"{case.file}: exit {run.returncode}, stderr {err!r}")
    assert not MARKER.exists()
    assert failures == []
