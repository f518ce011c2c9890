"""Tests of lowrank_core.sources.image_file: load_image on every mode and size, and every failure path.

Fixtures are generated in the tests (Pillow, numpy), so no binary test files are needed.
"""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
import torch
from PIL import Image, features

from lowrank_core import sources
from lowrank_core.errors import (
    DecompressionBombError,
    EmptyInputError,
    InputError,
    NonFiniteError,
    ParseError,
    UnsupportedFormatError,
)
from lowrank_core.sources import load_image
from tests.core.sources.helpers import _encode, _png_claiming


def _grey_ramp(width: int = 6, height: int = 4) -> Image.Image:
    return Image.fromarray((np.arange(width * height).reshape(height, width) * 10 % 256).astype(np.uint8))


def _palette_with_transparency() -> bytes:
    image = Image.new("P", (4, 4), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.putpixel((1, 1), 1)
    return _encode(image, transparency=0)  # index 0 (red) is transparent


@pytest.mark.parametrize(
    "make, mode, channels, alpha",
    [
        (lambda: _encode(_grey_ramp()), "L", 1, "none"),
        (lambda: _encode(Image.new("1", (6, 4), 1)), "1", 1, "none"),
        (lambda: _encode(Image.new("LA", (6, 4), (10, 128))), "LA", 1, "composited"),
        (lambda: _encode(Image.new("LA", (6, 4), (10, 255))), "LA", 1, "dropped"),
        (lambda: _encode(Image.new("RGB", (6, 4), (10, 200, 30))), "RGB", 3, "none"),
        (lambda: _encode(Image.new("RGBA", (6, 4), (10, 200, 30, 0))), "RGBA", 3, "composited"),
        (lambda: _encode(Image.new("RGBA", (6, 4), (10, 200, 30, 255))), "RGBA", 3, "dropped"),
        (_palette_with_transparency, "P", 3, "composited"),
        (lambda: _encode(Image.new("P", (6, 4), 3)), "P", 3, "none"),
        (lambda: _encode(Image.new("CMYK", (6, 4), (0, 255, 0, 0)), "JPEG"), "CMYK", 3, "none"),
        (lambda: _encode(Image.new("CMYK", (6, 4), (0, 255, 0, 0)), "TIFF"), "CMYK", 3, "none"),
        (lambda: _encode(Image.fromarray(np.array([[0, 65535], [1000, 2]], np.uint16))), "I;16", 1, "none"),
        (lambda: _encode(Image.fromarray(np.array([[0, 70000], [5, 2]], np.int32)), "TIFF"), "I", 1, "none"),
        (lambda: _encode(Image.fromarray(np.eye(2, dtype=np.float32)), "TIFF"), "F", 1, "none"),
    ],
)
def test_image_modes(make, mode, channels, alpha):
    image = load_image(make())
    assert image.mode == mode
    assert image.channels == channels
    assert image.alpha == alpha
    assert image.pixels.dtype == torch.float32
    assert 0.0 <= float(image.pixels.min()) and float(image.pixels.max()) <= 1.0


def test_image_values_are_scaled_correctly():
    grey = load_image(_encode(Image.new("L", (2, 2), 51)))
    assert torch.allclose(grey.pixels, torch.full((1, 2, 2), 0.2))
    sixteen = load_image(_encode(Image.fromarray(np.array([[0, 65535], [32768, 2]], np.uint16))))
    np.testing.assert_allclose(sixteen.pixels[0].numpy(), [[0, 1], [32768 / 65535, 2 / 65535]], rtol=1e-6)
    unit_float = load_image(_encode(Image.fromarray(np.array([[0, 0.25], [1, 0.5]], np.float32)), "TIFF"))
    np.testing.assert_allclose(unit_float.pixels[0].numpy(), [[0, 0.25], [1, 0.5]])
    assert unit_float.notices == ()
    # LA: grey 10 at 50% opacity on white
    half = load_image(_encode(Image.new("LA", (1, 1), (10, 128))))
    opacity = 128 / 255
    assert float(half.pixels) == pytest.approx(10 / 255 * opacity + (1 - opacity), abs=1e-6)
    assert "white background" in half.notices[0]
    # the transparent palette entry (red) became white, the opaque one stays blue
    palette = load_image(_palette_with_transparency()).pixels
    assert palette[:, 0, 0].tolist() == [1.0, 1.0, 1.0]
    assert palette[:, 1, 1].tolist() == [0.0, 0.0, 1.0]
    cmyk = load_image(_encode(Image.new("CMYK", (2, 2), (0, 255, 0, 0)), "TIFF")).pixels  # magenta
    assert cmyk[:, 0, 0].tolist() == [1.0, 0.0, 1.0]


def test_float_image_outside_unit_range_is_rescaled_with_a_notice():
    image = load_image(_encode(Image.fromarray(np.array([[-2, 0], [2, 6]], np.float32)), "TIFF"))
    np.testing.assert_allclose(image.pixels[0].numpy(), [[0, 0.25], [0.5, 1]])
    assert image.notices == ("Pixel values span -2 to 6; they were rescaled to 0..1.",)


def test_constant_float_image_becomes_black_with_a_notice():
    image = load_image(_encode(Image.fromarray(np.full((3, 4), 5.0, np.float32)), "TIFF"))
    assert torch.equal(image.pixels, torch.zeros(1, 3, 4))
    assert "Every pixel has the value 5" in image.notices[0]


def test_nan_in_float_image_is_refused_with_its_position():
    pixels = np.zeros((3, 4), np.float32)
    pixels[2, 1] = np.nan
    with pytest.raises(NonFiniteError, match="row 3, column 2"):
        load_image(_encode(Image.fromarray(pixels), "TIFF"))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_exif_orientation_is_honoured(fmt):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = _encode(Image.new("RGB", (3, 2), (200, 10, 10)), fmt, exif=exif)
    image = load_image(data)
    assert (image.height, image.width) == (3, 2)
    assert image.original_size == (2, 3)
    assert "Rotated according to its EXIF orientation." in image.notices


def test_exif_orientation_rotates_the_pixels_the_right_way():
    pixels = np.zeros((2, 3), np.uint8)
    pixels[0, 0] = 255  # top-left marker
    exif = Image.Exif()
    exif[0x0112] = 6
    image = load_image(_encode(Image.fromarray(pixels), "PNG", exif=exif))
    # orientation 6: the stored top-left corner is shown at the top-right
    assert image.pixels[0].tolist() == [[0, 1], [0, 0], [0, 0]]


def test_animated_gif_uses_the_first_frame():
    frames = [Image.new("RGB", (4, 4), colour) for colour in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=50)
    image = load_image(buffer.getvalue())
    assert image.pixels[:, 0, 0].tolist() == [1.0, 0.0, 0.0]
    assert "only the first frame is used" in image.notices[0]


@pytest.mark.parametrize(
    "width, height, claim",
    [
        (30_000, 30_000, "900 megapixels"),  # refused by Pillow itself in Image.open
        (8_000, 8_000, "8000×8000 pixels (64.0 megapixels)"),  # under Pillow's limits, over ours
        (65_535, 65_535, "4,295 megapixels"),
        (50_001, 1000, "50001×1000 pixels"),
    ],
)
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_is_refused_before_decoding(width, height, claim):
    data = _png_claiming(width, height)
    assert len(data) < 100
    start = time.perf_counter()
    with pytest.raises(DecompressionBombError) as info:
        load_image(data, name="bomb.png")
    assert time.perf_counter() - start < 1.0  # decoding would allocate gigabytes and take far longer
    message = str(info.value)
    assert "bomb.png" in message
    assert claim in message
    assert "limit is 50.0 megapixels" in message


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_when_pillow_warnings_are_errors():
    with pytest.raises(DecompressionBombError):
        load_image(_png_claiming(10_000, 10_000))  # over Pillow's warning limit, under its error limit


def test_image_under_the_decode_cap_still_fails_cleanly_when_its_data_is_missing():
    with pytest.raises(ParseError, match="truncated or corrupt"):
        load_image(_png_claiming(2000, 2000))


def test_downscale_keeps_aspect_ratio_and_says_so():
    source = Image.fromarray((np.random.default_rng(0).random((300, 400, 3)) * 255).astype(np.uint8))
    image = load_image(_encode(source), max_pixels=10_000)
    assert image.height * image.width <= 10_000
    assert image.width / image.height == pytest.approx(400 / 300, rel=0.02)
    assert image.original_size == (400, 300)
    expected = f"Downscaled from 400×300 to {image.width}×{image.height} to stay under 10,000 pixels."
    assert image.notices == (expected,)


def test_default_budget_notice_in_megapixels():
    source = Image.new("L", (2500, 2000), 128)
    image = load_image(_encode(source))
    assert image.height * image.width <= sources.DEFAULT_MAX_PIXELS
    assert image.notices[0].endswith("to stay under 4.0 megapixels.")


def test_huge_jpeg_is_drafted_then_downscaled():
    rng = np.random.default_rng(1)
    source = Image.fromarray((rng.random((1500, 2000, 3)) * 255).astype(np.uint8))
    image = load_image(_encode(source, "JPEG"), max_pixels=50_000)
    assert image.height * image.width <= 50_000
    assert image.original_size == (2000, 1500)  # the size before the JPEG draft
    assert image.notices[0].startswith("Downscaled from 2000×1500 to ")


def test_transparent_image_downscales_without_dark_fringes():
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[:, :20] = (0, 0, 0, 0)  # transparent black: must come out white
    rgba[:, 20:] = (255, 255, 255, 255)
    image = load_image(_encode(Image.fromarray(rgba)), max_pixels=100)
    assert image.alpha == "composited"
    assert float(image.pixels.min()) > 0.98


@pytest.mark.parametrize("size", [(1, 1), (1, 5000), (5000, 1), (7, 3)])
def test_tiny_thin_and_constant_images_load(size):
    image = load_image(_encode(Image.new("L", size, 77)))
    assert (image.width, image.height) == size
    assert torch.allclose(image.pixels, torch.full((1, size[1], size[0]), 77 / 255))


def test_thin_image_downscale_stays_under_the_budget():
    image = load_image(_encode(Image.new("L", (1, 5000), 77)), max_pixels=100)
    assert image.height * image.width <= 100


@pytest.mark.parametrize(
    "fmt, options",
    [
        ("WEBP", {"lossless": True}), ("BMP", {}), ("TIFF", {}), ("PNG", {}), ("GIF", {}),
        ("JPEG", {"quality": 95}),
    ],
)
def test_common_formats_load(fmt, options):
    if fmt == "WEBP":  # the image page accepts WebP uploads: a Pillow without it must fail here, not skip
        assert features.check("webp"), "this Pillow has no WebP support"
    source = Image.new("RGB", (5, 4), (40, 120, 200))
    image = load_image(_encode(source, fmt, **options))
    assert image.channels == 3 and (image.width, image.height) == (5, 4)
    assert image.pixels[:, 2, 2].tolist() == pytest.approx([40 / 255, 120 / 255, 200 / 255], abs=0.03)


def test_float_tiff_loads_exactly():
    values = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    image = load_image(_encode(Image.fromarray(values), "TIFF"))
    np.testing.assert_array_equal(image.pixels[0].numpy(), values)


def _truncated_png() -> bytes:
    noise = (np.random.default_rng(2).random((64, 64, 3)) * 255).astype(np.uint8)
    return _encode(Image.fromarray(noise))[:2000]


@pytest.mark.parametrize(
    "data, name, error, needle",
    [
        (b"", "empty.png", EmptyInputError, "'empty.png' is empty"),
        (_truncated_png(), "cut.png", ParseError, "'cut.png' could not be decoded"),
        (bytes(range(256)) * 4, "noise.png", UnsupportedFormatError, "not an image in a format this app"),
        (b"1,2,3\n4,5,6\n", "table.png", UnsupportedFormatError, "'table.png' is not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, "header.png", InputError, "header.png"),
        (_png_claiming(0, 5), "zero.png", InputError, "zero.png"),
    ],
)
def test_bad_image_bytes(data, name, error, needle):
    with pytest.raises(error) as info:
        load_image(data, name=name)
    assert needle in str(info.value)


@pytest.mark.parametrize(
    "data, options", [("text", {}), (b"x", {"max_pixels": 0}), (b"x", {"max_pixels": 2.5})]
)
def test_load_image_argument_validation(data, options):
    with pytest.raises(InputError):
        load_image(data, **options)
