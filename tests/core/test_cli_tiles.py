"""`python -m lowrank_core compress IMAGE --tiles S (--bytes N | --psnr DB)`: the report's keys against the
global mode's, and its numbers against the files it wrote (the tile file read with its documented layout,
the image measured by scikit-image)."""

import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from lowrank_core.cli import main
from lowrank_core.image import to_uint8
from lowrank_core.image.tiles import decode_tiles
from tests.conftest import ROOT
from tests.core.image.pictures import COLOUR

PHOTO = np.round(COLOUR.double().numpy() * 255).astype(np.uint8).transpose(1, 2, 0)  # (48, 64, 3)
LUMA = np.array([0.299, 0.587, 0.114])
MODES = {"rgb": 0, "luminance": 1, "ycbcr": 2}
DTYPES = {"float32": 0, "float16": 1, "int8": 2}


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(PHOTO).save(path)
    return path


def _json(capsys, *args) -> dict:
    assert main([*map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _pixels(path) -> np.ndarray:
    """An image file as (C, H, W) float64 in [0, 1], read by Pillow."""
    with Image.open(path) as image:
        array = np.asarray(image, dtype=np.float64) / 255
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def _read_tile_file(data: bytes) -> tuple[tuple, np.ndarray]:
    """(header fields, every tile's rank code) read with the layout documented in ``image.tiles``."""
    header = struct.unpack_from("<4sBBBBBII", data)
    side, channels, height, width = header[4:]
    count = channels * -(-height // side) * -(-width // side)
    return header, np.frombuffer(data, np.uint8, count=count, offset=17)


def test_the_report_has_the_global_keys_plus_the_tile_side_and_histogram(capsys, photo, tmp_path):
    global_report = _json(capsys, "compress", photo, "--bytes", 4000, "-o", tmp_path / "global.png")
    tiles_report = _json(capsys, "compress", photo, "--tiles", 16, "--bytes", 4000, "-o",
                         tmp_path / "tiles.png")
    assert set(tiles_report) == set(global_report) | {"tile_side", "rank_histogram", "raw_tiles"}
    assert tiles_report["tile_side"] == 16 and tiles_report["method"] == "tiles"
    assert tiles_report["rank"] is None and tiles_report["ranks"] is None  # a rank per tile, not one rank


@pytest.mark.parametrize(("mode", "dtype", "side"), [("rgb", "float16", 8), ("ycbcr", "int8", 16),
                                                     ("luminance", "float32", 32)])
def test_the_numbers_are_those_of_the_files_written(capsys, photo, tmp_path, mode, dtype, side):
    out, lrt = tmp_path / "out.png", tmp_path / "out.lrt"
    report = _json(capsys, "compress", photo, "--tiles", side, "--bytes", 3000, "--mode", mode, "--dtype",
                   dtype, "-o", out, "--factors", lrt)
    data = lrt.read_bytes()
    assert report["factor_bytes"][dtype] == report["factors_file_bytes"] == len(data) <= 3000
    (magic, version, mode_code, dtype_code, tile_side, channels, height, width), codes = _read_tile_file(data)
    assert (magic, version, tile_side) == (b"LRT1", 1, side)
    assert (mode_code, dtype_code) == (MODES[mode], DTYPES[dtype])
    assert (channels, height, width) == (1 if mode == "luminance" else 3, 48, 64)
    expected = {str(r): int(n) for r, n in enumerate(np.bincount(codes[codes != 255])) if n}
    assert report["rank_histogram"] == {**expected, "raw": int((codes == 255).sum())}
    assert report["raw_tiles"] == int((codes == 255).sum())
    written = _pixels(out)
    decoded = to_uint8(decode_tiles(data)).double().numpy() / 255
    assert np.array_equal(written, decoded)  # the image written is the tile file's decode
    original = _pixels(photo)
    reference = np.einsum("c,chw->hw", LUMA, original)[None] if mode == "luminance" else original
    assert report["psnr_db"] == pytest.approx(peak_signal_noise_ratio(reference, written, data_range=1),
                                              abs=1e-4)
    expected_ssim = structural_similarity(reference, written, gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False, data_range=1, channel_axis=0)
    assert report["ssim"] == pytest.approx(expected_ssim, abs=1e-3)
    assert report["raw_bytes"] == reference.size


def test_a_target_psnr_is_met_by_the_written_file(capsys, photo, tmp_path):
    out = tmp_path / "out.png"
    report = _json(capsys, "compress", photo, "--tiles", 8, "--psnr", 33, "--mode", "ycbcr", "--dtype",
                   "int8", "-o", out)
    measured = peak_signal_noise_ratio(_pixels(photo), _pixels(out), data_range=1)
    assert measured >= 33 and report["target_met"] is True
    assert report["psnr_db"] == pytest.approx(measured, abs=1e-4)


def test_a_lossy_output_says_where_the_psnr_went(capsys, photo, tmp_path):
    report = _json(capsys, "compress", photo, "--tiles", 8, "--psnr", 50, "-o", tmp_path / "out.jpg")
    assert report["target_met"] is False  # JPEG q95 of the decode loses more than the last dB
    assert any("the tile file's own decode reaches" in notice for notice in report["notices"])


def test_the_text_report_names_the_tiles(capsys, photo, tmp_path):
    argv = ["compress", str(photo), "--tiles", "16", "--bytes", "3000", "-o", str(tmp_path / "o.png")]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "16×16 tiles (tiles at each rank 0:" in text and "tile file at float32 (header, rank codes" in text


def test_a_folder_of_images_writes_a_tile_file_each(capsys, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(PHOTO).save(folder / "a.png")
    Image.fromarray(PHOTO[::-1]).save(folder / "b.png")
    reports = _json(capsys, "compress", folder, "--tiles", 8, "--bytes", 2500, "-o", tmp_path / "out",
                    "--factors", tmp_path / "lrt")
    assert [r["input"] for r in reports] == [str(folder / "a.png"), str(folder / "b.png")]
    for report, name in zip(reports, ("a", "b"), strict=True):
        assert (tmp_path / "lrt" / f"{name}.lrt").stat().st_size == report["factors_file_bytes"] <= 2500


@pytest.mark.parametrize(("args", "words"), [
    (("--tiles", "8", "--rank", "3"), "--tiles takes --bytes N or --psnr DB"),
    (("--tiles", "8", "--energy", "0.9"), "--tiles takes --bytes N or --psnr DB"),
    (("--tiles", "8", "--bytes", "100"), "byte budget must be at least"),
    (("--tiles", "8", "--psnr", "99", "--mode", "luminance"), "target PSNR must be at most"),
    (("--tiles", "12", "--bytes", "3000"), "invalid choice: 12"),
])
def test_bad_tile_options_exit_2_with_one_line(capsys, photo, tmp_path, args, words):
    argv = ["compress", str(photo), *args, "-o", str(tmp_path / "o.png")]
    if "invalid choice" in words:  # argparse's own refusal
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
    else:
        assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_the_command_as_a_user_runs_it(photo, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "lowrank_core", "compress", str(photo), "--tiles", "8",
                           "--bytes", "3000", "-o", str(tmp_path / "o.png"), "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0 and done.stderr == ""
    assert json.loads(done.stdout)["tile_side"] == 8
