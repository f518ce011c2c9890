"""lowrank_core.image.pixels against numpy's rounding and Pillow's encoders."""

import io

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from lowrank_core.errors import LowRankError
from lowrank_core.image import (
    encode_image,
    fit_size,
    normalize_signed,
    pixel_zoom,
    resize,
    shown_size,
    to_hwc_uint8,
    to_uint8,
    working_copy,
)
from tests.core.image.pictures import COLOUR


@given(st.lists(st.floats(-0.5, 1.5, allow_nan=False, width=32), min_size=1, max_size=64))
def test_to_uint8_rounds_and_clips_like_numpy(values):
    x = torch.tensor(values, dtype=torch.float32)
    clipped = np.clip(np.asarray(values, dtype=np.float32), 0, 1)
    expected = np.floor(clipped * np.float32(255) + np.float32(0.5))
    assert np.array_equal(to_uint8(x).numpy(), expected.astype(np.uint8))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_encode_image_is_what_pillow_writes(fmt):
    data = encode_image(COLOUR, fmt, quality=80 if fmt != "PNG" else None)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == fmt and image.size == (64, 48) and image.mode == "RGB"
        if fmt == "PNG":  # lossless
            assert np.array_equal(np.asarray(image), to_hwc_uint8(COLOUR))


def test_encode_image_rejects_bad_options():
    with pytest.raises(LowRankError):
        encode_image(COLOUR, "JPEG", quality=0)
    with pytest.raises(LowRankError):
        encode_image(COLOUR, "GIF")


@pytest.mark.parametrize(("height", "width", "side", "expected"),
                         [(1080, 1920, 1024, (576, 1024)), (300, 451, 512, (300, 451)),
                          (4000, 10, 100, (100, 1))])
def test_fit_size(height, width, side, expected):
    assert fit_size(height, width, side) == expected


def test_working_copy_keeps_small_images_and_shrinks_large_ones():
    assert torch.equal(working_copy(COLOUR, max_side=64), COLOUR)
    small = working_copy(COLOUR, max_side=32)
    assert small.shape == (3, 24, 32) and 0 <= small.min() and small.max() <= 1


def test_normalize_signed_puts_zero_at_mid_grey():
    x = torch.tensor([[[-2.0, 0.0, 1.0]]])
    np.testing.assert_allclose(normalize_signed(x).numpy(), [[[0.0, 0.5, 0.75]]])
    assert torch.equal(normalize_signed(torch.zeros(1, 2, 2)), torch.full((1, 2, 2), 0.5))


# ------------------------------------------------------------------ small images: square, sharp pixels


@pytest.mark.parametrize(("height", "width", "expected"), [
    (8, 8, 64), (1, 1, 512), (5, 7, 64), (20, 30, 16), (40, 48, 8), (100, 60, 5), (300, 200, 1), (600, 4, 1),
])
def test_pixel_zoom_is_whole_and_covers_whole_jpeg_blocks_when_large(height, width, expected):
    zoom = pixel_zoom(height, width, 512)
    assert zoom == expected
    assert zoom == 1 or max(height, width) * zoom <= 512
    assert zoom < 8 or zoom % 8 == 0 and (zoom < 16 or zoom % 16 == 0)


def test_a_whole_factor_enlargement_repeats_each_pixel():
    """Issue 12: an 8×8 upload was shown smoothed; enlarged by a whole factor, each pixel is a k × k square
    (numpy's Kronecker product is the oracle), for images and for factors alike."""
    x = torch.rand(3, 5, 7)
    enlarged = resize(x, (5 * 4, 7 * 3)).numpy()
    np.testing.assert_array_equal(enlarged, np.kron(x.numpy(), np.ones((1, 4, 3), dtype=np.float32)))
    a, b = torch.rand(3, 5, 2), torch.rand(3, 2, 7)  # factors: rows of a and columns of b, as the codec does
    product = torch.bmm(resize(a, (20, 2)), resize(b, (2, 21))).numpy()
    np.testing.assert_allclose(product, np.kron(torch.bmm(a, b).numpy(), np.ones((1, 4, 3))), rtol=1e-6)


def test_other_sizes_are_still_resized_smoothly():
    x = torch.zeros(1, 4, 4)
    x[0, :, 2:] = 1.0  # a hard edge
    assert 0 < float(resize(x, (4, 6))[0, 0, 3]) < 1  # 1.5× is not whole: bilinear, the edge blends
    assert float(resize(x, (2, 2)).max()) <= 1.0  # downscaling is unchanged


@pytest.mark.parametrize(("height", "width", "expected"), [
    (8, 8, (512, 512)), (5, 7, (320, 448)), (300, 200, (300, 200)), (2000, 1000, (1024, 512)),
])
def test_shown_size_enlarges_small_images_and_fits_large_ones(height, width, expected):
    assert shown_size(height, width, 1024, sharp_side=512) == expected
