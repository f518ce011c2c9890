"""``python -m lowrank_core compress`` at parity with the image page (issue 12): every option, measured on the
files it writes with Pillow, scikit-image and numpy (never with the command's own measurement)."""

import json
import math

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from lowrank_core.cli import main
from lowrank_core.image import rebuild_from_arrays
from lowrank_core.image.tiles import decode_tiles

HEIGHT, WIDTH = 40, 56
LUMA = np.array([0.299, 0.587, 0.114])
MODES = ("rgb", "luminance", "ycbcr")
DTYPES = ("float32", "float16", "int8")
DTYPE_BYTES = {"float32": 4, "float16": 2, "int8": 1}


def picture(height: int = HEIGHT, width: int = WIDTH, channels: int = 3, seed: int = 0) -> np.ndarray:
    """An 8-bit photograph-like image: smooth waves and a little noise (a decaying spectrum)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    planes = [128 + 90 * np.sin(xx / (7 + c)) * np.cos(yy / 11) + 20 * np.cos((xx + yy) / 5)
              for c in range(channels)]
    image = np.clip(np.round(np.stack(planes, -1) + rng.normal(0, 3, (height, width, channels))), 0, 255)
    image = image.astype(np.uint8)
    return image[..., 0] if channels == 1 else image


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(picture()).save(path)
    return path


def run_json(capsys, *args) -> dict | list:
    """``main([... , "--json"])``: exit status 0, and the JSON it printed (strict: no NaN, no Infinity)."""
    code = main([*map(str, args), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))


def reference(path, mode: str) -> np.ndarray:
    """What the written file is measured against, by numpy: the pixels in [0, 1], or their luma."""
    pixels = np.asarray(Image.open(path), dtype=np.float64) / 255
    return pixels @ LUMA if mode == "luminance" and pixels.ndim == 3 else pixels


def written(path) -> np.ndarray:
    """The written file decoded by Pillow, in [0, 1]."""
    return np.asarray(Image.open(path), dtype=np.float64) / 255


def to_8bit(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] to 8 bits as Pillow and libjpeg round: clip, then halves up."""
    return np.floor(np.clip(values, 0, 1) * 255 + 0.5)


def psnr_of(truth: np.ndarray, test: np.ndarray) -> float:
    return math.inf if np.array_equal(truth, test) else peak_signal_noise_ratio(truth, test, data_range=1)


def energy_of(truth: np.ndarray, test: np.ndarray) -> float:
    return 1 - np.sum((truth - test) ** 2) / np.sum(truth ** 2)


def payload(ranks, dtype: str, channels: int = 3) -> int:
    """Closed form: r(H + W) numbers per channel at the dtype; int8 adds two float32 scales per rank."""
    per_channel = (ranks[0], ranks[1], ranks[1]) if len(ranks) == 2 else (ranks[0],) * channels  # YCbCr: 2
    numbers = sum(r * (HEIGHT + WIDTH) for r in per_channel)
    return numbers * DTYPE_BYTES[dtype] + (8 * sum(per_channel) if dtype == "int8" else 0)


# ========================================================================= targets, met on the written file


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("extension", [".png", ".jpg"])
def test_psnr_and_energy_targets_are_met_on_the_written_file(capsys, photo, tmp_path, mode, dtype, extension):
    truth = reference(photo, mode)
    for rule, target, measure in (("--psnr", 32.0, psnr_of), ("--energy", 0.999, energy_of)):
        out = tmp_path / f"out{extension}"
        report = run_json(capsys, "compress", photo, rule, target, "--mode", mode, "--dtype", dtype,
                          "-o", out)
        image = written(out)
        assert image.shape == truth.shape  # luminance writes a grey file
        measured = measure(truth, image)
        assert measured >= target, (rule, measured)
        assert report["target_met"] is True and report["mode"] == mode and report["dtype"] == dtype
        assert report["psnr_db"] == pytest.approx(psnr_of(truth, image), abs=1e-3)
        relative = np.linalg.norm(truth - image) / np.linalg.norm(truth)
        assert report["relative_error"] == pytest.approx(relative, rel=1e-5)
        assert report["factor_payload_bytes"] == payload(report["ranks"], dtype,
                                                         channels=1 if mode == "luminance" else 3)
        if mode != "ycbcr" and report["rank"] > 1:  # the smallest rank that meets it, on its own file
            below = tmp_path / f"below{extension}"
            run_json(capsys, "compress", photo, "--rank", report["rank"] - 1, "--mode", mode,
                     "--dtype", dtype, "-o", below)
            assert measure(truth, written(below)) < target, (rule, report["rank"])


def test_the_psnr_target_in_ycbcr_is_the_rgb_psnr_of_the_file(capsys, photo, tmp_path):
    """The rule used to meet the target per channel group in YCbCr, about 4 dB above the file's RGB PSNR."""
    out = tmp_path / "out.png"
    report = run_json(capsys, "compress", photo, "--psnr", 36, "--mode", "ycbcr", "-o", out)
    assert report["ranks"][0] >= report["ranks"][1] >= 1
    assert psnr_of(reference(photo, "rgb"), written(out)) >= 36


def test_an_unreachable_target_says_so(capsys, photo, tmp_path):
    report = run_json(capsys, "compress", photo, "--psnr", 80, "--dtype", "int8", "-o", tmp_path / "o.png")
    assert report["target_met"] is False
    assert report["rank"] == min(HEIGHT, WIDTH)
    assert psnr_of(reference(photo, "rgb"), written(tmp_path / "o.png")) < 80
    assert any("short of the psnr target 80" in notice for notice in report["notices"])


# ================================================================================ ranks, bytes, modes


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_a_byte_budget_keeps_the_largest_rank_that_fits(capsys, photo, tmp_path, dtype, mode):
    budget = 4000
    report = run_json(capsys, "compress", photo, "--bytes", budget, "--dtype", dtype, "--mode", mode,
                      "-o", tmp_path / "o.png")
    channels = 1 if mode == "luminance" else 3
    ranks = report["ranks"]
    assert report["rule"] == "bytes" and report["target"] == budget
    assert report["factor_payload_bytes"] == payload(ranks, dtype, channels=channels) <= budget
    assert report["factor_bytes"][dtype] == report["factor_payload_bytes"]
    for grown in ([r + (i == j) for j, r in enumerate(ranks)] for i in range(len(ranks))):
        assert payload(grown, dtype, channels=channels) > budget  # no rank can grow by one


def test_the_chroma_rank_and_its_default(capsys, photo, tmp_path):
    given = run_json(capsys, "compress", photo, "--rank", 9, "--mode", "ycbcr", "--chroma-rank", 2,
                     "-o", tmp_path / "a.png")
    default = run_json(capsys, "compress", photo, "--rank", 9, "--mode", "ycbcr", "-o", tmp_path / "b.png")
    assert given["ranks"] == [9, 2] and default["ranks"] == [9, 3]  # ⌈9 / 4⌉
    assert given["factor_payload_bytes"] == payload([9, 2], "float32")


def test_luminance_writes_the_rank_r_luma_as_a_grey_file(capsys, photo, tmp_path):
    out = tmp_path / "o.png"
    report = run_json(capsys, "compress", photo, "--rank", 5, "--mode", "luminance", "--dtype", "float32",
                      "-o", out)
    assert Image.open(out).mode == "L" and report["channels"] == 1
    U, S, Vh = np.linalg.svd(reference(photo, "luminance"), full_matrices=False)  # numpy, float64
    truncated = (U[:, :5] * S[:5]) @ Vh[:5]
    assert np.abs(to_8bit(truncated) - written(out) * 255).max() <= 1  # float32 against float64


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_the_factors_file_is_the_written_image_and_its_size_is_real(capsys, photo, tmp_path, dtype, mode):
    out, factors = tmp_path / "o.png", tmp_path / "f.npz"
    report = run_json(capsys, "compress", photo, "--rank", 6, "--mode", mode, "--dtype", dtype, "-o", out,
                      "--factors", factors)
    assert report["factors_file"] == str(factors)
    assert report["factors_file_bytes"] == factors.stat().st_size
    assert report["output_file_bytes"] == out.stat().st_size
    assert report["input_file_bytes"] == photo.stat().st_size
    with np.load(factors, allow_pickle=False) as arrays:  # no pickle needed to read it
        assert str(arrays["mode"]) == mode
        assert arrays["a0"].dtype == np.dtype(dtype) and arrays["a0"].shape == (HEIGHT, 6)
        if mode == "rgb" and dtype != "int8":  # numpy alone rebuilds it: x_c = a_c @ b_c
            rebuilt = np.stack([arrays[f"a{c}"].astype(np.float64) @ arrays[f"b{c}"] for c in range(3)], -1)
            assert np.abs(to_8bit(rebuilt) - written(out) * 255).max() <= 1
        image = rebuild_from_arrays(arrays)  # (C, H, W) in [0, 1]
    shown = to_8bit(image.numpy().transpose(1, 2, 0)).squeeze()
    np.testing.assert_array_equal(shown, written(out) * 255)
    assert report["factors_file_bytes"] > report["factor_payload_bytes"]  # plus .npy headers and the zip


@pytest.mark.parametrize("rule", [("--bytes", 2500), ("--psnr", 30)])
@pytest.mark.parametrize("dtype", ["float16", "int8"])
def test_tiles_write_a_tile_file_that_decodes_to_the_written_image(capsys, photo, tmp_path, rule, dtype):
    out, factors = tmp_path / "o.png", tmp_path / "t.lrt"
    report = run_json(capsys, "compress", photo, *rule, "--tiles", 16, "--dtype", dtype, "-o", out,
                      "--factors", factors)
    assert report["method"] == "tiles" and report["tile_side"] == 16
    data = factors.read_bytes()
    assert report["factors_file_bytes"] == len(data) == report["factor_payload_bytes"]
    decoded = to_8bit(decode_tiles(data).clamp(0, 1).numpy().transpose(1, 2, 0)).squeeze()
    np.testing.assert_array_equal(decoded, written(out) * 255)
    if rule[0] == "--bytes":
        assert len(data) <= rule[1]
    else:
        assert psnr_of(reference(photo, "rgb"), written(out)) >= rule[1]


# ================================================================================== JSON and the text


def test_an_infinite_psnr_is_null_in_json(capsys, photo, tmp_path):
    report = run_json(capsys, "compress", photo, "--rank", min(HEIGHT, WIDTH), "-o", tmp_path / "o.png")
    np.testing.assert_array_equal(written(tmp_path / "o.png"), reference(photo, "rgb"))  # lossless: x itself
    assert report["psnr_db"] is None and report["relative_error"] == 0.0


def test_the_report_leads_with_this_images_own_png_and_jpeg_not_raw_pixels(capsys, photo, tmp_path):
    """Issue 12, item 5: raw 8-bit pixels are what nobody stores; the competitors are the image's PNG/JPEG."""
    report = run_json(capsys, "compress", photo, "--rank", 4, "--dtype", "float16", "-o", tmp_path / "o.png")
    image = Image.open(photo)
    for key, options in (("png", {"format": "PNG", "compress_level": 6}),
                         ("jpeg90", {"format": "JPEG", "quality": 90}),
                         ("jpeg75", {"format": "JPEG", "quality": 75})):
        encoded = tmp_path / f"same.{key}"
        image.save(encoded, **options)
        assert report["same_image_bytes"][key] == encoded.stat().st_size
    keys = list(report)
    assert keys.index("factor_payload_bytes") < keys.index("same_image_bytes") < keys.index("raw_bytes")
    assert keys.index("same_image_bytes") < keys.index("compression_ratio_raw_to_float16")
    text_args = ["compress", str(photo), "--rank", "4", "--dtype", "float16", "-o", str(tmp_path / "o.png")]
    assert main(text_args) == 0
    lines = capsys.readouterr().out.splitlines()
    payload_line = next(line for line in lines if line.startswith("factor payload at float16"))
    png = report["same_image_bytes"]["png"]
    assert f"{png / report['factor_payload_bytes']:.1f}× smaller than this image as PNG ({png:,} bytes)" \
        in payload_line
    assert "raw" not in payload_line
    assert "raw 8-bit pixels, for reference" in lines[lines.index(payload_line) + 1]


# ====================================================================================== bad combinations


@pytest.mark.parametrize(("argv", "words"), [
    (["--rank", "4", "--chroma-rank", "2"], ["--chroma-rank", "ycbcr"]),
    (["--psnr", "30", "--mode", "ycbcr", "--chroma-rank", "2"], ["--chroma-rank", "--rank"]),
    (["--rank", "4", "--mode", "ycbcr", "--chroma-rank", "41"], ["chroma rank", "41"]),
    (["--rank", "4", "--tiles", "16"], ["--tiles"]),
    (["--energy", "0.9", "--tiles", "16"], ["--tiles"]),
    (["--bytes", "900", "--tiles", "12"], ["--tiles", "12"]),
    (["--bytes", "10"], ["byte budget", "10"]),
    (["--bytes", "900", "--rank", "3"], ["--rank", "--bytes"]),
    (["--rank", "3", "--dtype", "float64"], ["--dtype", "float64"]),
    (["--rank", "3", "--mode", "hsv"], ["--mode", "hsv"]),
    (["--rank", "3", "--factors", "{tmp}/f.txt"], ["f.txt", ".npz"]),
    (["--energy", "0"], ["energy", "0"]),
    (["--psnr", "0"], ["PSNR", "0"]),
], ids=["chroma-without-ycbcr", "chroma-with-psnr", "chroma-too-big", "tiles-with-rank",
        "tiles-with-energy", "tile-side-12", "budget-below-rank-1", "two-rules", "unknown-dtype",
        "unknown-mode", "factors-not-npz", "energy-0", "psnr-0"])
def test_a_bad_combination_exits_2_with_one_line(capsys, photo, tmp_path, argv, words):
    args = ["compress", str(photo), *[a.format(tmp=tmp_path) for a in argv], "-o", str(tmp_path / "o.png")]
    with pytest.raises(SystemExit) as exited:  # argparse exits by itself; main returns 2 for our own errors
        raise SystemExit(main(args))
    assert exited.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert "error" in lines[0] and all(word in lines[0] for word in words), lines[0]
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "f.txt").exists()
