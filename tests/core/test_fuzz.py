"""Fuzzing the loaders: random bytes, mutated corpus files and fuzzed .npy headers.

Whatever the bytes and whatever the name, ``load_image`` and ``load_matrix`` either return a valid result
or raise an ``InputError``; nothing else gets out (no Pillow, zipfile, numpy or torch exception, no
crash), and no pickle payload of the corpus ever runs.

Budget: ``LOWRANK_FUZZ_EXAMPLES`` inputs in all (default 3000 with ``HYPOTHESIS_PROFILE=ci``, which CI
sets, else 300), split across the tests below by ``SHARES``. Each input goes through both loaders.
"""

from __future__ import annotations

import os
import struct
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lowrank_core.errors import InputError
from lowrank_core.sources import DEFAULT_MAX_PIXELS, LoadedImage, LoadedMatrix, load_image, load_matrix
from tests.corpus.make_corpus import FILES, MANIFEST, MARKER

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")
TOTAL_EXAMPLES = int(os.environ.get("LOWRANK_FUZZ_EXAMPLES", 3000 if PROFILE == "ci" else 300))
SHARES = {"random": 0.25, "mutated": 0.6, "npy_header": 0.15}
EXTENSIONS = (".csv", ".tsv", ".txt", ".npy", ".npz", ".pt", ".png", ".jpg", ".gif", ".webp", ".bmp", ".tif")
SLOW_SEEDS = {"downscale_2400x2000.png"}  # a 4.8-megapixel decode per example; covered by test_corpus
SEEDS = {case.file: (FILES / case.file).read_bytes() for case in MANIFEST if case.file not in SLOW_SEEDS}
SEED_NAMES = sorted(name for name, data in SEEDS.items() if data)


def _settings(share: str):
    return settings(max_examples=max(1, round(TOTAL_EXAMPLES * SHARES[share])),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _check_both_loaders(data: bytes, name: str) -> None:
    """Both loaders: a valid result or an InputError; the pickle marker never appears."""
    with warnings.catch_warnings():
        # Pillow warns (DecompressionBombWarning, truncated EXIF...) on some inputs; a warning is not a
        # failure, so it must not turn into one where a test run makes warnings errors.
        warnings.simplefilter("ignore")
        try:
            image = load_image(data, name=name)
        except InputError:
            pass
        else:
            _check_image(image)
        try:
            matrix = load_matrix(data, name=name)
        except InputError:
            pass
        else:
            _check_matrix(matrix)
    assert not MARKER.exists(), "a pickle payload ran"


def _check_image(image: LoadedImage) -> None:
    pixels = image.pixels
    assert pixels.dtype == torch.float32 and pixels.ndim == 3 and pixels.shape[0] in (1, 3)
    assert pixels.shape[1] * pixels.shape[2] <= DEFAULT_MAX_PIXELS
    assert bool(torch.isfinite(pixels).all())
    assert float(pixels.min()) >= 0.0 and float(pixels.max()) <= 1.0


def _check_matrix(matrix: LoadedMatrix) -> None:
    values = matrix.values
    assert values.dtype == torch.float32 and values.ndim == 2 and values.numel() > 0
    assert bool(torch.isfinite(values).all())


@pytest.fixture(autouse=True, scope="module")
def _marker_absent():
    MARKER.unlink(missing_ok=True)
    yield
    assert not MARKER.exists()


# ================================================================================================ random


@_settings("random")
@given(data=st.binary(max_size=4096), extension=st.sampled_from(EXTENSIONS))
def test_random_bytes(data, extension):
    _check_both_loaders(data, "upload" + extension)


# ========================================================================================= mutated corpus


@st.composite
def mutated(draw):
    """A corpus file after a few bit flips, byte overwrites, truncations, insertions or splices."""
    data = bytearray(SEEDS[draw(st.sampled_from(SEED_NAMES))])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "byte", "truncate", "insert", "splice", "delete"]))
        if not data:
            data = bytearray(draw(st.binary(min_size=1, max_size=16)))
            continue
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte":
            data[at] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, draw(st.integers(0, 255))]))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        else:  # splice: a piece of another corpus file
            other = SEEDS[draw(st.sampled_from(SEED_NAMES))]
            start = draw(st.integers(0, len(other) - 1))
            data[at:at] = other[start : start + draw(st.integers(1, 256))]
    return bytes(data)


@_settings("mutated")
@given(data=mutated(), extension=st.sampled_from(EXTENSIONS))
def test_mutated_corpus_files(data, extension):
    _check_both_loaders(data, "upload" + extension)


# ====================================================================================== fuzzed .npy header

_DESCRS = ["<f8", ">f4", "<f2", "<i8", ">u2", "|b1", "|u1", "<c16", "|O", "|V8", "<U3", "|S4", "<M8[D]",
           "<m8[s]", "[('x', '<f4')]", "'<f8'", "<f16", "<f8 ", "", "None", "float", "<q", "!f8"]


@st.composite
def npy_files(draw):
    """A .npy whose header dictionary is fuzzed (descr, shape, order, padding), then some data bytes."""
    descr = draw(st.sampled_from(_DESCRS))
    dims = draw(st.lists(st.integers(-2, 2**40), max_size=4) | st.lists(st.integers(0, 5), max_size=3))
    shape = "(" + ", ".join(map(str, dims)) + ("," if len(dims) == 1 else "") + ")"
    order = draw(st.sampled_from(["False", "True", "0", "'no'"]))
    quoted = descr if descr.startswith(("[", "'")) or descr == "None" else repr(descr)
    header = f"{{'descr': {quoted}, 'fortran_order': {order}, 'shape': {shape}, }}"
    variants = [header, header.replace("'shape'", "'shap'"), header + "junk", header[:-3]]
    header = draw(st.sampled_from(variants))
    body = header.encode() + b" " * draw(st.integers(0, 80)) + b"\n"
    version = draw(st.sampled_from([b"\x01\x00", b"\x02\x00", b"\x03\x00", b"\x09\x00"]))
    size_field = struct.pack("<H" if version == b"\x01\x00" else "<I", len(body))
    data = draw(st.sampled_from([b"", np.arange(24, dtype=np.float64).tobytes(), bytes(draw(
        st.binary(max_size=256)))]))
    return b"\x93NUMPY" + version + size_field + body + data


@_settings("npy_header")
@given(data=npy_files(), extension=st.sampled_from([".npy", ".npz", ".bin"]))
def test_fuzzed_npy_headers(data, extension):
    _check_both_loaders(data, "upload" + extension)


def test_fuzzed_npy_headers_reach_the_loader():
    """The header strategy makes files that numpy itself accepts too (else the fuzz only tests refusals)."""
    good = b"\x93NUMPY\x01\x00"
    body = b"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }" + b" " * 4 + b"\n"
    data = good + struct.pack("<H", len(body)) + body + np.arange(6.0).tobytes()
    np.testing.assert_array_equal(load_matrix(data, name="x.npy").values.numpy(),
                                  np.arange(6.0, dtype=np.float32).reshape(2, 3))
