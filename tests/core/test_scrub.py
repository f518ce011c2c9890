"""lowrank_core.scrub: the rank scrubber's payload, unpacked as scrubber.js reads it, against the codec.

Oracles: ``ImageCodec.reconstruct(ranks, dtype=dtype, size=size)`` -> ``to_uint8`` (what the page's server
path shows), and for rank 1 on a downscaled display the full-size reconstruction resized afterwards (torch
mis-resizes a single column, see test_rank_one_oracle_note); numpy float64 and a colour table built here
for the matrix mode.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lowrank_core import factorize, scrub, sources
from lowrank_core.errors import LowRankError, ParseError, RankError, ShapeError, TooLargeError
from lowrank_core.image import from_color_space, prepare_codec, resize, to_uint8
from lowrank_core.scrub import blob as scrub_blob
from lowrank_core.scrub import build as scrub_build

RANKS = (1, 7, 50)
RDBU_R = np.array([(5, 48, 97), (33, 102, 172), (67, 147, 195), (146, 197, 222), (209, 229, 240),
                   (247, 247, 247), (253, 219, 199), (244, 165, 130), (214, 96, 77), (178, 24, 43),
                   (103, 0, 31)], dtype=np.float64)
COLOURS = np.stack([np.interp(np.linspace(0, 1, 257), np.linspace(0, 1, 11), RDBU_R[:, c]) for c in range(3)],
                   axis=1).round().astype(np.uint8)  # (257, 3)


@pytest.fixture(scope="module")
def astronaut() -> torch.Tensor:
    return sources.load_sample("astronaut").pixels  # (3, 512, 512)


@pytest.fixture(scope="module")
def codecs(astronaut):
    return {mode: prepare_codec(astronaut, mode) for mode in ("rgb", "luminance", "ycbcr")}


def close_enough(got: torch.Tensor, want: torch.Tensor) -> tuple[float, int]:
    """(share of pixels more than one grey level apart, largest difference)."""
    assert got.shape == want.shape and got.dtype == want.dtype == torch.uint8
    difference = (got.int() - want.int()).abs()
    return float((difference > 1).float().mean()), int(difference.max())


def reference(codec, rank: int, dtype: str, size) -> torch.Tensor:
    """What the page shows at ``size``: the codec's display reconstruction, 8-bit."""
    if size is not None and rank == 1:  # torch.nn.functional.interpolate mis-resizes one column
        channels = resize(codec.channels_at(rank, dtype=dtype), size)
        return to_uint8(from_color_space(channels, codec.mode).clamp(0, 1))
    return to_uint8(codec.reconstruct(rank, dtype=dtype, size=size))


# ======================================================================================== reconstruction


@pytest.mark.parametrize("size", [None, (256, 256), (200, 311)], ids=["full", "half", "odd"])
@pytest.mark.parametrize("dtype", ["float16", "int8", "float32"])
@pytest.mark.parametrize("mode", ["rgb", "luminance", "ycbcr"])
def test_unpacked_payload_draws_what_the_codec_shows(codecs, astronaut, mode, dtype, size):
    codec = codecs[mode]
    blob = scrub.pack(scrub.scrub_factors(codec, astronaut, dtype=dtype, size=size))
    factors = scrub.unpack(blob)
    for rank in (*RANKS, factors.rank_cap):
        share, largest = close_enough(factors.image_at(rank), reference(codec, rank, dtype, size))
        assert share <= 0.001, (rank, share, largest)
        if size is None and dtype != "float16":  # the codec's own values on the wire, no resize
            assert largest <= 1, (rank, largest)


def test_ycbcr_luma_and_chroma_ranks_apart(codecs, astronaut):
    codec = codecs["ycbcr"]
    factors = scrub.unpack(scrub.pack(scrub.scrub_factors(codec, astronaut, dtype="float16")))
    for ranks in [(30, 0), (5, 40), (0, 3)]:
        share, _ = close_enough(factors.image_at(ranks), reference(codec, ranks, "float16", None))
        assert share <= 0.001, ranks


def test_grey_image_in_rgb_mode_is_drawn_grey():
    pixels = sources.load_sample("camera").pixels  # (1, 512, 512)
    codec = prepare_codec(pixels, "rgb")
    factors = scrub.unpack(scrub.pack(scrub.scrub_factors(codec, pixels, dtype="int8", size=(128, 128))))
    assert factors.mode == "luminance" and factors.output_channels == 1
    share, _ = close_enough(factors.image_at(20), reference(codec, 20, "int8", (128, 128)))
    assert share <= 0.001


def test_rank_zero_is_black_and_the_error_view_is_the_original_times_eight(codecs, astronaut):
    factors = scrub.scrub_factors(codecs["rgb"], astronaut, dtype="float16", size=(64, 64), rank_cap=4)
    assert int(factors.image_at(0).max()) == 0
    want = (factors.original.int() * scrub.ERROR_GAIN).clamp(max=255).to(torch.uint8)
    assert torch.equal(factors.error_at(0), want)


def test_original_is_the_reference_at_display_size(codecs, astronaut):
    factors = scrub.unpack(scrub.pack(scrub.scrub_factors(codecs["luminance"], astronaut, size=(100, 100),
                                                          rank_cap=2)))
    luma = torch.einsum("c,chw->hw", torch.tensor([0.299, 0.587, 0.114]), astronaut)[None]
    assert torch.equal(factors.original, to_uint8(resize(luma, (100, 100)).clamp(0, 1)))


def test_randomized_preview_caps_the_ranks(astronaut):
    codec = prepare_codec(astronaut, "rgb", method="randomized", max_rank=40)
    factors = scrub.unpack(scrub.pack(scrub.scrub_factors(codec, astronaut, dtype="float16")))
    assert (factors.rank_cap, factors.codec_ranks, factors.full_rank, factors.method) == (40, 40, 512,
                                                                                         "randomized")
    share, _ = close_enough(factors.image_at(40), reference(codec, 40, "float16", None))
    assert share <= 0.001


def test_rank_one_oracle_note(codecs):
    """Why rank 1 on a smaller display is checked against resize-after: torch 2.13 resizes (H, 1) wrongly."""
    x = torch.arange(8.0).reshape(1, 8, 1)
    assert not torch.allclose(resize(x, (4, 1)), resize(torch.cat([x, x], -1), (4, 2))[..., :1])
    assert torch.allclose(scrub_build._resize_axis(x, 4, -2), resize(torch.cat([x, x], -1), (4, 2))[..., :1])


# ============================================================================================= the wire


def test_round_trip_keeps_every_field(codecs, astronaut):
    made = scrub.scrub_factors(codecs["ycbcr"], astronaut, dtype="int8", size=(200, 300), rank_cap=9)
    back = scrub.unpack(scrub.pack(made))
    for name in ("kind", "mode", "dtype", "groups", "height", "width", "source_height", "source_width",
                 "codec_ranks", "full_rank", "method", "limit"):
        assert getattr(back, name) == getattr(made, name), name
    for name in ("a", "b", "a_scale", "b_scale", "S", "original"):
        assert torch.equal(getattr(back, name), getattr(made, name)), name
    for name in ("row_map", "col_map"):
        assert torch.equal(getattr(back, name).start, getattr(made, name).start)
        assert torch.equal(getattr(back, name).weights, getattr(made, name).weights)


def test_int8_wire_holds_the_codecs_own_int8_values(codecs, astronaut):
    codec = codecs["rgb"]
    factors = scrub.scrub_factors(codec, astronaut, dtype="int8", size=(256, 256), rank_cap=12)
    assert factors.a.dtype == torch.int8 and factors.a.shape == (3, 12, 512)  # source rows: resized later
    ((a_q, b_q),) = codec.factors(12, dtype="int8")  # (3, 512, 12), (3, 12, 512)
    torch.testing.assert_close(factors.a.float() * factors.a_scale[:, :, None], a_q.transpose(1, 2),
                               rtol=1e-6, atol=0)
    torch.testing.assert_close(factors.b.float() * factors.b_scale[:, :, None], b_q, rtol=1e-6, atol=0)


def test_float16_wire_is_the_resized_codec_factors_rounded(codecs, astronaut):
    codec = codecs["luminance"]
    factors = scrub.scrub_factors(codec, astronaut, dtype="float16", size=(128, 128), rank_cap=6)
    ((a, b),) = codec.factors(6, dtype="float16")
    assert factors.a.dtype == torch.float16
    assert torch.equal(factors.a, resize(a, (128, 6)).transpose(1, 2).half())
    assert torch.equal(factors.b, resize(b, (6, 128)).half())


def test_header_fields_as_documented(codecs, astronaut):
    blob = scrub.pack(scrub.scrub_factors(codecs["ycbcr"], astronaut, dtype="float16", size=(100, 120),
                                          rank_cap=5))
    assert blob[:4] == b"LRSB" and struct.unpack_from("<HH", blob, 4) == (1, 256)
    assert blob[24:30] == bytes([0, 2, 1, 3, 3, 2])  # image, ycbcr, float16, C=3, RGB out, 2 groups
    assert blob[30:34] == bytes([0, 1, 1, 0])  # channel groups: Y | Cb Cr
    assert struct.unpack_from("<7I", blob, 36) == (100, 120, 5, 512, 512, 512, 512)
    matrix = np.array(struct.unpack_from("<9d", blob, 72)).reshape(3, 3)
    np.testing.assert_allclose(matrix, [[1, 0, 1.402], [1, -0.344136, -0.714136], [1, 1.772, 0]], atol=1e-5)
    assert struct.unpack_from("<d3d6d", blob, 144) == (128 / 255, 0.299, 0.587, 0.114, 0.0, 1.0, 255.0, 0.5,
                                                        8.0, 0.0)
    tags = [blob[256 + 16 * i:260 + 16 * i] for i in range(struct.unpack_from("<H", blob, 34)[0])]
    assert tags == [b"SIGM", b"AFAC", b"BFAC", b"ORIG"]
    for i in range(len(tags)):
        assert struct.unpack_from("<I", blob, 256 + 16 * i + 8)[0] % 8 == 0  # aligned typed arrays
    assert scrub.payload_id(blob) == blob[8:24].hex()


def test_pack_is_deterministic(codecs, astronaut):
    make = lambda: scrub.pack(scrub.scrub_factors(codecs["rgb"], astronaut, size=(64, 64), rank_cap=3))
    assert make() == make()


# ============================================================================================ sizes


def test_bytes_a_rank_as_documented(codecs, astronaut):
    codec = codecs["rgb"]
    size_of = lambda dtype, k: len(scrub.pack(scrub.scrub_factors(codec, astronaut, dtype=dtype,
                                                                  size=(256, 384), rank_cap=k)))
    assert size_of("float16", 12) - size_of("float16", 4) == 8 * 3 * (256 + 384) * 2
    assert size_of("float32", 12) - size_of("float32", 4) == 8 * 3 * (256 + 384) * 4
    assert size_of("int8", 12) - size_of("int8", 4) == 8 * 3 * (512 + 512 + 8)  # int8 at the source size


def test_default_cap_fills_the_budget_at_1080p():
    pixels = sources.sample_photo_1080p()  # (3, 1080, 1920)
    codec = prepare_codec(pixels, "rgb")
    caps = {}
    for dtype in ("float16", "int8", "float32"):
        blob = scrub.pack(scrub.scrub_factors(codec, pixels, dtype=dtype, size=(576, 1024)))
        factors = scrub.unpack(blob)
        assert len(blob) <= scrub.MAX_PAYLOAD_BYTES
        per_rank = len(scrub.pack(scrub.scrub_factors(codec, pixels, dtype=dtype, size=(576, 1024),
                                                      rank_cap=2))) - len(scrub.pack(
            scrub.scrub_factors(codec, pixels, dtype=dtype, size=(576, 1024), rank_cap=1)))
        assert len(blob) + per_rank + 16 > scrub.MAX_PAYLOAD_BYTES  # one more rank would not fit
        caps[dtype] = factors.rank_cap
        share, _ = close_enough(factors.image_at(factors.rank_cap),
                                reference(codec, factors.rank_cap, dtype, (576, 1024)))
        assert share <= 0.001
    assert caps["float32"] < caps["float16"] <= caps["int8"]
    assert caps["float16"] >= 300  # the docstring's table says ~320


def test_small_sample_sends_its_full_rank(codecs, astronaut):
    factors = scrub.scrub_factors(codecs["rgb"], astronaut, dtype="float16")
    assert factors.rank_cap == 512 and len(scrub.pack(factors)) < 3_700_000


# ======================================================================================== properties


@settings(max_examples=25)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_up_filter_and_deflate_round_trip(h, w, c, seed):
    planes = torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (c, h, w), dtype=np.uint8))
    back = scrub_blob.inflate_planes(scrub_blob.deflate_planes(planes), (c, h, w))
    assert np.array_equal(back, planes.numpy())


@settings(max_examples=25)
@given(st.integers(2, 300), st.data())
def test_resize_map_is_the_resize(size_in, data):
    size_out = data.draw(st.integers(1, size_in))
    x = torch.from_numpy(np.random.default_rng(size_in).standard_normal((2, 3, size_in)).astype(np.float32))
    resize_map = scrub_build._resize_map(size_in, size_out)
    want = resize(torch.cat([x, x], 0).reshape(1, 12, size_in), (12, size_out))[0, :6].reshape(2, 3, -1)
    torch.testing.assert_close(resize_map.apply(x), want, rtol=1e-5, atol=1e-5)


# ============================================================================================ matrices


def colour_oracle(values: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """(colours, distance of each entry's table position from a rounding boundary)."""
    position = np.clip((values / limit + 1) / 2, 0, 1) * (len(COLOURS) - 1)
    return COLOURS[np.rint(position).astype(np.int64)], np.abs(position - np.floor(position) - 0.5)


def test_matrix_heatmaps_match_the_factorization():
    torch.manual_seed(0)
    W = torch.rand(15, 4) @ torch.rand(4, 15) + 0.01 * torch.randn(15, 15)
    f = factorize(W)
    payload = scrub.unpack(scrub.pack(scrub.matrix_scrub_factors(W, f, colours=COLOURS)))
    limit = float(W.abs().max())
    assert payload.limit == pytest.approx(limit) and payload.rank_cap == 15
    for rank in (0, 1, 4, 15):
        low_rank = f.reconstruct(rank).double().numpy()
        for got, values in zip(payload.heatmaps_at(rank), (W.double().numpy(), low_rank,
                                                           W.double().numpy() - low_rank), strict=True):
            want, margin = colour_oracle(values, limit)
            clear = margin < 0.5 - 1e-4  # not on a rounding boundary of the colour table
            assert np.array_equal(got[clear], want[clear]), rank


def test_matrix_shown_rows_and_columns():
    W = torch.arange(300 * 200, dtype=torch.float32).reshape(300, 200) / 1e4
    f = factorize(W)
    rows, cols = np.linspace(0, 299, 50).round().astype(int), np.arange(0, 200, 4)
    payload = scrub.unpack(scrub.pack(scrub.matrix_scrub_factors(W, f, rows=rows, cols=cols, limit=2.0,
                                                                 colours=COLOURS)))
    assert (payload.height, payload.width, payload.limit) == (50, 50, 2.0)
    assert torch.equal(payload.rows, torch.as_tensor(rows))
    assert torch.equal(payload.original, W[rows][:, cols])
    np.testing.assert_allclose(payload.channels_at(2)[0].numpy(), f.reconstruct(2)[rows][:, cols].numpy(),
                               atol=1e-3)


# ========================================================================================== validation


def test_rejects_unknown_dtype(codecs, astronaut):
    with pytest.raises(LowRankError, match="dtype"):
        scrub.scrub_factors(codecs["rgb"], astronaut, dtype="bfloat16")


def test_rejects_display_larger_than_the_image(codecs, astronaut):
    with pytest.raises(ShapeError, match="size"):
        scrub.scrub_factors(codecs["rgb"], astronaut, size=(600, 600))


def test_rejects_a_display_side_above_the_limit():
    pixels = torch.rand(1, 8, 2100)
    with pytest.raises(TooLargeError, match="2048"):
        scrub.scrub_factors(prepare_codec(pixels, "rgb"), pixels, size=(8, 2100))


def test_rejects_a_size_that_is_not_a_pair(codecs, astronaut):
    with pytest.raises(ShapeError, match="pair"):
        scrub.scrub_factors(codecs["rgb"], astronaut, size=256)


def test_rejects_rank_cap_zero(codecs, astronaut):
    with pytest.raises(RankError, match="rank_cap"):
        scrub.scrub_factors(codecs["rgb"], astronaut, rank_cap=0)


def test_rejects_rank_cap_above_the_codec(codecs, astronaut):
    with pytest.raises(RankError, match="512"):
        scrub.scrub_factors(codecs["rgb"], astronaut, rank_cap=513)


def test_rejects_a_rank_cap_over_the_budget(codecs, astronaut):
    with pytest.raises(TooLargeError, match="max_bytes"):
        scrub.scrub_factors(codecs["rgb"], astronaut, rank_cap=100, max_bytes=200_000)


def test_rejects_a_budget_too_small_for_one_rank(codecs, astronaut):
    with pytest.raises(TooLargeError, match="one rank"):
        scrub.scrub_factors(codecs["rgb"], astronaut, max_bytes=1_000)


def test_rejects_a_bad_budget(codecs, astronaut):
    with pytest.raises(LowRankError, match="max_bytes"):
        scrub.scrub_factors(codecs["rgb"], astronaut, max_bytes=-5)


def test_rejects_pixels_of_another_image(codecs):
    with pytest.raises(ShapeError, match="pixels"):
        scrub.scrub_factors(codecs["rgb"], torch.rand(3, 10, 10))


def test_rejects_something_else_than_a_codec(astronaut):
    with pytest.raises(LowRankError, match="ImageCodec"):
        scrub.scrub_factors("codec", astronaut)


def test_image_at_rejects_a_rank_above_the_cap(codecs, astronaut):
    factors = scrub.scrub_factors(codecs["rgb"], astronaut, size=(32, 32), rank_cap=3)
    with pytest.raises(RankError, match="between 0 and 3"):
        factors.image_at(4)


def test_unpack_rejects_other_bytes():
    with pytest.raises(ParseError, match="header"):
        scrub.unpack(b"PNG" * 10)


def test_unpack_rejects_a_wrong_magic():
    with pytest.raises(ParseError, match="version"):
        scrub.unpack(b"\0" * 300)


def test_unpack_rejects_an_altered_blob(codecs, astronaut):
    blob = bytearray(scrub.pack(scrub.scrub_factors(codecs["rgb"], astronaut, size=(16, 16), rank_cap=2)))
    blob[-1] ^= 0xFF
    with pytest.raises(ParseError, match="id"):
        scrub.unpack(bytes(blob))


def test_unpack_rejects_a_truncated_blob(codecs, astronaut):
    blob = scrub.pack(scrub.scrub_factors(codecs["rgb"], astronaut, size=(16, 16), rank_cap=2))
    with pytest.raises(ParseError):
        scrub.unpack(blob[:-100])


def test_payload_id_rejects_other_bytes():
    with pytest.raises(ParseError, match="LRSB"):
        scrub.payload_id(b"hello")


def test_matrix_rejects_w_of_another_shape():
    W = torch.rand(5, 6)
    with pytest.raises(ShapeError, match="W must be"):
        scrub.matrix_scrub_factors(torch.rand(6, 5), factorize(W), colours=COLOURS)


def test_matrix_rejects_rows_out_of_range():
    W = torch.rand(5, 6)
    with pytest.raises(ShapeError, match="rows"):
        scrub.matrix_scrub_factors(W, factorize(W), rows=[0, 5], colours=COLOURS)


def test_matrix_rejects_too_many_shown_columns():
    W = torch.rand(2, 1100)
    with pytest.raises(TooLargeError, match="cols"):
        scrub.matrix_scrub_factors(W, factorize(W), colours=COLOURS)


def test_matrix_rejects_a_bad_colour_table():
    W = torch.rand(5, 6)
    with pytest.raises(LowRankError, match="colours"):
        scrub.matrix_scrub_factors(W, factorize(W), colours=COLOURS.astype(np.float32))


def test_matrix_rejects_a_bad_limit():
    W = torch.rand(5, 6)
    with pytest.raises(LowRankError, match="limit"):
        scrub.matrix_scrub_factors(W, factorize(W), colours=COLOURS, limit=float("nan"))


def test_matrix_rejects_a_stack():
    W = torch.rand(3, 5, 6)
    with pytest.raises(LowRankError, match="one"):
        scrub.matrix_scrub_factors(W, factorize(W), colours=COLOURS)
