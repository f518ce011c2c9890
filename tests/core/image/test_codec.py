"""lowrank_core.image.codec against numpy's SVD in float64 and closed-form byte counts; the .npz export
rebuilt without pickle.
"""

import io

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from skimage.metrics import peak_signal_noise_ratio

from lowrank_core.errors import LowRankError, RankError
from lowrank_core.image import (
    COLOR_MODES,
    ImageCodec,
    prepare_codec,
    rebuild_from_arrays,
    reference_image,
    resize,
    rgb_to_luminance,
    to_color_space,
    to_uint8,
)
from tests.core.image.pictures import BYTES, COLOUR, FORWARD, INVERSE, _truncate


@pytest.mark.parametrize("rank", [0, 1, 5, 48])
def test_rgb_reconstruction_matches_numpy_truncation(rank):
    codec = prepare_codec(COLOUR, "rgb")
    assert (codec.channels, codec.height, codec.width, codec.max_rank) == (3, 48, 64, 48)
    image = COLOUR.double().numpy()
    expected = np.clip(np.stack([_truncate(c, rank) for c in image]), 0, 1)
    np.testing.assert_allclose(codec.reconstruct(rank).numpy(), expected, atol=2e-5)


def test_ycbcr_reconstruction_with_separate_ranks_matches_numpy():
    codec = prepare_codec(COLOUR, "ycbcr")
    image = COLOUR.double().numpy()
    centred = np.einsum("ij,jhw->ihw", FORWARD, image)  # Y, Cb - 128/255, Cr - 128/255
    truncated = np.stack([_truncate(centred[0], 7), _truncate(centred[1], 2), _truncate(centred[2], 2)])
    expected = np.clip(np.einsum("ij,jhw->ihw", INVERSE, truncated), 0, 1)
    np.testing.assert_allclose(codec.reconstruct((7, 2)).numpy(), expected, atol=2e-5)
    assert codec.channel_ranks((7, 2)) == (7, 2, 2)
    chroma_free = codec.reconstruct((7, 0))  # chroma rank 0: a grey image
    assert torch.allclose(chroma_free[0], chroma_free[1], atol=1e-6)
    assert torch.allclose(chroma_free[1], chroma_free[2], atol=1e-6)


def test_luminance_reconstruction_is_grey_and_matches_numpy():
    codec = prepare_codec(COLOUR, "luminance")
    luma = np.einsum("c,chw->hw", FORWARD[0], COLOUR.double().numpy())
    result = codec.reconstruct(4)
    assert result.shape == (1, 48, 64)
    np.testing.assert_allclose(result[0].numpy(), np.clip(_truncate(luma, 4), 0, 1), atol=2e-5)
    assert torch.equal(reference_image(COLOUR, "luminance"), rgb_to_luminance(COLOUR))


@pytest.mark.parametrize("mode", ["rgb", "ycbcr"])
def test_display_size_reconstruction_is_the_resized_image(mode):
    codec = prepare_codec(COLOUR, mode)
    ranks = codec.ranks(6)
    full = codec.channels_at(ranks)  # unclipped, (C, 48, 64)
    small = codec.channels_at(ranks, size=(20, 27))
    assert small.shape == (3, 20, 27)
    np.testing.assert_allclose(small.numpy(), resize(full, (20, 27)).numpy(), atol=1e-5)


def _quantization_bound(a: np.ndarray, b: np.ndarray, dtype: str) -> np.ndarray:
    """Elementwise bound on |a_q b_q - a b| from the rounding of each factor entry (float64)."""
    if dtype == "int8":  # |error| <= half a step, step = max|column of a| / 127 (rows of b)
        ea = np.broadcast_to(np.abs(a).max(axis=0, keepdims=True) / 254, a.shape)
        eb = np.broadcast_to(np.abs(b).max(axis=1, keepdims=True) / 254, b.shape)
    else:  # float16: half an ulp, relative 2^-11, plus the subnormal spacing
        ea = np.abs(a) * 2.0**-11 + 2.0**-25
        eb = np.abs(b) * 2.0**-11 + 2.0**-25
    return ea @ np.abs(b) + np.abs(a) @ eb + ea @ eb


@pytest.mark.parametrize("dtype", ["float16", "int8"])
def test_quantized_reconstruction_error_is_bounded(dtype):
    codec = prepare_codec(COLOUR, "rgb")
    rank = 12
    exact = codec.channels_at(rank).double().numpy()
    quantized = codec.channels_at(rank, dtype=dtype).double().numpy()
    for c in range(3):
        a = codec.a[c, :, :rank].double().numpy()
        b = codec.b[c, :rank, :].double().numpy()
        bound = _quantization_bound(a, b, dtype)
        assert np.all(np.abs(quantized[c] - exact[c]) <= bound + 1e-6)
    assert np.abs(quantized - exact).max() > 0  # the rounding did something
    # and the clipped image is the quantized product, clipped
    clipped = codec.reconstruct(rank, dtype=dtype).numpy()
    np.testing.assert_allclose(clipped, np.clip(quantized, 0, 1), atol=1e-6)


@pytest.mark.parametrize("mode", COLOR_MODES)
def test_storage_is_the_closed_form(mode):
    codec = prepare_codec(COLOUR, mode)
    ranks = codec.ranks((9,) if mode != "ycbcr" else (9, 3))
    channel_ranks = codec.channel_ranks(ranks)
    numbers = sum(r * (48 + 64) for r in channel_ranks)
    storage = codec.storage(ranks)
    assert storage.float32 == 4 * numbers and storage.float16 == 2 * numbers
    assert storage.int8 == numbers + sum(2 * r * 4 for r in channel_ranks)
    assert storage.raw == 48 * 64 * (1 if mode == "luminance" else 3)


def _fits(codec: ImageCodec, ranks, budget: int, dtype: str) -> bool:
    """Closed-form bytes of a rank setting against a budget (independent of ``storage``)."""
    per = BYTES[dtype]
    total = 0
    for group, r in zip(codec.groups, ranks, strict=True):
        total += r * (codec.height + codec.width) * per * len(group)
        if dtype == "int8":
            total += 2 * r * 4 * len(group)
    return total <= budget


@given(budget=st.integers(0, 60_000), dtype=st.sampled_from(["float32", "float16", "int8"]))
def test_byte_budget_rank_fits_and_one_more_does_not(budget, dtype):
    codec = _CODECS["rgb"]
    (rank,) = codec.rank_for_bytes(budget, dtype=dtype)
    assert _fits(codec, (rank,), budget, dtype)
    assert rank == codec.max_rank or not _fits(codec, (rank + 1,), budget, dtype)


@given(budget=st.integers(0, 60_000), dtype=st.sampled_from(["float16", "int8"]))
def test_ycbcr_byte_budget_fits_and_neither_rank_can_grow(budget, dtype):
    codec = _CODECS["ycbcr"]
    luma, chroma = codec.rank_for_bytes(budget, dtype=dtype)
    assert _fits(codec, (luma, chroma), budget, dtype)
    assert luma == codec.max_rank or not _fits(codec, (luma + 1, chroma), budget, dtype)
    assert chroma == codec.max_rank or not _fits(codec, (luma, chroma + 1), budget, dtype)


def test_ycbcr_byte_budget_spends_where_the_error_drops_most():
    """Against every split of the same budget, the greedy split's YCbCr-space error is within one step."""
    codec = _CODECS["ycbcr"]
    channels = to_color_space(COLOUR, "ycbcr").double().numpy()
    S = [np.linalg.svd(c, compute_uv=False) for c in channels]
    energy = sum(float((s**2).sum()) for s in S)

    def error(luma, chroma):
        kept = (S[0][:luma] ** 2).sum() + (S[1][:chroma] ** 2).sum() + (S[2][:chroma] ** 2).sum()
        return energy - float(kept)

    budget = 8_000
    luma, chroma = codec.rank_for_bytes(budget, dtype="float16")
    best = min(error(y, c) for y in range(49) for c in range(49) if _fits(codec, (y, c), budget, "float16"))
    assert error(luma, chroma) <= best + float(S[1][chroma] ** 2 + S[2][chroma] ** 2) + 1e-9


def test_rank_rules_match_numpy_oracles():
    codec = _CODECS["rgb"]
    image = COLOUR.double().numpy()
    S = np.stack([np.linalg.svd(c, compute_uv=False) for c in image])  # (3, 48)
    kept = np.concatenate([[0.0], np.cumsum((S**2).sum(0))]) / (S**2).sum()
    assert codec.rank_for_energy(0.95) == (int(np.argmax(kept >= 0.95)),)
    for target in (20.0, 30.0, 40.0):
        (rank,) = codec.rank_for_psnr(target)
        truncated = np.stack([_truncate(c, rank) for c in image])
        assert peak_signal_noise_ratio(image, truncated, data_range=1) >= target - 1e-6
        if rank > 0:
            worse = np.stack([_truncate(c, rank - 1) for c in image])
            assert peak_signal_noise_ratio(image, worse, data_range=1) < target


def test_break_even_rank_is_the_largest_rank_that_fits_the_raw_size():
    codec = _CODECS["rgb"]
    raw = 48 * 64 * 3
    for dtype in BYTES:
        rank = codec.break_even_rank(dtype)
        assert _fits(codec, (rank,), raw, dtype) and not _fits(codec, (rank + 1,), raw, dtype)


def test_bad_rank_settings_are_refused():
    codec = _CODECS["ycbcr"]
    with pytest.raises(RankError):
        codec.ranks((1,))
    with pytest.raises(RankError):
        codec.ranks((49, 1))
    with pytest.raises(RankError):
        codec.ranks((-1, 0))
    with pytest.raises(LowRankError):
        codec.factors(3, dtype="bfloat16")
    with pytest.raises(LowRankError):
        codec.rank_for_bytes(-5)


def test_components_sum_to_the_reconstruction():
    codec = _CODECS["rgb"]
    terms = codec.components(5)  # (5, 3, H, W)
    np.testing.assert_allclose(terms.sum(0).numpy(), codec.channels_at(5).numpy(), atol=1e-5)
    first = np.stack([np.outer(*_first_pair(c)) for c in COLOUR.double().numpy()])  # σ1 u1 v1ᵀ by numpy
    np.testing.assert_allclose(terms[0].numpy(), first, atol=1e-5)
    assert codec.partial_sum_ranks() == [1, 2, 4, 8, 16, 32]


def _first_pair(channel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """σ1·u1 and v1 of one channel (the sign cancels in their outer product)."""
    U, S, Vh = np.linalg.svd(channel, full_matrices=False)
    return U[:, 0] * S[0], Vh[0]


# ================================================================================================ export


def _numpy_rebuild(arrays) -> np.ndarray:
    """Rebuild the image from an np.load of the .npz with numpy alone, following its readme."""
    mode = str(arrays["mode"])
    planes = []
    for c in range(len(arrays["ranks"])):
        a = arrays[f"a{c}"].astype(np.float64)
        b = arrays[f"b{c}"].astype(np.float64)
        if f"a{c}_scale" in arrays:
            a = a * arrays[f"a{c}_scale"][None, :]
            b = b * arrays[f"b{c}_scale"][:, None]
        planes.append(a @ b)
    x = np.stack(planes)
    if mode == "ycbcr":
        x = np.einsum("ij,jhw->ihw", INVERSE, x)
    return np.clip(x, 0, 1)


@pytest.mark.parametrize("dtype", ["float32", "float16", "int8"])
@pytest.mark.parametrize("mode", COLOR_MODES)
def test_npz_export_rebuilds_the_image_without_pickle(mode, dtype):
    codec = _CODECS[mode]
    ranks = codec.ranks(7 if mode != "ycbcr" else (7, 3))
    buffer = io.BytesIO()
    np.savez(buffer, **codec.export_arrays(ranks, dtype=dtype))
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as arrays:
        assert str(arrays["mode"]) == mode
        assert arrays["a0"].dtype == np.dtype(dtype) and arrays["a0"].shape == (48, 7)
        rebuilt = _numpy_rebuild(arrays)
        ours = rebuild_from_arrays(arrays)
    shown = to_uint8(codec.reconstruct(ranks, dtype=dtype)).numpy().astype(int)
    assert np.abs(np.floor(rebuilt * 255 + 0.5).astype(int) - shown).max() <= 1
    assert np.abs(to_uint8(ours).numpy().astype(int) - shown).max() <= 1


_CODECS = {mode: prepare_codec(COLOUR, mode) for mode in COLOR_MODES}
