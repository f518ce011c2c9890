"""The command line: `python -m lowrank_core` in a subprocess (as a user runs it) and `main` in process,
checked against numpy and scikit-image."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from lowrank_core.cli import main
from tests.conftest import ROOT


def _command(*args: str) -> subprocess.Popen:
    """Start `python -m lowrank_core ARGS` from the repository root (one thread: the inputs are tiny)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "lowrank_core", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Every subprocess of this module, started together (each spends ~1.5 s importing torch)."""
    folder = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(3)
    np.savetxt(folder / "low_rank.csv", rng.random((30, 5)) @ rng.random((5, 22)), delimiter=",")
    Image.fromarray(_photo_like(72, 96, 3)).save(folder / "photo.png")
    (folder / "fake.png").write_text("this is not an image\n")
    np.save(folder / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    commands = {
        "demo_json": ("demo", "--json"),
        "demo_text": ("demo", "--seed", "7"),
        "info_csv": ("info", str(folder / "low_rank.csv"), "--json"),
        "compress": ("compress", str(folder / "photo.png"), "--rank", "6", "-o", str(folder / "out.png"),
                     "--json"),
        "missing": ("info", str(folder / "missing.png")),
        "fake_png": ("compress", str(folder / "fake.png"), "--rank", "2", "-o", str(folder / "o.png")),
        "pickle": ("info", str(folder / "objects.npy")),
    }
    started = {name: _command(*args) for name, args in commands.items()}
    results = {}
    for name, process in started.items():
        stdout, stderr = process.communicate(timeout=180)
        results[name] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    results["folder"] = folder
    return results


def _main_json(capsys, *args: str) -> dict:
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _photo_like(height: int, width: int, channels: int, seed: int = 0) -> np.ndarray:
    """An 8-bit image with a decaying spectrum: smooth waves plus a little noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    planes = [128 + 90 * np.sin(xx / (7 + c)) * np.cos(yy / 11) + 20 * np.cos((xx + yy) / 5)
              for c in range(channels)]
    image = np.stack(planes, -1) + rng.normal(0, 4, (height, width, channels))
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    return image[..., 0] if channels == 1 else image


@pytest.fixture
def rgb_png(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(_photo_like(72, 96, 3)).save(path)
    return path


@pytest.fixture
def grey_png(tmp_path):
    path = tmp_path / "grey.png"
    Image.fromarray(_photo_like(50, 64, 1, seed=1)).save(path)
    return path


# ================================================================================================= demo


def test_demo_json_replays_the_notebook(runs):
    result = runs["demo_json"]
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["w_shape"] == [15, 15]
    assert report["matrix_rank"] == 4 == report["numerical_rank"] == report["rank"]
    assert report["u_shape"] == [15, 15] and report["s_shape"] == [15] and report["v_shape"] == [15, 15]
    assert report["a_shape"] == [15, 4] and report["b_shape"] == [4, 15]
    assert report["w_nelement"] == 225 and report["ab_nelement"] == 120
    assert report["max_abs_difference"] < 1e-4
    assert report["lower_rank"] == 3 and report["lower_rank_max_abs_difference"] > 1e-2
    # the singular values are numpy's, in float64, of the same W
    from lowrank_core.sources import notebook_matrix

    W = notebook_matrix(15, 15, 4, seed=0).numpy()
    expected = np.linalg.svd(W.astype(np.float64), compute_uv=False)
    np.testing.assert_allclose(report["singular_values"], expected, atol=1e-5 * expected[0])
    assert np.linalg.matrix_rank(W) == 4  # numpy, with float32's epsilon


def test_demo_text_shows_the_notebook_numbers(runs):
    result = runs["demo_text"]
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "matrix_rank(W): 4" in out
    assert "W.nelement() = 225" in out and "a.nelement() + b.nelement() = 120" in out
    assert "U (15, 15), S (15,), Vh (15, 15)" in out  # torch.linalg.svd returns Vh (issue 12)
    assert "(15, 4)" in out and "(4, 15)" in out
    assert result.stderr == ""


@pytest.mark.parametrize("seed", [1, 123])
def test_demo_with_other_seeds_in_process(capsys, seed):
    report = _main_json(capsys, "demo", "--seed", str(seed))
    assert report["seed"] == seed and report["rank"] == 4
    assert report["max_abs_difference"] < 1e-4 < report["lower_rank_max_abs_difference"]


# ================================================================================================= info


def test_info_on_a_csv(runs):
    matrix = np.loadtxt(runs["folder"] / "low_rank.csv", delimiter=",")
    result = runs["info_csv"]
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["kind"] == "matrix" and report["source_format"] == "csv"
    assert report["shape"] == [30, 22] and report["channels"] == 1
    assert report["numerical_rank"] == [np.linalg.matrix_rank(matrix.astype(np.float32))] == [5]
    S = np.linalg.svd(matrix, compute_uv=False)
    np.testing.assert_allclose(report["singular_values"][0], S[:10], atol=1e-5 * S[0])
    energy = np.cumsum(S**2) / np.sum(S**2)
    for key, fraction in [("rank_energy_90", 0.9), ("rank_energy_99", 0.99), ("rank_energy_999", 0.999)]:
        assert report[key] == int(np.argmax(energy >= fraction)) + 1
    assert isinstance(report["optimal_hard_threshold_rank"], int)


def test_info_on_a_png(capsys, rgb_png):
    report = _main_json(capsys, "info", str(rgb_png))
    pixels = np.asarray(Image.open(rgb_png), dtype=np.float64).transpose(2, 0, 1) / 255  # (3, H, W)
    assert report["kind"] == "image" and report["mode"] == "RGB"
    assert report["shape"] == [3, 72, 96] and report["channels"] == 3
    assert report["original_size"] == [96, 72]
    expected = [int(np.linalg.matrix_rank(channel.astype(np.float32))) for channel in pixels]
    assert report["numerical_rank"] == expected
    S = np.linalg.svd(pixels, compute_uv=False)  # (3, 72)
    np.testing.assert_allclose(report["singular_values"], S[:, :10], atol=1e-5 * S.max())
    assert report["notices"] == []


def test_info_text_output(capsys, grey_png):
    assert main(["info", str(grey_png)]) == 0
    out = capsys.readouterr().out
    assert "shape: (1, 50, 64)" in out and "numerical rank" in out and "99.9%" in out


def test_info_on_an_npy_matrix(capsys, tmp_path):
    path = tmp_path / "eye.npy"
    np.save(path, np.eye(6))
    report = _main_json(capsys, "info", str(path))
    assert report["source_format"] == "npy" and report["numerical_rank"] == [6]
    assert report["singular_values"] == [[1.0] * 6]


# ============================================================================================= compress


def test_compress_writes_an_image_whose_psnr_is_reported(runs):
    rgb_png, out = runs["folder"] / "photo.png", runs["folder"] / "out.png"
    result = runs["compress"]
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    written = np.asarray(Image.open(out))
    original = np.asarray(Image.open(rgb_png))
    assert written.shape == original.shape and written.dtype == np.uint8
    assert report["rank"] == 6 and report["rule"] == "rank" and report["channels"] == 3
    expected_psnr = peak_signal_noise_ratio(original, written, data_range=255)
    assert report["psnr_db"] == pytest.approx(expected_psnr, abs=1e-3)
    expected_ssim = structural_similarity(original / 255, written / 255, gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False, data_range=1, channel_axis=2)
    assert report["ssim"] == pytest.approx(expected_ssim, abs=1e-3)
    difference = original.astype(np.float64) - written
    assert report["relative_error"] == pytest.approx(np.linalg.norm(difference) / np.linalg.norm(original),
                                                     rel=1e-6)
    # bytes by the closed forms: r(m + n)C numbers
    numbers = 6 * (72 + 96) * 3
    assert report["factor_bytes"] == {"float32": 4 * numbers, "float16": 2 * numbers,
                                      "int8": numbers + 8 * 6 * 3}
    assert report["raw_bytes"] == 72 * 96 * 3
    assert report["compression_ratio_raw_to_float16"] == pytest.approx(72 * 96 * 3 / (2 * numbers))


def test_compress_by_energy_picks_numpys_rank(capsys, grey_png, tmp_path):
    out = tmp_path / "out.bmp"
    report = _main_json(capsys, "compress", str(grey_png), "--energy", "0.995", "-o", str(out))
    pixels = np.asarray(Image.open(grey_png), dtype=np.float64) / 255
    S = np.linalg.svd(pixels, compute_uv=False)
    energy = np.cumsum(S**2) / np.sum(S**2)
    assert report["rank"] == int(np.argmax(energy >= 0.995)) + 1
    assert report["energy_kept"] >= 0.995
    assert Image.open(out).format == "BMP" and Image.open(out).mode == "L"


def test_compress_by_psnr_reaches_the_target_before_rounding(capsys, rgb_png, tmp_path):
    out = tmp_path / "out.png"
    report = _main_json(capsys, "compress", str(rgb_png), "--psnr", "30", "-o", str(out))
    assert report["rule"] == "psnr" and report["target"] == 30
    assert report["psnr_predicted_db"] >= 30
    # numpy: the smallest rank whose truncation reaches 30 dB
    pixels = np.asarray(Image.open(rgb_png), dtype=np.float64).transpose(2, 0, 1) / 255
    U, S, Vh = np.linalg.svd(pixels, full_matrices=False)
    mse = [np.mean((pixels - (U[..., :r] * S[:, None, :r]) @ Vh[:, :r]) ** 2) for r in range(S.shape[1] + 1)]
    assert report["rank"] == next(r for r, value in enumerate(mse) if 10 * np.log10(1 / value) >= 30)


def test_compress_text_output(capsys, rgb_png, tmp_path):
    assert main(["compress", str(rgb_png), "--rank", "3", "-o", str(tmp_path / "x.jpg")]) == 0
    out = capsys.readouterr().out
    assert "rank 3" in out and "PSNR" in out and "factor payload" in out  # issue 12: no raw-pixel ratio
    assert Image.open(tmp_path / "x.jpg").format == "JPEG"


# =============================================================================================== errors


def _assert_one_line_error(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""


def test_missing_file_exits_2(runs):
    result = runs["missing"]
    _assert_one_line_error(result)
    assert "missing.png" in result.stderr


def test_text_file_named_png_exits_2(runs):
    _assert_one_line_error(runs["fake_png"])
    assert not (runs["folder"] / "o.png").exists()


def test_pickled_npy_exits_2(runs):
    result = runs["pickle"]
    _assert_one_line_error(result)
    assert "pickle" in result.stderr.lower()


def _in_process_error(capsys, argv) -> str:
    with pytest.raises(SystemExit) as exited:  # argparse exits; our own errors return 2
        code = main(argv)
        raise SystemExit(code)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err
    return lines[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["compress", "{png}", "--rank", "0", "-o", "{tmp}/o.png"],
        ["compress", "{png}", "--rank", "73", "-o", "{tmp}/o.png"],
        ["compress", "{png}", "--rank", "two", "-o", "{tmp}/o.png"],
        ["compress", "{png}", "--rank", "3", "--psnr", "30", "-o", "{tmp}/o.png"],
        ["compress", "{png}", "-o", "{tmp}/o.png"],
        ["compress", "{png}", "--energy", "1.5", "-o", "{tmp}/o.png"],
        ["compress", "{png}", "--psnr", "-3", "-o", "{tmp}/o.png"],
        ["compress", "{png}", "--rank", "3", "-o", "{tmp}/o.unknown"],
        ["compress", "{png}", "--rank", "3", "-o", "{tmp}/no/such/folder/o.png"],
        ["compress", "{tmp}/m.csv", "--rank", "1", "-o", "{tmp}/o.png"],
        ["info", "{tmp}"],
        ["info", "{tmp}/m.xlsx"],
        ["info", "{tmp}/empty.csv"],
        ["demo", "--seed", "-1"],
        ["explode"],
    ],
    ids=["rank-0", "rank-too-big", "rank-text", "two-rules", "no-rule", "energy>1", "negative-psnr",
         "unknown-output", "missing-folder", "csv-as-image", "folder", "unknown-extension", "empty-file",
         "negative-seed", "unknown-command"],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, rgb_png, argv):
    (tmp_path / "m.csv").write_text("1,2\n3,4\n")
    (tmp_path / "m.xlsx").write_bytes(b"PK\x03\x04")
    (tmp_path / "empty.csv").write_bytes(b"")
    line = _in_process_error(capsys, [a.format(png=rgb_png, tmp=tmp_path) for a in argv])
    assert "error" in line
    assert not (tmp_path / "o.png").exists()  # nothing written on refusal
