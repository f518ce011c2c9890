"""lowrank_core.sources.image_decode: what is checked before a pixel is decoded, and what decoding may cost.

The decoder runs here, in this process (``image_file.ISOLATE_DECODING`` off), so that spies on Pillow see
every call; ``test_isolation`` proves the limits of the child process it normally runs in, and
``test_corpus`` the same files through the isolated loader.
"""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from PIL import GifImagePlugin, Image, ImageFile, ImageOps, TiffImagePlugin

from lowrank_core.errors import DecompressionBombError, UnsupportedFormatError
from lowrank_core.sources import image_file, load_image
from tests.core.sources.helpers import _encode
from tests.corpus.make_corpus import FILES, tiled_tiff


@pytest.fixture(autouse=True)
def _in_process(monkeypatch):
    monkeypatch.setattr(image_file, "ISOLATE_DECODING", False, raising=False)


def _noise(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _never_decoded(monkeypatch) -> list:
    """Make any pixel decoding fail the test; returns the sizes it was asked for."""
    asked = []

    def spy(self, *args, **kwargs):
        asked.append(self.size)
        raise AssertionError("Pillow was asked to decode pixels")

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    monkeypatch.setattr(Image.Image, "load", spy)
    return asked


# ============================================================================================ JPEG scans


def test_scans_are_counted_as_libjpeg_writes_them():
    from lowrank_core.sources.image_decode import count_jpeg_scans

    colour, grey = Image.fromarray(_noise((40, 48, 3))), Image.fromarray(_noise((40, 48)))
    assert count_jpeg_scans(_encode(colour, "JPEG")) == 1  # baseline: one interleaved scan
    # libjpeg's default progression (jpeg_simple_progression): 10 scans for YCbCr, 6 for one component
    assert count_jpeg_scans(_encode(colour, "JPEG", progressive=True)) == 10
    assert count_jpeg_scans(_encode(grey, "JPEG", progressive=True)) == 6


def test_a_thumbnail_inside_the_exif_block_is_not_counted():
    from lowrank_core.sources.image_decode import count_jpeg_scans

    thumbnail = _encode(Image.fromarray(_noise((8, 8, 3), seed=1)), "JPEG", progressive=True)  # 10 scans
    payload = b"Exif\x00\x00" + thumbnail
    main = _encode(Image.fromarray(_noise((16, 16, 3), seed=2)), "JPEG")
    with_app1 = main[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + main[2:]
    assert with_app1.count(b"\xff\xda") == 11  # a naive count would say 11
    assert count_jpeg_scans(with_app1) == 1
    assert load_image(with_app1).pixels.shape == (3, 16, 16)


def test_the_scan_bomb_is_refused_before_decoding(monkeypatch):
    from lowrank_core.limits import MAX_JPEG_SCANS

    data = (FILES / "bomb_jpeg_scans.jpg").read_bytes()
    with Image.open(io.BytesIO(data)) as image:  # Pillow decodes it: a valid file, only slow when large
        image.load()
        assert image.size == (64, 64)
    asked = _never_decoded(monkeypatch)
    with pytest.raises(DecompressionBombError, match=f"more than {MAX_JPEG_SCANS} scans"):
        load_image(data, name="scans.jpg")
    assert asked == []


def test_the_scan_bomb_has_its_scans_counted():
    from lowrank_core.limits import MAX_JPEG_SCANS
    from lowrank_core.sources.image_decode import count_jpeg_scans

    data = (FILES / "bomb_jpeg_scans.jpg").read_bytes()
    assert count_jpeg_scans(data) == 260  # 10 scans, then the last one 250 times more
    assert count_jpeg_scans(data, stop_after=MAX_JPEG_SCANS) == MAX_JPEG_SCANS + 1


# ========================================================================================== TIFF tiles


def _tiles_of(pixels: np.ndarray, tile: int) -> list[bytes]:
    height, width, _ = pixels.shape
    return [zlib.compress(np.ascontiguousarray(pixels[y : y + tile, x : x + tile]).tobytes())
            for y in range(0, height, tile) for x in range(0, width, tile)]


def test_a_tiled_tiff_within_the_limits_loads_exactly():
    pixels = _noise((64, 64, 3), seed=3)
    loaded = load_image(tiled_tiff(64, 64, (16, 16), _tiles_of(pixels, 16)), name="tiles.tif")
    np.testing.assert_array_equal(loaded.pixels.numpy(), pixels.transpose(2, 0, 1) / np.float32(255))


@pytest.mark.parametrize("width, height, count, words", [
    (64, 64, 1, "1 tile of 16384×43680 pixels"),  # the corpus bomb: 2 GB for a 64×64 image
    (3 * 16384, 1, 3, "3 tiles of 16384×43680 pixels"),  # under the pixel cap, three times the tile
])
def test_tiles_beyond_the_pixel_limit_are_refused_before_decoding(monkeypatch, width, height, count, words):
    data = tiled_tiff(width, height, (16384, 43680), [zlib.compress(bytes(1 << 12))] * count)
    asked = _never_decoded(monkeypatch)
    with pytest.raises(DecompressionBombError, match=words):
        load_image(data, name="tiles.tif")
    assert asked == []


# ============================================================================================== frames


def test_frames_are_asked_is_animated_and_never_counted(monkeypatch):
    """``n_frames`` walks a TIFF's linked list of pages to its end (an 80,000-page file: over 30 s)."""

    def walked(self):
        raise AssertionError("n_frames was read")

    for plugin in (TiffImagePlugin.TiffImageFile, GifImagePlugin.GifImageFile):
        monkeypatch.setattr(plugin, "n_frames", property(walked))
    for name, shape in (("many_pages.tif", (1, 1, 1)), ("animated.gif", (3, 16, 16))):
        loaded = load_image((FILES / name).read_bytes(), name=name)
        assert loaded.pixels.shape == shape
        assert loaded.notices == ("Animated or multi-page image: only the first frame is used.",)
    with Image.open(FILES / "many_pages.tif") as pages:  # the oracle: Pillow walking the file
        monkeypatch.undo()
        assert pages.n_frames == 200


# ============================================================================================= formats


@pytest.mark.parametrize("file", ["ico_png_bomb.ico", "jpeg2000_header.jp2", "ppm_image.ppm",
                                  "psd_image.psd", "eps_image.eps"])
def test_other_formats_are_refused_by_content_without_a_decoder(monkeypatch, file):
    asked = _never_decoded(monkeypatch)
    opened = []
    real_open = Image.open

    def spy_open(fp, mode="r", formats=None):
        opened.append(formats)
        return real_open(fp, mode, formats)

    monkeypatch.setattr(Image, "open", spy_open)
    with pytest.raises(UnsupportedFormatError, match="not an image in a format this app reads"):
        load_image((FILES / file).read_bytes(), name="picture.png")
    assert asked == []
    accepted = {"PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"}  # the formats the app documents
    assert all(formats is not None and set(formats) <= accepted for formats in opened)


def test_an_accepted_format_under_another_name_loads_by_its_content():
    pixels = _noise((6, 8, 3), seed=4)
    loaded = load_image(_encode(Image.fromarray(pixels), "PNG"), name="really_a_png.jpg")
    np.testing.assert_array_equal(loaded.pixels.numpy(), pixels.transpose(2, 0, 1) / np.float32(255))


# ============================================================================================== memory


def test_a_large_float_tiff_is_checked_and_scaled_without_float64_copies():
    """6 MP of float32 (24 MB) downscaled to 1 MP: numpy never holds a full-size copy (main held 3)."""
    values = np.linspace(-50, 1000, 3000 * 2000, dtype=np.float32).reshape(2000, 3000)
    data = _encode(Image.fromarray(values, mode="F"), "TIFF")
    tracemalloc.start()
    try:
        loaded = load_image(data, max_pixels=1_000_000, name="wide.tif")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < values.nbytes, f"{peak / 2**20:.0f} MiB traced for a {values.nbytes / 2**20:.0f} MiB image"
    # the oracle: scale to 0..1 in float64, then Pillow's Lanczos in float, as the loader documents
    scaled = Image.fromarray(((values.astype(np.float64) + 50) / 1050).astype(np.float32), mode="F")
    size = loaded.pixels.shape[:0:-1]  # (W, H)
    expected = np.asarray(scaled.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0))
    np.testing.assert_allclose(loaded.pixels[0].numpy(), np.clip(expected, 0, 1), atol=1e-5)
    assert any("rescaled to 0..1" in notice for notice in loaded.notices)


def test_downscaling_before_the_orientation_and_the_alpha_gives_the_documented_image():
    """The loader resizes first, then turns and composites: the same picture as the other way round (up to
    Lanczos' rounding between its two 8-bit passes, which run in the other order)."""
    rows, cols = np.mgrid[0:300, 0:200]
    rgba = np.stack([cols * 255 // 199, rows * 255 // 299, (rows + cols) % 256,
                     64 + (rows * 191) // 299], axis=-1).astype(np.uint8)  # smooth, as a photo is
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _encode(Image.fromarray(rgba, mode="RGBA"), "PNG", exif=exif.tobytes())
    loaded = load_image(data, max_pixels=20_000, name="turned.png")
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))  # the oracle: turn, resize, composite
    small = np.asarray(upright.resize(loaded.pixels.shape[:0:-1], Image.Resampling.LANCZOS), np.float64) / 255
    expected = small[..., :3] * small[..., 3:] + (1 - small[..., 3:])
    np.testing.assert_allclose(loaded.pixels.numpy(), expected.transpose(2, 0, 1), atol=2.5 / 255)
    assert loaded.original_size == (300, 200) and loaded.alpha == "composited"
