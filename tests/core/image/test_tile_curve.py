"""lowrank_core.image.tiles.curve: the tile SVD's rate–distortion points, each checked against its own file
decoded and measured by scikit-image, and drawn on the same working copy as the other codecs."""

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from lowrank_core.errors import LowRankError
from lowrank_core.image import compare_curves, rate_distortion, to_uint8
from lowrank_core.image.tiles import compress_tiles, decode_tiles, tile_curve_name, tile_rate_distortion
from tests.core.image.pictures import COLOUR, GREY

LUMA = np.array([0.299, 0.587, 0.114])


def _skimage_quality(reference: np.ndarray, data: bytes) -> tuple[float, float]:
    """PSNR and SSIM (Wang et al.: Gaussian σ = 1.5) of a tile file's 8-bit decode, by scikit-image."""
    decoded = to_uint8(decode_tiles(data)).double().numpy() / 255
    value_psnr = peak_signal_noise_ratio(reference, decoded, data_range=1.0)
    value_ssim = structural_similarity(reference, decoded, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False, data_range=1.0, channel_axis=0)
    return value_psnr, value_ssim


@pytest.mark.parametrize(("mode", "channels"), [("rgb", 3), ("ycbcr", 3), ("luminance", 3), ("rgb", 1)])
def test_each_point_is_the_better_precision_measured_on_its_own_file(mode, channels):
    pixels = COLOUR if channels == 3 else GREY
    height, width = pixels.shape[1:]
    budgets = [700, 1500, 3000, 6000]
    curve = tile_rate_distortion(pixels, mode, tile_side=8, budgets=budgets)
    reference = pixels.double().numpy()
    if mode == "luminance":
        reference = np.einsum("c,chw->hw", LUMA, reference)[None]
    assert [p.codec for p in curve.points] == ["tiles-8"] * len(budgets)
    for point, budget in zip(curve.points, budgets, strict=True):
        files = {}
        for dtype in ("float16", "int8"):
            try:
                coded = compress_tiles(pixels, mode=mode, tile_side=8, dtype=dtype, budget=budget)
            except LowRankError:  # below the smallest file at this precision
                continue
            files[dtype] = coded.to_bytes()
        measured = {dtype: _skimage_quality(reference, data) for dtype, data in files.items()}
        best = max(measured, key=lambda dtype: measured[dtype][0])
        assert point.setting == f"8×8 tiles, {best}"
        assert point.bytes == len(files[best]) <= budget
        assert point.bits_per_pixel == pytest.approx(8 * len(files[best]) / (height * width))
        if math.isinf(point.psnr):  # lossless: the core says ∞; scikit-image sees float32 rounding only
            assert measured[best][0] > 120
        else:
            assert point.psnr == pytest.approx(measured[best][0], abs=1e-4)
        assert point.ssim == pytest.approx(measured[best][1], abs=1e-3)


def test_default_budgets_run_from_the_smallest_file_to_the_raw_size():
    pixels = COLOUR  # 48 × 64: 3 × 4 tiles of 16 × 16 per channel
    curve = tile_rate_distortion(pixels, "rgb", tile_side=16, count=6)
    sizes = [p.bytes for p in curve.points]
    smallest = 17 + 3 * 3 * 4 * (1 + 1)  # header, a rank code and an int8 mean per tile (3 × 3 × 4 tiles)
    assert sizes[0] == smallest
    assert sizes == sorted(sizes) and sizes[-1] <= pixels.numel()
    assert curve.points[-1].psnr > curve.points[0].psnr + 10


def test_the_curve_is_drawn_on_the_same_working_copy_as_the_other_codecs():
    pixels = COLOUR.repeat(1, 1, 10)  # 48 × 640, wider than RD_MAX_SIDE: both measure a 512-wide copy
    rd = rate_distortion(pixels, "ycbcr", ranks=[1, 4], jpeg_qualities=(30, 90), downsample_factors=(2,))
    curve = tile_rate_distortion(pixels, "ycbcr", tile_side=16, count=4)
    sizes = (curve.height, curve.width, curve.source_height, curve.source_width)
    assert sizes == (rd.height, rd.width, 48, 640)
    assert curve.is_downscaled
    both = rd.combined(curve)
    assert both.codecs == [*rd.codecs, tile_curve_name(16)]
    assert compare_curves(both, "tiles-16", "jpeg") is not None
    with pytest.raises(LowRankError, match="same working copy"):
        rd.combined(tile_rate_distortion(pixels, "rgb", tile_side=16, count=2))


def test_count_must_be_sensible():
    with pytest.raises(LowRankError, match="count"):
        tile_rate_distortion(COLOUR, "rgb", tile_side=8, count=1)


def test_budgets_below_the_smallest_file_are_refused():
    with pytest.raises(LowRankError, match="at least"):
        tile_rate_distortion(COLOUR, "rgb", tile_side=8, budgets=[100])


def test_dtypes_must_be_known():
    with pytest.raises(LowRankError, match="dtype"):
        tile_rate_distortion(COLOUR, "rgb", tile_side=8, dtypes=("float8",))
    with pytest.raises(LowRankError, match="dtypes"):
        tile_rate_distortion(COLOUR, "rgb", tile_side=8, dtypes=())
