"""Tests of lowrank_core.sources: generators against numpy's SVD, loaders against every failure path.

Fixtures are generated in the tests (Pillow, numpy, torch), so no binary test files are needed.
"""

from __future__ import annotations

import io
import math
import pathlib
import pickle
import struct
import time
import zlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, features

from lowrank_core import sources
from lowrank_core.errors import (
    DecompressionBombError,
    EmptyInputError,
    InputError,
    NonFiniteError,
    ParseError,
    ShapeError,
    TooLargeError,
    UnsafeFileError,
    UnsupportedFormatError,
)
from lowrank_core.sources import (
    GENERATORS,
    LoadedImage,
    LoadedMatrix,
    decaying_spectrum,
    generate,
    hilbert,
    identity,
    load_image,
    load_matrix,
    load_sample,
    noisy_low_rank,
    notebook_2x3,
    notebook_matrix,
    procedural_image,
    random_full_rank,
    sample_bytes,
    sample_names,
    sample_photo_1080p,
)

# ------------------------------------------------------------------------------------------------ helpers


def _singular_values(x: torch.Tensor) -> np.ndarray:
    """Singular values by numpy in float64: an oracle independent of torch."""
    return np.linalg.svd(x.double().numpy(), compute_uv=False)


def _float32_rank(x: torch.Tensor) -> int:
    """numpy's matrix_rank in float64, with the tolerance float32 data deserves (eps32 · max(m, n) · σ₁)."""
    s = _singular_values(x)
    return int(np.linalg.matrix_rank(x.double().numpy(), tol=s[0] * max(x.shape) * np.finfo(np.float32).eps))


def _encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_claiming(width: int, height: int) -> bytes:
    """A ~60-byte grey PNG whose IHDR claims width × height (with valid CRCs) but holds one row of data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + _png_chunk(b"IEND", b"")
    )


def _npy(array: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, **options)
    return buffer.getvalue()


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _pt(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


class _TouchOnUnpickle:
    """Unpickling this runs ``Path.touch(path)``: proof that code ran."""

    def __init__(self, path: pathlib.Path):
        self.path = str(path)

    def __reduce__(self):
        return (pathlib.Path.touch, (self.path,))


# ============================================================================================= generators

SEEDED = [
    lambda seed: notebook_matrix(seed=seed),
    lambda seed: noisy_low_rank(seed=seed),
    lambda seed: decaying_spectrum(seed=seed),
    lambda seed: random_full_rank(seed=seed),
]


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: notebook_matrix(), (15, 15)),
        (lambda: notebook_matrix(7, 9, 3), (7, 9)),
        (lambda: noisy_low_rank(), (200, 200)),
        (lambda: noisy_low_rank(30, 20, 5), (30, 20)),
        (lambda: decaying_spectrum(), (100, 100)),
        (lambda: decaying_spectrum(40, 60, decay="power"), (40, 60)),
        (lambda: hilbert(), (10, 10)),
        (lambda: identity(4), (4, 4)),
        (lambda: random_full_rank(), (50, 50)),
        (lambda: random_full_rank(1, 3), (1, 3)),
        (lambda: notebook_2x3(), (2, 3)),
    ],
)
def test_generator_shape_and_dtype(make, shape):
    x = make()
    assert tuple(x.shape) == shape
    assert x.dtype == torch.float32
    assert torch.isfinite(x).all()


@pytest.mark.parametrize("make", SEEDED)
def test_seeded_generators_are_deterministic_and_seed_dependent(make):
    assert torch.equal(make(0), make(0))
    assert torch.equal(make(123), make(123))
    assert not torch.equal(make(0), make(1))


def test_generators_leave_the_global_rng_alone():
    torch.manual_seed(42)
    expected = torch.rand(3)
    torch.manual_seed(42)
    notebook_matrix(seed=5)
    noisy_low_rank(seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_notebook_matrix_has_rank_k():
    assert _float32_rank(notebook_matrix()) == 4
    assert _float32_rank(notebook_matrix(20, 30, 7, seed=3)) == 7
    assert (notebook_matrix() > 0).all()


def test_noisy_low_rank_has_its_signal_above_the_noise_edge():
    m = n = 200
    s = _singular_values(noisy_low_rank(m, n, 10, noise_sigma=0.01))
    edge = 0.01 * (math.sqrt(m) + math.sqrt(n))  # largest singular value of the noise, asymptotically
    assert (s[:10] > 3 * edge).all()
    assert s[10] < 1.1 * edge
    # with no noise the singular values are exactly the documented 10 .. 1
    clean = _singular_values(noisy_low_rank(m, n, 10, noise_sigma=0.0))
    np.testing.assert_allclose(clean[:10], np.linspace(10, 1, 10), rtol=1e-5)
    assert clean[10] < 1e-5


@pytest.mark.parametrize(
    "decay, rate, expected",
    [
        ("exponential", 0.1, lambda i: np.exp(-0.1 * i)),
        ("exponential", 0.05, lambda i: np.exp(-0.05 * i)),
        ("power", 1.0, lambda i: (i + 1.0) ** -1.0),
        ("power", 0.5, lambda i: (i + 1.0) ** -0.5),
    ],
)
def test_decaying_spectrum_has_the_requested_singular_values(decay, rate, expected):
    s = _singular_values(decaying_spectrum(100, 80, decay=decay, rate=rate, seed=2))
    np.testing.assert_allclose(s, expected(np.arange(80)), rtol=1e-4)


def test_hilbert_matches_scipy_or_the_closed_form():
    try:
        from scipy.linalg import hilbert as reference
    except ImportError:  # closed form H_ij = 1 / (i + j + 1)
        def reference(n):
            return 1.0 / (np.arange(n)[:, None] + np.arange(n)[None, :] + 1.0)
    np.testing.assert_allclose(hilbert(12).numpy(), reference(12), rtol=1e-7)


def test_small_fixed_matrices():
    assert torch.equal(identity(3), torch.eye(3))
    assert notebook_2x3().tolist() == [[2, 0, 0], [1, 2, 3]]


@pytest.mark.parametrize(
    "call, needle",
    [
        (lambda: notebook_matrix(0, 5), "m must be between 1 and 2000; got 0"),
        (lambda: notebook_matrix(5, 2001), "n must be between 1 and 2000; got 2001"),
        (lambda: notebook_matrix(5, 5, -1), "k must be between"),
        (lambda: notebook_matrix(2.5, 5), "m must be a whole number; got 2.5"),
        (lambda: notebook_matrix(True, 5), "m must be a whole number"),
        (lambda: notebook_matrix(seed=-1), "seed must be between"),
        (lambda: notebook_matrix(seed="x"), "seed must be a whole number"),
        (lambda: noisy_low_rank(10, 10, 11), "rank must be at most min(m, n) = 10; got 11"),
        (lambda: noisy_low_rank(noise_sigma=-0.1), "noise_sigma must be between"),
        (lambda: noisy_low_rank(noise_sigma=float("nan")), "noise_sigma"),
        (lambda: decaying_spectrum(decay="linear"), "decay must be 'exponential' or 'power'; got 'linear'"),
        (lambda: decaying_spectrum(rate=-1), "rate must be between 0 and 10; got -1"),
        (lambda: hilbert(0), "n must be between"),
        (lambda: identity(10_000), "got 10000"),
        (lambda: random_full_rank(3, None), "n must be a whole number; got None"),
    ],
)
def test_generator_validation_names_the_value(call, needle):
    with pytest.raises(InputError) as info:
        call()
    assert needle in str(info.value)


@pytest.mark.parametrize("name", list(GENERATORS))
def test_every_registered_generator_works_with_its_defaults(name):
    spec = GENERATORS[name]
    assert spec.name == name and spec.label and spec.description
    defaults = {p.name: p.default for p in spec.params}
    x = generate(name, **defaults)
    assert x.ndim == 2 and x.dtype == torch.float32 and torch.isfinite(x).all()
    assert torch.equal(x, generate(name))  # the spec's defaults are the function's defaults
    for p in spec.params:
        assert p.kind in ("int", "float")
        assert p.minimum <= p.default <= p.maximum
    if spec.seeded:
        assert torch.equal(generate(name, seed=7), generate(name, seed=7))


def test_generate_passes_parameters():
    x = generate("notebook", m=6, n=8, k=2, seed=1)
    assert torch.equal(x, notebook_matrix(6, 8, 2, seed=1))
    assert torch.equal(generate("decay-power", rate=2.0), decaying_spectrum(decay="power", rate=2.0))
    assert torch.equal(generate("notebook", m=6.0), notebook_matrix(6))  # a float from a widget


@pytest.mark.parametrize(
    "name, params, needle",
    [
        ("nope", {}, "Unknown generator 'nope'"),
        ("hilbert", {"m": 3}, "has no setting 'm'"),
        ("hilbert", {"seed": 3}, "has no setting 'seed'"),
        ("notebook", {"m": 0}, "m must be between 1 and 2000; got 0"),
        ("noisy-low-rank", {"noise_sigma": 5.0}, "noise_sigma must be between 0 and 1; got 5"),
        ("notebook", {"k": "four"}, "k must be a whole number; got 'four'"),
    ],
)
def test_generate_refuses_unknown_names_and_bad_values(name, params, needle):
    with pytest.raises(InputError) as info:
        generate(name, **params)
    assert needle in str(info.value)


# ============================================================================================== samples


@pytest.mark.parametrize("name", sample_names())
def test_every_sample_loads(name):
    image = load_sample(name)
    assert isinstance(image, LoadedImage)
    C, H, W = image.pixels.shape
    assert C in (1, 3) and H >= 64 and W >= 64
    assert image.pixels.dtype == torch.float32
    assert 0.0 <= float(image.pixels.min()) and float(image.pixels.max()) <= 1.0
    assert image.alpha == "none"


@pytest.mark.parametrize("name", sources.PHOTO_NAMES)
def test_photos_are_real_photographs(name):
    image = load_sample(name)
    assert float(image.pixels.std()) > 0.05
    assert _float32_rank(image.pixels[0]) > 100  # a photograph is not low rank
    data = sample_bytes(name)
    assert data[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb", b"\xff\xd8\xff\xe1")
    assert len(data) < 600_000


def test_licence_file_names_every_photo():
    licence = (sources.SAMPLES_DIR / "LICENSE.md").read_text(encoding="utf-8")
    shipped = {p.name for p in sources.SAMPLES_DIR.iterdir() if p.suffix in (".png", ".jpg")}
    assert shipped == set(sources.PHOTO_FILES.values())
    for file_name in shipped:
        assert f"`{file_name}`" in licence


def test_sample_photo_1080p():
    x = sample_photo_1080p()
    assert tuple(x.shape) == (3, 1080, 1920) and x.dtype == torch.float32
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0 and float(x.std()) > 0.05


@pytest.mark.parametrize("name, channels", [("gradient", 1), ("checkerboard", 1), ("circles", 3),
                                            ("stripes", 3), ("rank-one", 1)])
def test_procedural_images(name, channels):
    x = procedural_image(name, height=48, width=64)
    assert tuple(x.shape) == (channels, 48, 64)
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0 and float(x.std()) > 0.01


def test_rank_one_image_is_exactly_rank_one():
    x = procedural_image("rank-one")[0].double().numpy()
    assert np.linalg.matrix_rank(x) == 1  # float64 tolerance: exact, not just up to float32 rounding


def test_procedural_sample_downscales_under_a_small_budget():
    image = load_sample("gradient", max_pixels=1000)
    assert image.height * image.width <= 1000
    assert image.original_size == (256, 256)
    assert any("Downscaled from 256×256" in notice for notice in image.notices)


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: load_sample("nope"), InputError),
        (lambda: sample_bytes("nope"), InputError),
        (lambda: sample_bytes("gradient"), InputError),
        (lambda: procedural_image("nope"), InputError),
        (lambda: procedural_image("gradient", height=0), InputError),
    ],
)
def test_sample_errors(call, error):
    with pytest.raises(error):
        call()


# ========================================================================================== image loader


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
    assert "only the first of 3 frames is used" in image.notices[0]


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
        (bytes(range(256)) * 4, "noise.png", UnsupportedFormatError, "not an image Pillow can read"),
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


# ========================================================================================= matrix loader


def _values(result: LoadedMatrix) -> list[list[float]]:
    return result.values.tolist()


@pytest.mark.parametrize(
    "text, name, expected",
    [
        ("1,2,3\n4,5,6\n", "m.csv", [[1, 2, 3], [4, 5, 6]]),
        ("1;2;3\n4;5;6", "m.csv", [[1, 2, 3], [4, 5, 6]]),
        ("1\t2\t3\n4\t5\t6\n", "m.tsv", [[1, 2, 3], [4, 5, 6]]),
        ("1 2   3\n 4 5 6 \n", "m.txt", [[1, 2, 3], [4, 5, 6]]),
        ("1, 2, 3\r\n4, 5, 6\r\n", "m.csv", [[1, 2, 3], [4, 5, 6]]),
        ("1,2\r3,4\r", "m.csv", [[1, 2], [3, 4]]),
        ("\n\n1,2\n\n  \n3,4\n\n", "m.csv", [[1, 2], [3, 4]]),
        ("1.5e2,-0.25,+3\n", "m.csv", [[150, -0.25, 3]]),
        ("7\n8\n9\n", "column.csv", [[7], [8], [9]]),
        ("7,8,9", "row.csv", [[7, 8, 9]]),
        ('"1","2"\n"3","4"\n', "quoted.csv", [[1, 2], [3, 4]]),
        ("1 2\n3 4", "no-extension", [[1, 2], [3, 4]]),
    ],
)
def test_text_formats(text, name, expected):
    assert _values(load_matrix(text, name=name)) == expected
    assert _values(load_matrix(text.encode(), name=name)) == expected


def test_bom_and_crlf():
    result = load_matrix("\ufeff1,2\r\n3,4\r\n".encode(), name="excel.csv")
    assert _values(result) == [[1, 2], [3, 4]]
    assert result.source_format == "csv"
    assert _values(load_matrix("\ufeff1,2\n3,4")) == [[1, 2], [3, 4]]  # pasted text with a BOM


def test_header_row_is_accepted_with_a_notice():
    result = load_matrix(b"x,y,z\n1,2,3\n4,5,6\n", name="h.csv")
    assert _values(result) == [[1, 2, 3], [4, 5, 6]]
    assert result.notices == ("The first row ('x, y, z') was read as column names, not numbers.",)


def test_comment_lines_are_skipped_with_a_notice():
    result = load_matrix("# saved by numpy.savetxt\n1 2\n# middle\n3 4\n", name="m.txt")
    assert _values(result) == [[1, 2], [3, 4]]
    assert "Skipped 2 comment lines" in result.notices[0]


def test_source_format_follows_the_extension():
    assert load_matrix("1,2", name="a.csv").source_format == "csv"
    assert load_matrix("1\t2", name="a.tsv").source_format == "csv"
    assert load_matrix("1 2", name="a.txt").source_format == "text"
    assert load_matrix("1 2", name="pasted").source_format == "text"
    assert load_matrix(_npy(np.eye(2)), name="a.npy").source_format == "npy"
    assert load_matrix(_npy(np.eye(2)), name="matrix.bin").source_format == "npy"  # sniffed
    assert load_matrix(_npz(W=np.eye(2)), name="a.npz").source_format == "npz"
    assert load_matrix(_pt(torch.eye(2)), name="a.pth").source_format == "pt"


@pytest.mark.parametrize(
    "text, error, needle",
    [
        ("", EmptyInputError, "contains no numbers"),
        ("\n \n\r\n", EmptyInputError, "contains no numbers"),
        ("a,b,c\n", EmptyInputError, "column names but no numbers"),
        ("1,2,3\n4,abc,6\n", ParseError, "Row 2, column 2 is 'abc', not a number."),
        ("1,2,3\n\n4,5,6\n7,8,x\n", ParseError, "Row 4, column 3 is 'x'"),  # the file's own line numbers
        ("1,2,3\n4,,6\n", ParseError, "Row 2, column 2 is empty"),
        ("1,2,3\n4,5\n", ParseError, "Row 2 has 2 values, expected 3"),
        ("1,2,3\n4,5,6,7\n", ParseError, "Row 2 has 4 values, expected 3"),
        ("1 2\n3\n", ParseError, "Row 2 has 1 value, expected 2"),
        ("1,2\n3,nan\n", NonFiniteError, "Row 2, column 2 is NaN"),
        ("1,2\n3,4\ninf,5\n", NonFiniteError, "Row 3, column 1 is infinite"),
        ("1,-Infinity\n", NonFiniteError, "Row 1, column 2 is infinite"),
        ("1,2\n3,1e39\n", NonFiniteError, "Row 2, column 2 is 1e+39, which overflows float32"),
        ("1,2\n3," + "x" * 500 + "\n", ParseError, "Row 2, column 2 is 'xxxxxxxx"),
        ("x,1\n2,3\n", ParseError, "Row 1, column 1 is 'x'"),  # a partly numeric first row is data
    ],
)
def test_text_failures_name_the_place(text, error, needle):
    with pytest.raises(error) as info:
        load_matrix(text, name="m.csv")
    assert needle in str(info.value)
    assert len(str(info.value)) < 250  # a 500-character cell is never echoed in full


def test_decimal_commas_get_a_hint():
    with pytest.raises(ParseError, match="Row 1, column 1 is '1,5', not a number. Use a dot"):
        load_matrix("1,5;2,5\n3,0;4,0\n", name="european.csv")


def test_bad_utf8_is_a_parse_error_naming_the_byte():
    with pytest.raises(ParseError, match="byte 0xff at position 4"):
        load_matrix(b"1,2\n\xff,3\n", name="latin.csv")


def test_binary_extension_refuses_pasted_text():
    with pytest.raises(ParseError, match="upload the file"):
        load_matrix("1,2", name="m.npy")


def test_too_many_entries():
    with pytest.raises(TooLargeError, match="more than 5 values"):
        load_matrix("1,2,3\n4,5,6\n", name="m.csv", max_entries=5)
    with pytest.raises(TooLargeError, match="limit"):
        load_matrix(_npy(np.zeros((3, 2))), name="m.npy", max_entries=5)
    with pytest.raises(TooLargeError):
        load_matrix(_npz(W=np.zeros((3, 2))), name="m.npz", max_entries=5)
    with pytest.raises(TooLargeError):
        load_matrix(_pt(torch.zeros(3, 2)), name="m.pt", max_entries=5)
    assert load_matrix("1,2,3\n4,5,6\n", name="m.csv", max_entries=6).values.shape == (2, 3)


def test_byte_limits_are_checked_before_parsing():
    big_text = "1" * (10 * sources.TEXT_BYTES_PER_ENTRY + 1)
    with pytest.raises(TooLargeError, match="MB"):
        load_matrix(big_text, name="m.csv", max_entries=10)
    big_binary = _npy(np.zeros(10)) + b"\x00" * (sources.BINARY_OVERHEAD_BYTES + 100)
    with pytest.raises(TooLargeError, match="MB"):
        load_matrix(big_binary, name="m.npy", max_entries=10)


def test_npy_header_claiming_a_huge_array_is_refused_before_allocation():
    data = bytearray(_npy(np.zeros((2, 2))))
    header = data[10:].split(b"}")[0]
    patched = header.replace(b"(2, 2)", b"(99999, 99999)")
    data = data[:10] + patched + data[10 + len(header):]
    data[8:10] = struct.pack("<H", len(data) - 10 - 32)  # keep the header length consistent
    with pytest.raises(TooLargeError, match="99999×99999 array"):
        load_matrix(bytes(data), name="m.npy")  # 80 GB if numpy allocated it


# ---------------------------------------------------------------------------------------------- npy


def test_npy_float_round_trip():
    x = np.random.default_rng(3).standard_normal((5, 7)).astype(np.float32)
    result = load_matrix(_npy(x), name="x.npy")
    np.testing.assert_array_equal(result.values.numpy(), x)
    assert result.notices == ()


def test_npy_one_dimensional_becomes_a_row():
    result = load_matrix(_npy(np.arange(5.0)), name="v.npy")
    assert tuple(result.values.shape) == (1, 5)
    assert "single row (1×5)" in result.notices[0]


@pytest.mark.parametrize(
    "array, error, needle",
    [
        (np.float64(3.0), ShapeError, "single number"),
        (np.zeros((2, 3, 4)), ShapeError, "3 dimensions (shape (2, 3, 4))"),
        (np.zeros((2, 2), np.complex64), UnsupportedFormatError, "complex"),
        (np.array([["a", "b"]]), UnsupportedFormatError, "not numbers"),
        (np.zeros((0, 3)), EmptyInputError, "empty"),
        (np.array([[1.0, np.nan]]), NonFiniteError, "Row 1, column 2 is NaN"),
        (np.array([[1.0, 2.0], [np.inf, 0]]), NonFiniteError, "Row 2, column 1 is infinite"),
        (np.array([[1.0, 2.0], [3.0, 1e39]]), NonFiniteError, "Row 2, column 2 is 1e+39, which overflows"),
        (np.array([[1.0, -5e38]]), NonFiniteError, "overflows float32"),
    ],
)
def test_npy_failures(array, error, needle):
    with pytest.raises(error) as info:
        load_matrix(_npy(array), name="a.npy")
    assert needle in str(info.value)


@pytest.mark.parametrize(
    "array, notice",
    [
        (np.array([[True, False]]), "True/False values were converted to 1/0."),
        (np.array([[1, 2]], np.int64), "Whole numbers (int64) were converted to 32-bit floats."),
        (np.array([[1, 2]], np.uint8), "Whole numbers (uint8) were converted to 32-bit floats."),
        (np.array([[1, 2]], ">f8"), None),
        (np.array([[1, 2]], ">i4"), "Whole numbers (int32) were converted to 32-bit floats."),
        (np.array([[1, 2]], np.float16), None),
    ],
)
def test_npy_dtypes_are_converted(array, notice):
    result = load_matrix(_npy(array), name="a.npy")
    assert result.values.dtype == torch.float32
    assert _values(result) == [[1, 2]] or _values(result) == [[1, 0]]
    assert (notice in result.notices) if notice else result.notices == ()


def test_large_integers_warn_about_rounding():
    result = load_matrix(_npy(np.array([[2**24 + 1, 0]])), name="a.npy")
    assert any("16,777,216" in notice for notice in result.notices)


def test_object_npy_is_refused_without_running_its_pickle(tmp_path):
    control = tmp_path / "control"
    np.load(io.BytesIO(_npy(np.array([_TouchOnUnpickle(control)], dtype=object), allow_pickle=True)),
            allow_pickle=True)
    assert control.exists()  # the payload is live: unpickling it does run code

    marker = tmp_path / "pwned"
    data = _npy(np.array([_TouchOnUnpickle(marker)], dtype=object), allow_pickle=True)
    with pytest.raises(UnsafeFileError, match="pickle"):
        load_matrix(data, name="evil.npy")
    assert not marker.exists()


def test_plain_pickle_named_npy_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(InputError):
        load_matrix(pickle.dumps(_TouchOnUnpickle(marker)), name="evil.npy")
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------- npz


def test_npz_with_one_array():
    result = load_matrix(_npz(W=np.eye(3)), name="w.npz")
    assert _values(result) == np.eye(3).tolist()
    assert result.notices == ("Using the array 'W' from the archive.",)


def test_npz_with_several_arrays_lists_them():
    with pytest.raises(ParseError) as info:
        load_matrix(_npz(U=np.eye(2), S=np.ones(2), Vh=np.eye(2)), name="svd.npz")
    assert "holds 3 arrays ('U', 'S', 'Vh')" in str(info.value)


def test_npz_with_many_arrays_lists_only_a_few():
    with pytest.raises(ParseError) as info:
        load_matrix(_npz(**{f"a{i}": np.eye(2) for i in range(20)}), name="many.npz")
    assert "and 15 more" in str(info.value)


def test_empty_npz():
    with pytest.raises(EmptyInputError):
        load_matrix(_npz(), name="empty.npz")


def test_object_npz_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    buffer = io.BytesIO()
    np.savez(buffer, evil=np.array([_TouchOnUnpickle(marker)], dtype=object))
    with pytest.raises(UnsafeFileError):
        load_matrix(buffer.getvalue(), name="evil.npz")
    assert not marker.exists()


def test_npz_failure_names_the_array_inside():
    with pytest.raises(NonFiniteError) as info:
        load_matrix(_npz(W=np.array([[1.0, np.nan]])), name="w.npz")
    assert "Row 1, column 2 of the array 'W' is NaN" in str(info.value)
    with pytest.raises(ShapeError) as info:
        load_matrix(_npz(W=np.zeros((2, 2, 2))), name="w.npz")
    assert "The array 'W.npy' inside the file 'w.npz' holds an array with 3 dimensions" in str(info.value)


# ----------------------------------------------------------------------------------------------- .pt


def test_pt_with_a_tensor():
    x = torch.randn(4, 6)
    result = load_matrix(_pt(x), name="x.pt")
    assert torch.equal(result.values, x) and result.notices == ()


def test_pt_with_a_dict_of_one_tensor_says_which_key():
    result = load_matrix(_pt({"weight": torch.ones(2, 3), "epoch": 3}), name="state.pt")
    assert _values(result) == [[1, 1, 1], [1, 1, 1]]
    assert result.notices == ("Using the tensor stored under the key 'weight'.",)


@pytest.mark.parametrize(
    "obj, error, needle",
    [
        ({"a": torch.ones(2), "b": torch.ones(2)}, ParseError, "holds 2 tensors ('a', 'b')"),
        ({"epoch": 3}, ParseError, "no tensor"),
        ([torch.ones(2)], ParseError, "holds a list"),
        (torch.ones(2, 2, 2), ShapeError, "3 dimensions"),
        (torch.tensor(3.0), ShapeError, "single number"),
        (torch.ones(2, 2, dtype=torch.complex64), UnsupportedFormatError, "complex"),
        (torch.tensor([[1.0, float("nan")]]), NonFiniteError, "Row 1, column 2 is NaN"),
        (torch.zeros(0, 4), EmptyInputError, "empty"),
    ],
)
def test_pt_failures(obj, error, needle):
    with pytest.raises(error) as info:
        load_matrix(_pt(obj), name="m.pt")
    assert needle in str(info.value)


def test_pt_view_claiming_a_huge_shape_is_refused_before_copying():
    view = torch.ones(1).expand(100_000, 100_000)  # 10^10 entries over a storage of one float
    data = _pt(view)
    assert len(data) < 5_000
    with pytest.raises(TooLargeError, match="100000×100000"):
        load_matrix(data, name="view.pt")


def test_pt_dtypes_are_converted():
    assert _values(load_matrix(_pt(torch.tensor([[1, 2]])), name="i.pt")) == [[1, 2]]
    bfloat = torch.tensor([[1.5, 2]], dtype=torch.bfloat16)
    assert _values(load_matrix(_pt(bfloat), name="b.pt")) == [[1.5, 2]]
    result = load_matrix(_pt(torch.tensor([[True, False]])), name="b.pt")
    assert _values(result) == [[1, 0]] and "True/False" in result.notices[0]


def test_pickled_object_in_pt_is_refused_without_running(tmp_path):
    control = tmp_path / "control"
    torch.load(io.BytesIO(_pt({"w": _TouchOnUnpickle(control)})), weights_only=False)
    assert control.exists()  # the payload is live

    marker = tmp_path / "pwned"
    with pytest.raises(UnsafeFileError, match="could run code"):
        load_matrix(_pt({"w": _TouchOnUnpickle(marker)}), name="evil.pt")
    assert not marker.exists()


def test_legacy_or_foreign_pt_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(UnsupportedFormatError, match="zip format"):
        load_matrix(pickle.dumps(_TouchOnUnpickle(marker)), name="old.pt")
    assert not marker.exists()
    with pytest.raises(ParseError):
        load_matrix(_npz(W=np.eye(2)), name="not-torch.pt")  # a zip, but not torch's


@pytest.mark.parametrize(
    "data, options",
    [(None, {}), (b"1", {"name": 3}), (b"1", {"max_entries": 0}), (b"1", {"max_entries": "many"})],
)
def test_load_matrix_argument_validation(data, options):
    with pytest.raises(InputError):
        load_matrix(data, **options)


# ================================================================================ properties and fuzzing


@settings(max_examples=100, deadline=None)
@given(
    rows=st.integers(1, 6),
    cols=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    delimiter=st.sampled_from([",", ";", "\t", " "]),
)
def test_text_round_trip(rows, cols, seed, delimiter):
    x = np.random.default_rng(seed).standard_normal((rows, cols)).astype(np.float32)
    text = "\n".join(delimiter.join(repr(float(v)) for v in row) for row in x)
    np.testing.assert_array_equal(load_matrix(text, name="m.csv").values.numpy(), x)
    np.testing.assert_array_equal(load_matrix(_npy(x), name="m.npy").values.numpy(), x)


def _valid_blobs() -> list[bytes]:
    rng = np.random.default_rng(0)
    colour = Image.fromarray((rng.random((12, 16, 3)) * 255).astype(np.uint8))
    return [
        _encode(colour),
        _encode(colour.convert("P"), "GIF"),
        _encode(colour, "JPEG"),
        _encode(Image.fromarray(rng.random((8, 8)).astype(np.float32)), "TIFF"),
        b"x,y\n1,2\n3,4\n",
        b"1\t2\t3\n4\t5\t6\n",
        _npy(rng.standard_normal((3, 4))),
        _npy(np.arange(6, dtype=np.int16)),
        _npz(W=np.eye(3)),
        _pt(torch.eye(3)),
    ]


VALID_BLOBS = _valid_blobs()
FUZZ_NAMES = ["m.csv", "m.npy", "m.npz", "m.pt", "m.txt", "m.png", "m"]


@st.composite
def _mutated(draw) -> bytes:
    blob = bytearray(draw(st.sampled_from(VALID_BLOBS)))
    for _ in range(draw(st.integers(0, 6))):
        position = draw(st.integers(0, len(blob) - 1))
        blob[position] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        blob = blob[: draw(st.integers(0, len(blob)))]
    if draw(st.booleans()):
        blob += draw(st.binary(max_size=64))
    return bytes(blob)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about the corrupt metadata it skips
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@settings(max_examples=300, deadline=None)
@given(data=st.one_of(st.binary(max_size=512), _mutated()), name=st.sampled_from(FUZZ_NAMES))
def test_fuzz_loaders_raise_only_input_errors(data, name):
    for call in (
        lambda: load_image(data, name=name, max_pixels=10_000),
        lambda: load_matrix(data, name=name),
    ):
        try:
            result = call()
        except InputError:
            continue
        assert isinstance(result, LoadedImage | LoadedMatrix)
        values = result.pixels if isinstance(result, LoadedImage) else result.values
        assert values.dtype == torch.float32 and torch.isfinite(values).all()


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200), name=st.sampled_from(FUZZ_NAMES))
def test_fuzz_pasted_text_raises_only_input_errors(text, name):
    try:
        result = load_matrix(text, name=name)
    except InputError:
        return
    assert result.values.ndim == 2 and torch.isfinite(result.values).all()
