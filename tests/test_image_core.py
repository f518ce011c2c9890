"""lowrank_core.image against independent oracles: Pillow's colour conversions and encoders, numpy's SVD in
float64, scikit-image's PSNR/SSIM, and closed-form byte counts."""

import io
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from lowrank_core.errors import LowRankError, RankError, ShapeError
from lowrank_core.image import (
    COLOR_MODES,
    ImageCodec,
    RateDistortion,
    RatePoint,
    compare_curves,
    encode_image,
    fit_size,
    normalize_signed,
    original_sizes,
    prepare_codec,
    rate_distortion,
    rebuild_from_arrays,
    reference_image,
    resize,
    rgb_to_luminance,
    rgb_to_ycbcr,
    to_color_space,
    to_hwc_uint8,
    to_uint8,
    working_copy,
    ycbcr_to_rgb,
)

# JFIF / ITU-T T.871, written out here independently of the module's constants.
FORWARD = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
INVERSE = np.array([[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136], [1.0, 1.772, 0.0]])
BYTES = {"float32": 4, "float16": 2, "int8": 1}


def _smooth(channels: int, height: int, width: int, seed: int) -> np.ndarray:
    """A smooth (C, H, W) float64 image in [0, 1] with some texture: blobs over a gradient, plus noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    planes = []
    for _ in range(channels):
        plane = 0.4 * xx / width + 0.3 * yy / height
        for _ in range(5):
            cy, cx, radius = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(3, 12)
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
            plane = plane + rng.uniform(0.2, 0.6) * blob
        planes.append(plane + 0.03 * rng.standard_normal(plane.shape))
    image = np.stack(planes)
    return (image - image.min()) / (image.max() - image.min())


def _eight_bit(image: np.ndarray) -> torch.Tensor:
    """The image rounded to k/255 (as a decoded 8-bit file is), as float32."""
    return torch.from_numpy(np.round(image * 255) / 255).float()


COLOUR = _eight_bit(_smooth(3, 48, 64, seed=1))  # (3, 48, 64)
GREY = _eight_bit(_smooth(1, 40, 56, seed=2))  # (1, 40, 56)


def _truncate(channel: np.ndarray, rank: int) -> np.ndarray:
    """numpy's float64 rank-r truncation of one (H, W) channel."""
    U, S, Vh = np.linalg.svd(channel, full_matrices=False)
    return (U[:, :rank] * S[:rank]) @ Vh[:rank]


# ================================================================================================ colour


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


# ================================================================================================ pixels


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


# ================================================================================================= codec


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


# ======================================================================================= other codecs


def test_original_sizes_are_pillows_encoded_lengths():
    sizes = original_sizes(COLOUR, "rgb")
    image = Image.fromarray(to_hwc_uint8(COLOUR), "RGB")
    for key, options in (("png", {"format": "PNG"}), ("jpeg75", {"format": "JPEG", "quality": 75}),
                         ("jpeg90", {"format": "JPEG", "quality": 90})):
        buffer = io.BytesIO()
        image.save(buffer, **options)
        assert sizes[key] == len(buffer.getvalue())
    assert sizes["raw"] == 3 * 48 * 64
    assert original_sizes(COLOUR, "luminance")["raw"] == 48 * 64


@pytest.fixture(scope="module")
def rd_rgb() -> RateDistortion:
    return rate_distortion(COLOUR, "rgb", ranks=[1, 4, 16], jpeg_qualities=(10, 50, 90),
                           downsample_factors=(2, 4))


def _oracle_quality(reference: np.ndarray, decoded: np.ndarray) -> tuple[float, float]:
    """scikit-image PSNR and SSIM (Gaussian window, population covariance), channels first."""
    return (peak_signal_noise_ratio(reference, decoded, data_range=1),
            structural_similarity(reference, decoded, gaussian_weights=True, sigma=1.5,
                                  use_sample_covariance=False, data_range=1, channel_axis=0))


def test_rate_distortion_jpeg_points_match_pillow_and_scikit_image(rd_rgb):
    image = Image.fromarray(to_hwc_uint8(COLOUR), "RGB")
    reference = COLOUR.double().numpy()
    points = rd_rgb.curve("jpeg")
    assert [p.setting for p in points] == ["quality 10", "quality 50", "quality 90"]
    for point, quality in zip(points, (10, 50, 90), strict=True):
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality)
        assert point.bytes == len(buffer.getvalue())
        assert point.bits_per_pixel == pytest.approx(8 * point.bytes / (48 * 64))
        decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())), dtype=np.float64)
        decoded = decoded.transpose(2, 0, 1) / 255
        expected_psnr, expected_ssim = _oracle_quality(reference, decoded)
        assert point.psnr == pytest.approx(expected_psnr, abs=1e-6)
        assert point.ssim == pytest.approx(expected_ssim, abs=1e-3)


def test_rate_distortion_svd_points_match_numpy(rd_rgb):
    reference = COLOUR.double().numpy()
    for point, rank in zip(rd_rgb.curve("svd-float16"), (1, 4, 16), strict=True):
        assert point.bytes == 2 * rank * (48 + 64) * 3
        U, S, Vh = np.linalg.svd(reference, full_matrices=False)
        a = (U[..., :rank] * S[:, None, :rank]).astype(np.float16).astype(np.float64)
        b = Vh[:, :rank, :].astype(np.float16).astype(np.float64)
        decoded = np.floor(np.clip(a @ b, 0, 1) * 255 + 0.5) / 255
        expected_psnr, expected_ssim = _oracle_quality(reference, decoded)
        assert point.psnr == pytest.approx(expected_psnr, abs=0.02)
        assert point.ssim == pytest.approx(expected_ssim, abs=2e-3)
    int8 = rd_rgb.curve("svd-int8")
    assert [p.bytes for p in int8] == [r * (48 + 64) * 3 + 2 * r * 3 * 4 for r in (1, 4, 16)]


def test_rate_distortion_downsampling_points(rd_rgb):
    image = Image.fromarray(to_hwc_uint8(COLOUR), "RGB")
    raw = rd_rgb.curve("downsample-raw")
    png = {p.setting: p for p in rd_rgb.curve("downsample-png")}
    for factor in (2, 4):
        point = next(p for p in raw if p.setting == f"1/{factor} size")
        small = image.resize((round(64 / factor), round(48 / factor)), Image.Resampling.BICUBIC)
        assert point.bytes == small.width * small.height * 3
        buffer = io.BytesIO()
        small.save(buffer, format="PNG", compress_level=6)
        assert png[point.setting].bytes == len(buffer.getvalue())
        restored = np.asarray(small.resize((64, 48), Image.Resampling.BICUBIC), dtype=np.float64)
        expected_psnr, _ = _oracle_quality(COLOUR.double().numpy(), restored.transpose(2, 0, 1) / 255)
        assert point.psnr == pytest.approx(expected_psnr, abs=1e-6)
        assert png[point.setting].psnr == point.psnr


def test_rate_distortion_of_luminance_uses_the_grey_reference():
    rd = rate_distortion(COLOUR, "luminance", ranks=[2], jpeg_qualities=(50,), downsample_factors=(2,))
    grey = Image.fromarray(to_hwc_uint8(rgb_to_luminance(COLOUR)), "L")
    buffer = io.BytesIO()
    grey.save(buffer, format="JPEG", quality=50)
    assert rd.curve("jpeg")[0].bytes == len(buffer.getvalue())
    assert rd.curve("svd-float16")[0].bytes == 2 * 2 * (48 + 64)


def test_rate_distortion_runs_on_a_working_copy():
    rd = rate_distortion(COLOUR, "ycbcr", max_side=32, ranks=[4], jpeg_qualities=(50,),
                         downsample_factors=(2,))
    assert (rd.height, rd.width, rd.source_height, rd.source_width) == (24, 32, 48, 64) and rd.is_downscaled
    (svd,) = rd.curve("svd-float16")
    assert svd.setting == "rank 4/1" and svd.bytes == 2 * (4 + 2 * 1) * (24 + 32)


def _synthetic(first: list[tuple[float, float]], second: list[tuple[float, float]]) -> RateDistortion:
    """A RateDistortion from (bits per pixel, PSNR) pairs of two codecs (1 pixel, so bytes = bpp / 8)."""
    points = [RatePoint("a", "", 1, bpp, q, math.nan) for bpp, q in first]
    points += [RatePoint("b", "", 1, bpp, q, math.nan) for bpp, q in second]
    return RateDistortion(tuple(points), 1, 1, 1, 1, "rgb")


def test_compare_curves_finds_the_crossing():
    # a rises from 20 to 40 dB over 0.1..10 bpp; b is flat at 30 dB: a wins above 1 bpp (log-midpoint)
    rd = _synthetic([(0.1, 20.0), (10.0, 40.0)], [(0.1, 30.0), (10.0, 30.0)])
    comparison = compare_curves(rd, "a", "b")
    assert len(comparison.wins) == 1
    low, high = comparison.wins[0]
    assert low == pytest.approx(1.0, rel=0.05) and high == pytest.approx(10.0)
    assert comparison.share == pytest.approx(0.5, abs=0.01)
    assert compare_curves(_synthetic([(0.1, 1), (0.2, 2)], [(1.0, 1), (2.0, 2)]), "a", "b") is None


_CODECS = {mode: prepare_codec(COLOUR, mode) for mode in COLOR_MODES}
