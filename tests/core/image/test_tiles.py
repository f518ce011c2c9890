"""lowrank_core.image.tiles against independent oracles: numpy's SVD in float64 per tile, byte counts
from the file layout, scikit-image's PSNR on the 8-bit decode, and a uniform rank per tile."""

import math
import struct

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.metrics import peak_signal_noise_ratio

from lowrank_core.errors import (
    LowRankError,
    NonFiniteError,
    ParseError,
    RankError,
    ShapeError,
    TooLargeError,
)
from lowrank_core.image import to_uint8
from lowrank_core.image.tiles import (
    HEADER_BYTES,
    MAX_PIXELS,
    RAW_RANK,
    TILE_SIDES,
    compress_tiles,
    decode_tiles,
    factorize_tiles,
)

# JFIF / ITU-T T.871, written out here independently of the modules' constants.
FORWARD = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
INVERSE = np.array([[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136], [1.0, 1.772, 0.0]])
LUMA = np.array([0.299, 0.587, 0.114])
VALUE_BYTES = {"float32": 4, "float16": 2, "int8": 1}
MEAN_BYTES = {"float32": 4, "float16": 2, "int8": 1}
DTYPES = ("float32", "float16", "int8")


# ============================================================================================== oracle


def _image(channels: int, height: int, width: int, seed: int, *, kind: str = "smooth") -> torch.Tensor:
    """A (C, H, W) float32 image of 8-bit values: smooth blobs with a little noise, or plain noise."""
    rng = np.random.default_rng(seed)
    if kind == "noise":
        values = rng.integers(0, 256, size=(channels, height, width))
    else:
        yy, xx = np.mgrid[0:height, 0:width]
        planes = []
        for _ in range(channels):
            plane = 0.4 * xx / max(width, 1) + 0.3 * yy / max(height, 1)
            for _ in range(4):
                cy, cx, radius = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(2, 8)
                plane = plane + rng.uniform(0.2, 0.5) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / radius**2)
            planes.append(plane + 0.02 * rng.standard_normal(plane.shape))
        image = np.stack(planes)
        image = (image - image.min()) / max(image.max() - image.min(), 1e-9)
        values = np.round(image * 255)
    return torch.from_numpy(values.astype(np.float32) / 255)


def _color_space(pixels: torch.Tensor, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(channels (C, H, W) float64 in the mode's colour space, the 8-bit storage offset per channel)."""
    x = pixels.double().numpy()
    if mode == "luminance" and x.shape[0] == 3:
        return np.einsum("c,chw->hw", LUMA, x)[None], np.zeros(1)
    if mode == "ycbcr":
        return np.einsum("ij,jhw->ihw", FORWARD, x), np.array([0.0, 128 / 255, 128 / 255])
    return x, np.zeros(x.shape[0])


def _to_output(channels: np.ndarray, mode: str) -> np.ndarray:
    """The colour space back to RGB (or grey), clipped to [0, 1]."""
    if mode == "ycbcr":
        channels = np.einsum("ij,jhw->ihw", INVERSE, channels)
    return np.clip(channels, 0.0, 1.0)


def _weights(mode: str, count: int) -> np.ndarray:
    """Squared column norms of the map back to the output (1 unless YCbCr)."""
    return (INVERSE**2).sum(0) if mode == "ycbcr" else np.ones(count)


def _tiles(channels: np.ndarray, side: int):
    """(c, row, col, tile (h', w')) in file order: channel, tile row, tile column."""
    C, H, W = channels.shape
    for c in range(C):
        for row in range(-(-H // side)):
            for col in range(-(-W // side)):
                yield c, row, col, channels[c, row * side:(row + 1) * side, col * side:(col + 1) * side]


def _stored_mean(mean: float, offset: float, dtype: str) -> float:
    """The mean as a decoder reads it back."""
    if dtype == "float32":
        return float(np.float32(mean))
    if dtype == "float16":
        return float(np.float16(mean))
    return float(np.clip(np.floor((mean + offset) * 255 + 0.5), 0, 255)) / 255 - offset


def _raw(tile: np.ndarray, offset: float) -> np.ndarray:
    """A tile through 8 bits."""
    return np.clip(np.floor((tile + offset) * 255 + 0.5), 0, 255) / 255 - offset


def _oracle_tile(tile: np.ndarray, rank: int, offset: float, dtype: str = "float32") -> np.ndarray:
    """The stored mean plus the best rank-r approximation (numpy, float64) of the mean-removed tile."""
    if rank == RAW_RANK:
        return _raw(tile, offset)
    mean = tile.mean()
    U, S, Vh = np.linalg.svd(tile - mean, full_matrices=False)
    return _stored_mean(mean, offset, dtype) + (U[:, :rank] * S[:rank]) @ Vh[:rank]


def _oracle_error(pixels: torch.Tensor, mode: str, side: int, ranks: torch.Tensor, dtype: str) -> float:
    """Σ over tiles of channel weight × squared error of each tile's option, before factor rounding."""
    channels, offsets = _color_space(pixels, mode)
    weights = _weights(mode, channels.shape[0])
    total = 0.0
    for c, row, col, tile in _tiles(channels, side):
        r = int(ranks[c, row, col])
        total += weights[c] * float(((_oracle_tile(tile, r, offsets[c], dtype) - tile) ** 2).sum())
    return total


def _file_bytes(height: int, width: int, channels: int, side: int, ranks: torch.Tensor, dtype: str) -> int:
    """The file's size counted from its layout: header, a rank code per tile, then each tile's pieces."""
    total = 17  # magic (4), version, mode, dtype, side, channels (1 each), height, width (4 each)
    for c in range(channels):
        for row in range(-(-height // side)):
            for col in range(-(-width // side)):
                h = min(side, height - row * side)
                w = min(side, width - col * side)
                r = int(ranks[c, row, col])
                total += 1  # rank code
                if r == RAW_RANK:
                    total += h * w
                    continue
                total += MEAN_BYTES[dtype] + r * (h + w) * VALUE_BYTES[dtype]
                if dtype == "int8" and r > 0:
                    total += 2 * r + 2  # a float16 scale per column of a, one for the tile's b
    return total


def _random_ranks(factorization, seed: int, *, raw_share: float = 0.2) -> torch.Tensor:
    """A rank per tile drawn between 0 and its largest, some tiles raw."""
    generator = torch.Generator().manual_seed(seed)
    limits = factorization.max_ranks
    ranks = (torch.rand(limits.shape, generator=generator) * (limits + 1)).floor().long()
    raw = torch.rand(limits.shape, generator=generator) < raw_share
    return torch.where(raw, torch.full_like(ranks, RAW_RANK), ranks)


# ====================================================================================== Eckart–Young


@pytest.mark.parametrize("mode", ["rgb", "luminance", "ycbcr"])
@pytest.mark.parametrize(("height", "width", "side"), [(37, 29, 8), (20, 45, 16), (5, 3, 8), (1, 1, 16)])
def test_each_tile_is_its_best_rank_r_approximation(mode, height, width, side):
    pixels = _image(3, height, width, seed=height * width)
    factorization = factorize_tiles(pixels, mode=mode, tile_side=side)
    ranks = _random_ranks(factorization, seed=1)
    decoded = decode_tiles(factorization.compress(ranks=ranks, dtype="float32").to_bytes()).double().numpy()
    channels, offsets = _color_space(pixels, mode)
    expected = np.empty_like(channels)
    raw = np.zeros(channels.shape[1:], bool)  # pixels where some channel's tile is stored raw
    for c, row, col, tile in _tiles(channels, side):
        best = _oracle_tile(tile, int(ranks[c, row, col]), offsets[c])
        place = np.s_[row * side:row * side + tile.shape[0], col * side:col * side + tile.shape[1]]
        expected[c][place] = best
        raw[place] |= int(ranks[c, row, col]) == RAW_RANK
    expected = _to_output(expected, mode)
    np.testing.assert_allclose(decoded[:, ~raw], expected[:, ~raw], atol=2e-5)
    # A raw tile is rounded to 8 bits in the colour space; float32 (codec) and float64 (here) may round a
    # value on a half step differently: one 8-bit step, times at most 1.772 on the way back to RGB.
    np.testing.assert_allclose(decoded[:, raw], expected[:, raw], atol=1.8 / 255 + 1e-6)
    if raw.any():
        assert np.mean(np.abs(decoded[:, raw] - expected[:, raw]) > 2e-5) < 0.01


def test_singular_values_match_numpy_per_tile():
    pixels = _image(1, 19, 26, seed=3)
    factorization = factorize_tiles(pixels, mode="rgb", tile_side=8)
    for c, row, col, tile in _tiles(pixels.double().numpy(), 8):
        S = np.linalg.svd(tile - tile.mean(), compute_uv=False)
        got = factorization.S[c, row, col].double().numpy()
        np.testing.assert_allclose(got[:len(S)], S, atol=1e-5)
        np.testing.assert_allclose(got[len(S):], 0.0, atol=1e-5)  # zero padding adds nothing
        assert factorization.means[c, row, col] == pytest.approx(tile.mean(), abs=1e-6)


def test_predicted_error_is_eckart_young():
    pixels = _image(3, 30, 41, seed=4)
    factorization = factorize_tiles(pixels, mode="ycbcr", tile_side=16)
    for dtype in DTYPES:
        ranks = _random_ranks(factorization, seed=5)
        result = factorization.compress(ranks=ranks, dtype=dtype)
        expected = _oracle_error(pixels, "ycbcr", 16, ranks, dtype) / pixels.numel()
        assert result.predicted_mse == pytest.approx(expected, rel=1e-5, abs=1e-12)


# ============================================================================================== bytes


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("mode", "channels"), [("rgb", 3), ("rgb", 1), ("luminance", 3), ("ycbcr", 3)])
def test_total_bytes_equal_the_stored_pieces(dtype, mode, channels):
    pixels = _image(channels, 27, 50, seed=6)
    factorization = factorize_tiles(pixels, mode=mode, tile_side=16)
    ranks = _random_ranks(factorization, seed=7)
    result = factorization.compress(ranks=ranks, dtype=dtype)
    stored = 1 if mode == "luminance" else channels
    expected = _file_bytes(27, 50, stored, 16, ranks, dtype)
    assert result.total_bytes == expected == len(result.to_bytes())
    assert result.header_bytes == HEADER_BYTES == 17
    assert int(result.tile_bytes.sum()) + result.header_bytes == expected
    assert torch.equal(result.ranks, ranks)


def test_header_says_what_the_file_holds():
    pixels = _image(3, 33, 70, seed=8)
    data = compress_tiles(pixels, mode="ycbcr", tile_side=32, dtype="int8", budget=3000).to_bytes()
    magic, version, mode, dtype, side, channels, height, width = struct.unpack_from("<4sBBBBBII", data)
    assert (magic, version, mode, dtype, side, channels, height, width) == (b"LRT1", 1, 2, 2, 32, 3, 33, 70)
    ranks = np.frombuffer(data, np.uint8, count=3 * 2 * 3, offset=17)  # 2 tile rows, 3 tile columns
    assert ((ranks <= 32) | (ranks == 255)).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_budget_is_respected_and_histogram_counts_every_tile(dtype):
    pixels = _image(3, 40, 52, seed=9)
    factorization = factorize_tiles(pixels, mode="rgb", tile_side=8)
    smallest, largest = factorization.minimum_bytes(dtype), factorization.maximum_bytes(dtype)
    assert smallest == _file_bytes(40, 52, 3, 8, torch.zeros(3, 5, 7, dtype=torch.long), dtype)
    for budget in (smallest, smallest + 1, (smallest + largest) // 3, largest, 10 * largest):
        result = factorization.compress(budget=budget, dtype=dtype)
        assert result.total_bytes <= budget
        assert result.ranks.shape == (3, 5, 7)
        assert sum(result.rank_histogram) + result.raw_tiles == 3 * 5 * 7
        assert len(result.rank_histogram) == 9
        counts = torch.bincount(result.ranks[result.ranks >= 0].reshape(-1), minlength=9)
        assert tuple(counts.tolist()) == result.rank_histogram
        assert result.histogram()["raw"] == result.raw_tiles


# ============================================================================================= decode


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["rgb", "luminance", "ycbcr"])
def test_decode_of_the_bytes_is_what_the_codec_reports(mode, dtype):
    pixels = _image(3, 45, 38, seed=10)
    factorization = factorize_tiles(pixels, mode=mode, tile_side=16)
    result = factorization.compress(budget=factorization.minimum_bytes(dtype) + 2500, dtype=dtype)
    decoded = decode_tiles(bytes(bytearray(result.to_bytes())))  # a copy: nothing but the bytes
    assert torch.equal(to_uint8(decoded), result.image)
    reference = (np.einsum("c,chw->hw", LUMA, pixels.double().numpy())[None] if mode == "luminance"
                 else pixels.double().numpy())
    decoded_8_bit = (result.image.float() / 255).double().numpy()  # read as the image page reads it
    measured = peak_signal_noise_ratio(reference, decoded_8_bit, data_range=1.0)
    assert result.measured_psnr == pytest.approx(measured, abs=1e-4)
    assert result.image.shape == reference.shape and result.image.dtype == torch.uint8


def test_int8_factors_decode_as_int8_times_scale():
    pixels = _image(1, 16, 16, seed=11)
    factorization = factorize_tiles(pixels, mode="rgb", tile_side=16)
    result = factorization.compress(ranks=torch.full((1, 1, 1), 2), dtype="int8")
    data = result.to_bytes()
    at = 17 + 1  # header, one rank code
    mean = data[at] / 255
    a = np.frombuffer(data, np.int8, count=32, offset=at + 1).reshape(16, 2).astype(np.float64)
    b = np.frombuffer(data, np.int8, count=32, offset=at + 33).reshape(2, 16).astype(np.float64)
    a_scale = np.frombuffer(data, "<f2", count=2, offset=at + 65).astype(np.float64)
    b_scale = float(np.frombuffer(data, "<f2", count=1, offset=at + 69)[0])
    assert len(data) == at + 71
    expected = np.clip(mean + (a * a_scale) @ (b * b_scale), 0, 1)
    np.testing.assert_allclose(decode_tiles(data)[0].double().numpy(), expected, atol=1e-6)
    assert np.abs(a).max() == 127 and np.abs(b).max() == 127  # each scale is max|v| / 127


def test_rgb_raw_tiles_are_lossless_on_an_8_bit_image():
    pixels = _image(3, 20, 20, seed=12, kind="noise")
    factorization = factorize_tiles(pixels, mode="rgb", tile_side=8)
    result = factorization.compress(ranks=torch.full((3, 3, 3), RAW_RANK), dtype="float16")
    assert torch.equal(result.image, to_uint8(pixels)) and math.isinf(result.measured_psnr)
    assert result.total_bytes == 17 + 3 * 9 + 3 * 400


def test_same_input_gives_the_same_bytes():
    pixels = _image(3, 30, 30, seed=13)
    first = compress_tiles(pixels, mode="ycbcr", tile_side=8, dtype="int8", budget=4000).to_bytes()
    second = compress_tiles(pixels.clone(), mode="ycbcr", tile_side=8, dtype="int8", budget=4000).to_bytes()
    assert first == second


def test_cuda_request_falls_back_to_the_cpu_here():
    pixels = _image(1, 12, 12, seed=14)
    factorization = factorize_tiles(pixels, tile_side=8, device="cuda")
    assert factorization.U.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert factorization.compress(budget=400, dtype="float16").total_bytes <= 400


# ========================================================================================== allocation


def _largest_step(height: int, width: int, side: int, dtype: str) -> int:
    """An upper bound on the bytes of one hull segment: a tile's dearest option minus its cheapest."""
    largest = 0
    for h in {min(side, height), height % side or side}:
        for w in {min(side, width), width % side or side}:
            ranks = [1 + MEAN_BYTES[dtype] + r * (h + w) * VALUE_BYTES[dtype] + (2 * r + 2 if dtype == "int8"
                     and r else 0) for r in range(min(h, w) + 1)]
            options = [*ranks, 1 + h * w]
            largest = max(largest, max(options) - min(options))
    return largest


SMALL_IMAGES = {
    "channels": st.sampled_from([1, 3]),
    "height": st.integers(1, 24),
    "width": st.integers(1, 24),
    "side": st.sampled_from([8, 16]),
    "dtype": st.sampled_from(DTYPES),
    "mode": st.sampled_from(["rgb", "ycbcr"]),
    "kind": st.sampled_from(["smooth", "noise"]),
    "seed": st.integers(0, 10_000),
}


@settings(max_examples=40)
@given(**SMALL_IMAGES)
def test_budget_rule_beats_or_ties_every_uniform_rank_at_the_same_bytes(channels, height, width, side, dtype,
                                                                        mode, kind, seed):
    # Images this small are under EXACT_MAX_CELLS: the budget rule solves the knapsack exactly. (A pure
    # greedy can lose here: 27×22 grey, 16×16 tiles, float16, rank 1 everywhere costs 225 bytes and leaves
    # 1.780 of squared error; the greedy spends 201 of them on rank 2 in the full tile and rank 0 in both
    # lower tiles, and leaves 1.961.)
    if mode == "ycbcr" and channels == 1:
        mode = "rgb"
    pixels = _image(channels, height, width, seed, kind=kind)
    factorization = factorize_tiles(pixels, mode=mode, tile_side=side)
    limits = factorization.max_ranks
    for r in range(side + 1):
        uniform = torch.minimum(limits, torch.tensor(r))
        spent = factorization.compress(ranks=uniform, dtype=dtype).total_bytes
        chosen = factorization.compress(budget=spent, dtype=dtype)
        assert chosen.solver == "exact" and chosen.total_bytes <= spent
        uniform_error = _oracle_error(pixels, mode, side, uniform, dtype)
        chosen_error = _oracle_error(pixels, mode, side, chosen.ranks, dtype)
        assert chosen_error <= uniform_error * (1 + 1e-5) + 1e-6, (r, chosen_error, uniform_error)


@settings(max_examples=40)
@given(**SMALL_IMAGES)
def test_greedy_beats_every_uniform_rank_given_one_step_more(channels, height, width, side, dtype, mode,
                                                             kind, seed):
    # The greedy alone (the path of every image above EXACT_MAX_CELLS): each prefix of its order is
    # optimal at its own bytes, and it stops at most one hull segment short of the budget.
    if mode == "ycbcr" and channels == 1:
        mode = "rgb"
    pixels = _image(channels, height, width, seed, kind=kind)
    factorization = factorize_tiles(pixels, mode=mode, tile_side=side)
    slack = _largest_step(height, width, side, dtype)
    limits = factorization.max_ranks
    for r in range(side + 1):
        uniform = torch.minimum(limits, torch.tensor(r))
        spent = factorization.compress(ranks=uniform, dtype=dtype).total_bytes
        greedy = factorization.compress(budget=spent + slack, dtype=dtype, solver="greedy")
        assert greedy.solver == "greedy" and greedy.total_bytes <= spent + slack
        uniform_error = _oracle_error(pixels, mode, side, uniform, dtype)
        greedy_error = _oracle_error(pixels, mode, side, greedy.ranks, dtype)
        assert greedy_error <= uniform_error * (1 + 1e-5) + 1e-6, (r, greedy_error, uniform_error)


@settings(max_examples=30)
@given(**SMALL_IMAGES, share=st.floats(0.0, 1.0))
def test_exact_knapsack_never_loses_to_the_greedy(channels, height, width, side, dtype, mode, kind, seed,
                                                   share):
    if mode == "ycbcr" and channels == 1:
        mode = "rgb"
    factorization = factorize_tiles(_image(channels, height, width, seed, kind=kind), mode=mode,
                                    tile_side=side)
    low, high = factorization.minimum_bytes(dtype), factorization.maximum_bytes(dtype)
    budget = low + round(share * (high - low))
    exact = factorization.compress(budget=budget, dtype=dtype, solver="exact")
    greedy = factorization.compress(budget=budget, dtype=dtype, solver="greedy")
    assert (exact.solver, greedy.solver) == ("exact", "greedy")
    assert exact.total_bytes <= budget and greedy.total_bytes <= budget
    assert exact.predicted_mse <= greedy.predicted_mse * (1 + 1e-9) + 1e-15


def test_auto_solver_is_exact_where_small_and_greedy_above():
    small = factorize_tiles(_image(1, 24, 24, seed=20), tile_side=8)
    assert small.compress(budget=small.minimum_bytes() + 200).solver == "exact"
    large = factorize_tiles(_image(3, 256, 256, seed=21), tile_side=8)  # 3,072 tiles × 10 options each
    budget = large.minimum_bytes() + 20_000
    assert large.compress(budget=budget).solver == "greedy"
    with pytest.raises(LowRankError, match="exact"):
        large.compress(budget=budget, solver="exact")


def test_the_greedy_can_lose_to_the_exact_knapsack_at_the_same_bytes():
    # The two solvers are different paths: on some small image and budget the greedy, which skips the first
    # hull segment that does not fit, leaves more error than the knapsack's optimum.
    for seed in range(40):
        factorization = factorize_tiles(_image(1, 27, 22, seed=seed), tile_side=16)
        for budget in range(factorization.minimum_bytes(), factorization.maximum_bytes(), 7):
            exact = factorization.compress(budget=budget, solver="exact")
            greedy = factorization.compress(budget=budget, solver="greedy")
            if greedy.predicted_mse > exact.predicted_mse * (1 + 1e-6):
                return
    pytest.fail("the greedy matched the exact knapsack everywhere: are both paths the same?")


@pytest.mark.parametrize("side", TILE_SIDES)
def test_bytes_go_where_the_detail_is(side):
    flat = torch.full((1, 64, 128), 0.5)
    flat[:, :, 64:] = _image(1, 64, 64, seed=15, kind="noise")  # right half: noise; left half: constant
    result = compress_tiles(flat, tile_side=side, dtype="float16", budget=3000)
    cols = 128 // side
    left, right = result.tile_bytes[0, :, :cols // 2], result.tile_bytes[0, :, cols // 2:]
    assert int(left.sum()) == (64 // side) * (cols // 2) * 3  # rank code and float16 mean only
    assert (result.ranks[0, :, :cols // 2] == 0).all()
    assert int(right.sum()) > int(left.sum())


# ================================================================================================ PSNR


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("mode", "channels"), [("rgb", 3), ("rgb", 1), ("luminance", 3), ("ycbcr", 3)])
@pytest.mark.parametrize("target", [22.0, 31.0, 40.0])
def test_psnr_rule_meets_its_target_on_the_8_bit_decode(mode, channels, dtype, target):
    pixels = _image(channels, 48, 56, seed=16)
    result = factorize_tiles(pixels, mode=mode, tile_side=8).compress(target_psnr=target, dtype=dtype)
    decoded = to_uint8(decode_tiles(result.to_bytes())).double().numpy() / 255
    reference = (np.einsum("c,chw->hw", LUMA, pixels.double().numpy())[None] if mode == "luminance"
                 else pixels.double().numpy())
    assert peak_signal_noise_ratio(reference, decoded, data_range=1.0) >= target
    assert result.measured_psnr >= target and result.rule == "psnr" and result.target == target


def test_psnr_rule_spends_fewer_bytes_for_a_lower_target():
    factorization = factorize_tiles(_image(3, 48, 48, seed=17), mode="ycbcr", tile_side=8)
    sizes = [factorization.compress(target_psnr=t, dtype="int8").total_bytes for t in (24, 30, 36)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


def test_psnr_beyond_reach_is_refused_with_the_best_reachable():
    factorization = factorize_tiles(_image(3, 24, 24, seed=18), mode="luminance", tile_side=8)
    with pytest.raises(LowRankError, match="at most"):
        factorization.compress(target_psnr=99.0, dtype="int8")  # 8-bit luma rounding alone caps it


# ========================================================================================== validation


@pytest.fixture(scope="module")
def small():
    return factorize_tiles(_image(3, 20, 20, seed=19), mode="rgb", tile_side=8)


def test_tile_side_must_be_listed():
    with pytest.raises(LowRankError, match="tile side"):
        factorize_tiles(_image(1, 8, 8, seed=0), tile_side=12)


def test_mode_must_be_known():
    with pytest.raises(LowRankError, match="colour mode"):
        factorize_tiles(_image(3, 8, 8, seed=0), mode="hsv")


def test_ycbcr_needs_colour():
    with pytest.raises(ShapeError):
        factorize_tiles(_image(1, 8, 8, seed=0), mode="ycbcr")


def test_pixels_must_be_c_h_w():
    with pytest.raises(ShapeError, match="shape"):
        factorize_tiles(torch.rand(8, 8))


def test_pixels_must_be_a_tensor():
    with pytest.raises(ShapeError, match="torch.Tensor"):
        factorize_tiles(np.zeros((1, 8, 8)))


def test_pixels_must_be_finite():
    pixels = _image(1, 8, 8, seed=0)
    pixels[0, 2, 3] = math.nan
    with pytest.raises(NonFiniteError):
        factorize_tiles(pixels)


def test_pixels_must_lie_in_0_1():
    with pytest.raises(LowRankError, match=r"\[0, 1\]"):
        factorize_tiles(torch.full((1, 8, 8), 2.0))


def test_image_size_is_limited():
    with pytest.raises(TooLargeError):
        factorize_tiles(torch.zeros(1, 1, MAX_PIXELS + 1))


def test_uint8_pixels_read_as_value_over_255():
    pixels = _image(3, 10, 10, seed=20)
    as_bytes = to_uint8(pixels)
    a = compress_tiles(pixels, tile_side=8, budget=600).to_bytes()
    assert compress_tiles(as_bytes, tile_side=8, budget=600).to_bytes() == a


def test_dtype_must_be_known(small):
    with pytest.raises(LowRankError, match="dtype"):
        small.compress(budget=5000, dtype="bfloat16")


def test_exactly_one_rule(small):
    with pytest.raises(LowRankError, match="exactly one"):
        small.compress(budget=5000, target_psnr=30.0)


def test_some_rule(small):
    with pytest.raises(LowRankError, match="exactly one"):
        small.compress()


def test_budget_below_the_smallest_file(small):
    smallest = small.minimum_bytes("float16")
    with pytest.raises(LowRankError, match=f"at least {smallest:,}"):
        small.compress(budget=smallest - 1)


def test_budget_must_be_whole(small):
    with pytest.raises(LowRankError, match="whole number"):
        small.compress(budget=5000.5)


def test_budget_must_not_be_a_bool(small):
    with pytest.raises(LowRankError, match="whole number"):
        small.compress(budget=True)


def test_solver_must_be_known(small):
    with pytest.raises(LowRankError, match="solver"):
        small.compress(budget=2000, solver="dynamic")


def test_budget_is_limited(small):
    with pytest.raises(LowRankError, match="at most"):
        small.compress(budget=10**15)


@pytest.mark.parametrize("target", [0.0, -3.0, math.inf, math.nan, 101.0, "abc", True])
def test_target_psnr_must_be_a_sensible_number(small, target):
    with pytest.raises(LowRankError, match="target PSNR"):
        small.compress(target_psnr=target)


def test_ranks_must_have_the_tile_grid_shape(small):
    with pytest.raises(ShapeError, match=r"\(3, 3, 3\)"):
        small.compress(ranks=torch.zeros(3, 2, 3, dtype=torch.long))


def test_ranks_must_be_integers(small):
    with pytest.raises(RankError, match="whole numbers"):
        small.compress(ranks=torch.zeros(3, 3, 3))


def test_rank_above_an_edge_tile_is_refused(small):
    ranks = torch.zeros(3, 3, 3, dtype=torch.long)
    ranks[1, 2, 0] = 5  # the bottom row of tiles is 4 pixels tall
    with pytest.raises(RankError, match="channel 1, row 2, column 0.*between 0 and 4"):
        small.compress(ranks=ranks)


def test_negative_rank_other_than_raw_is_refused(small):
    with pytest.raises(RankError):
        small.compress(ranks=torch.full((3, 3, 3), -2))


# ================================================================================= validation: decode


@pytest.fixture(scope="module")
def file_bytes(small):
    return small.compress(budget=2000, dtype="int8").to_bytes()


def test_decode_refuses_another_file(file_bytes):
    with pytest.raises(ParseError, match="not a tile file"):
        decode_tiles(b"\x89PNG" + file_bytes[4:])


def test_decode_refuses_a_truncated_file(file_bytes):
    with pytest.raises(ParseError, match="truncated"):
        decode_tiles(file_bytes[:-1])


def test_decode_refuses_trailing_bytes(file_bytes):
    with pytest.raises(ParseError, match="after its last section"):
        decode_tiles(file_bytes + b"\0")


def test_decode_refuses_a_short_header():
    with pytest.raises(ParseError, match="header"):
        decode_tiles(b"LRT1")


def test_decode_refuses_an_impossible_rank(file_bytes):
    broken = bytearray(file_bytes)
    broken[17 + 8] = 7  # the corner tile of channel 0 is 4×4: rank 4 at most
    with pytest.raises(ParseError, match="rank 7"):
        decode_tiles(bytes(broken))


def test_decode_refuses_a_huge_claimed_size():
    header = struct.pack("<4sBBBBBII", b"LRT1", 1, 0, 1, 8, 1, 100_000, 100_000)
    with pytest.raises(TooLargeError):
        decode_tiles(header)


def test_decode_refuses_an_unknown_version(file_bytes):
    with pytest.raises(ParseError, match="version"):
        decode_tiles(file_bytes[:4] + b"\x02" + file_bytes[5:])


def test_decode_refuses_non_finite_factors():
    data = bytearray(compress_tiles(_image(1, 8, 8, seed=21), tile_side=8, dtype="float16",
                                    budget=17 + 1 + 2 + 32).to_bytes())
    assert len(data) == 17 + 1 + 2 + 32  # rank 1
    data[17 + 1 + 2:17 + 1 + 4] = np.array([np.inf], "<f2").tobytes()
    with pytest.raises(NonFiniteError):
        decode_tiles(bytes(data))


def test_decode_needs_bytes():
    with pytest.raises(ParseError, match="bytes"):
        decode_tiles("LRT1")
