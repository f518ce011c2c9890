"""lowrank_core.image.rate_distortion against Pillow's encoders, numpy's SVD and scikit-image's
PSNR/SSIM.
"""

import io
import math

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from lowrank_core.image import (
    RateDistortion,
    RatePoint,
    compare_curves,
    original_sizes,
    rate_distortion,
    rgb_to_luminance,
    to_hwc_uint8,
)
from tests.core.image.pictures import COLOUR


def test_original_sizes_are_pillows_encoded_lengths():
    sizes = original_sizes(COLOUR, "rgb")
    image = Image.fromarray(to_hwc_uint8(COLOUR), "RGB")
    for key, options in (("png", {"format": "PNG"}), ("jpeg75", {"format": "JPEG", "quality": 75}),
                         ("jpeg90", {"format": "JPEG", "quality": 90})):
        buffer = io.BytesIO()
        image.save(buffer, **options)
        assert sizes[key] == len(buffer.getvalue())
    assert sizes["raw"] == 3 * 48 * 64
    assert original_sizes(COLOUR, "luminance")["raw"] == 48 * 64


@pytest.fixture(scope="module")
def rd_rgb() -> RateDistortion:
    return rate_distortion(COLOUR, "rgb", ranks=[1, 4, 16], jpeg_qualities=(10, 50, 90),
                           downsample_factors=(2, 4))


def _oracle_quality(reference: np.ndarray, decoded: np.ndarray) -> tuple[float, float]:
    """scikit-image PSNR and SSIM (Gaussian window, population covariance), channels first."""
    return (peak_signal_noise_ratio(reference, decoded, data_range=1),
            structural_similarity(reference, decoded, gaussian_weights=True, sigma=1.5,
                                  use_sample_covariance=False, data_range=1, channel_axis=0))


def test_rate_distortion_jpeg_points_match_pillow_and_scikit_image(rd_rgb):
    image = Image.fromarray(to_hwc_uint8(COLOUR), "RGB")
    reference = COLOUR.double().numpy()
    points = rd_rgb.curve("jpeg")
    assert [p.setting for p in points] == ["quality 10", "quality 50", "quality 90"]
    for point, quality in zip(points, (10, 50, 90), strict=True):
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality)
        assert point.bytes == len(buffer.getvalue())
        assert point.bits_per_pixel == pytest.approx(8 * point.bytes / (48 * 64))
        decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())), dtype=np.float64)
        decoded = decoded.transpose(2, 0, 1) / 255
        expected_psnr, expected_ssim = _oracle_quality(reference, decoded)
        assert point.psnr == pytest.approx(expected_psnr, abs=1e-6)
        assert point.ssim == pytest.approx(expected_ssim, abs=1e-3)


def test_rate_distortion_svd_points_match_numpy(rd_rgb):
    reference = COLOUR.double().numpy()
    for point, rank in zip(rd_rgb.curve("svd-float16"), (1, 4, 16), strict=True):
        assert point.bytes == 2 * rank * (48 + 64) * 3
        U, S, Vh = np.linalg.svd(reference, full_matrices=False)
        a = (U[..., :rank] * S[:, None, :rank]).astype(np.float16).astype(np.float64)
        b = Vh[:, :rank, :].astype(np.float16).astype(np.float64)
        decoded = np.floor(np.clip(a @ b, 0, 1) * 255 + 0.5) / 255
        expected_psnr, expected_ssim = _oracle_quality(reference, decoded)
        assert point.psnr == pytest.approx(expected_psnr, abs=0.02)
        assert point.ssim == pytest.approx(expected_ssim, abs=2e-3)
    int8 = rd_rgb.curve("svd-int8")
    assert [p.bytes for p in int8] == [r * (48 + 64) * 3 + 2 * r * 3 * 4 for r in (1, 4, 16)]


def test_rate_distortion_downsampling_points(rd_rgb):
    image = Image.fromarray(to_hwc_uint8(COLOUR), "RGB")
    raw = rd_rgb.curve("downsample-raw")
    png = {p.setting: p for p in rd_rgb.curve("downsample-png")}
    for factor in (2, 4):
        point = next(p for p in raw if p.setting == f"1/{factor} size")
        small = image.resize((round(64 / factor), round(48 / factor)), Image.Resampling.BICUBIC)
        assert point.bytes == small.width * small.height * 3
        buffer = io.BytesIO()
        small.save(buffer, format="PNG", compress_level=6)
        assert png[point.setting].bytes == len(buffer.getvalue())
        restored = np.asarray(small.resize((64, 48), Image.Resampling.BICUBIC), dtype=np.float64)
        expected_psnr, _ = _oracle_quality(COLOUR.double().numpy(), restored.transpose(2, 0, 1) / 255)
        assert point.psnr == pytest.approx(expected_psnr, abs=1e-6)
        assert png[point.setting].psnr == point.psnr


def test_rate_distortion_of_luminance_uses_the_grey_reference():
    rd = rate_distortion(COLOUR, "luminance", ranks=[2], jpeg_qualities=(50,), downsample_factors=(2,))
    grey = Image.fromarray(to_hwc_uint8(rgb_to_luminance(COLOUR)), "L")
    buffer = io.BytesIO()
    grey.save(buffer, format="JPEG", quality=50)
    assert rd.curve("jpeg")[0].bytes == len(buffer.getvalue())
    assert rd.curve("svd-float16")[0].bytes == 2 * 2 * (48 + 64)


def test_rate_distortion_runs_on_a_working_copy():
    rd = rate_distortion(COLOUR, "ycbcr", max_side=32, ranks=[4], jpeg_qualities=(50,),
                         downsample_factors=(2,))
    assert (rd.height, rd.width, rd.source_height, rd.source_width) == (24, 32, 48, 64) and rd.is_downscaled
    (svd,) = rd.curve("svd-float16")
    assert svd.setting == "rank 4/1" and svd.bytes == 2 * (4 + 2 * 1) * (24 + 32)


def _synthetic(first: list[tuple[float, float]], second: list[tuple[float, float]]) -> RateDistortion:
    """A RateDistortion from (bits per pixel, PSNR) pairs of two codecs (1 pixel, so bytes = bpp / 8)."""
    points = [RatePoint("a", "", 1, bpp, q, math.nan) for bpp, q in first]
    points += [RatePoint("b", "", 1, bpp, q, math.nan) for bpp, q in second]
    return RateDistortion(tuple(points), 1, 1, 1, 1, "rgb")


def test_compare_curves_finds_the_crossing():
    # a rises from 20 to 40 dB over 0.1..10 bpp; b is flat at 30 dB: a wins above 1 bpp (log-midpoint)
    rd = _synthetic([(0.1, 20.0), (10.0, 40.0)], [(0.1, 30.0), (10.0, 30.0)])
    comparison = compare_curves(rd, "a", "b")
    assert len(comparison.wins) == 1
    low, high = comparison.wins[0]
    assert low == pytest.approx(1.0, rel=0.05) and high == pytest.approx(10.0)
    assert comparison.share == pytest.approx(0.5, abs=0.01)
    assert compare_curves(_synthetic([(0.1, 1), (0.2, 2)], [(1.0, 1), (2.0, 2)]), "a", "b") is None


def test_compare_curves_mean_gap_is_the_average_difference_in_log_bpp():
    # a is b + 5 dB at every size: the gap is 5 dB. A rising line against a flat one crossing at the
    # log-midpoint averages to zero; a linear-in-log-bpp difference d(t) = 20t - 10 over t in [0, 1] too.
    rd = _synthetic([(0.1, 35.0), (10.0, 45.0)], [(0.1, 30.0), (10.0, 40.0)])
    assert compare_curves(rd, "a", "b").mean_gap == pytest.approx(5.0)
    assert compare_curves(rd, "b", "a").mean_gap == pytest.approx(-5.0)
    crossing = _synthetic([(0.1, 20.0), (10.0, 40.0)], [(0.1, 30.0), (10.0, 30.0)])
    assert compare_curves(crossing, "a", "b").mean_gap == pytest.approx(0.0, abs=1e-9)
    # over the common range 1..10 bpp only: a is 30 -> 40 there (mean 35), b is flat at 30
    partial = _synthetic([(0.1, 20.0), (10.0, 40.0)], [(1.0, 30.0), (10.0, 30.0)])
    assert compare_curves(partial, "a", "b").mean_gap == pytest.approx(5.0)
