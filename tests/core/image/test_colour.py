"""lowrank_core.image.colour against Pillow's colour conversions and the JFIF closed form."""

import numpy as np
import pytest
import torch
from PIL import Image

from lowrank_core.errors import LowRankError, ShapeError
from lowrank_core.image import rgb_to_luminance, rgb_to_ycbcr, to_color_space, to_hwc_uint8, ycbcr_to_rgb
from tests.core.image.pictures import COLOUR, FORWARD, GREY, INVERSE


def test_ycbcr_matches_pillow_within_one_level():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    rgb[0, :8] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0],
                  [0, 255, 255], [255, 0, 255]]  # the corners of the RGB cube
    expected = np.asarray(Image.fromarray(rgb, "RGB").convert("YCbCr"), dtype=np.float64)  # (H, W, 3)
    ours = rgb_to_ycbcr(torch.from_numpy(rgb).permute(2, 0, 1).double() / 255) * 255  # (3, H, W)
    eight_bit = np.clip(np.floor(ours.permute(1, 2, 0).numpy() + 0.5), 0, 255)  # as an 8-bit file stores it
    assert np.abs(eight_bit - expected).max() <= 1.0


def test_ycbcr_round_trip_and_closed_form():
    ycbcr = rgb_to_ycbcr(COLOUR.double())
    expected = np.einsum("ij,jhw->ihw", FORWARD, COLOUR.double().numpy()) + np.array([0, 128, 128])[:, None,
                                                                                                  None] / 255
    np.testing.assert_allclose(ycbcr.numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(ycbcr_to_rgb(ycbcr).numpy(), COLOUR.double().numpy(), atol=1e-5)
    inverse = np.einsum("ij,jhw->ihw", INVERSE, expected - np.array([0, 128, 128])[:, None, None] / 255)
    np.testing.assert_allclose(inverse, COLOUR.double().numpy(), atol=1e-5)  # the constants agree


def test_luminance_matches_pillow_grey():
    rgb = to_hwc_uint8(COLOUR)
    expected = np.asarray(Image.fromarray(rgb, "RGB").convert("L"), dtype=np.float64) / 255
    ours = rgb_to_luminance(COLOUR)
    assert ours.shape == (1, 48, 64)
    assert np.abs(ours[0].numpy() - expected).max() <= 1 / 255 + 1e-6
    assert torch.equal(rgb_to_luminance(GREY), GREY)  # a grey image is its own luminance


def test_to_color_space_centres_chroma():
    grey_rgb = GREY.expand(3, -1, -1)
    channels = to_color_space(grey_rgb, "ycbcr")
    assert channels[1:].abs().max() < 1e-6  # grey has no chroma
    np.testing.assert_allclose(channels[0].numpy(), GREY[0].numpy(), atol=1e-6)


@pytest.mark.parametrize("mode", ["rgb", "luminance", "ycbcr", "hsv"])
def test_modes_on_a_grey_image(mode):
    if mode == "ycbcr":
        with pytest.raises(ShapeError):
            to_color_space(GREY, mode)
    elif mode == "hsv":
        with pytest.raises(LowRankError):
            to_color_space(GREY, mode)
    else:
        assert torch.equal(to_color_space(GREY, mode), GREY)


def test_pixels_must_be_a_stack_of_one_or_three_channels():
    with pytest.raises(ShapeError):
        to_color_space(torch.zeros(2, 4, 4), "rgb")
