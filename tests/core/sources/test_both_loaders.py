"""Both loaders of lowrank_core.sources on random and mutated bytes and text: only InputError gets out."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from lowrank_core.errors import InputError
from lowrank_core.sources import LoadedImage, LoadedMatrix, load_image, load_matrix
from tests.core.sources.helpers import _encode, _npy, _npz, _pt


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
