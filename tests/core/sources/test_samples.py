"""Tests of lowrank_core.sources.samples: the shipped photographs and the procedural images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lowrank_core import sources
from lowrank_core.errors import InputError
from lowrank_core.sources import (
    LoadedImage,
    load_sample,
    procedural_image,
    sample_bytes,
    sample_names,
    sample_photo_1080p,
)
from tests.core.sources.helpers import _float32_rank


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
