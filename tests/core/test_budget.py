"""budget.py against the closed forms of its module docstring, and quantization against numpy."""

import numpy as np
import pytest
import torch

from lowrank_core.budget import (
    break_even_rank,
    flops,
    parameter_budget,
    quantize,
    storage_bytes,
)
from lowrank_core.errors import LowRankError

SHAPES = [(15, 15), (1, 1), (1, 40), (40, 1), (1080, 1920), (512, 256)]


def test_notebook_budget():
    budget = parameter_budget(15, 15, 4)
    assert budget.dense == 225
    assert budget.factored == 120
    assert budget.factored_with_sigma == 4 * (15 + 15 + 1) == 124
    assert budget.ratio == pytest.approx(225 / 120)
    assert budget.saves
    assert budget.break_even_rank == pytest.approx(7.5)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("m, n", SHAPES)
def test_parameter_budget_closed_forms(m, n, channels):
    for rank in sorted({0, 1, min(m, n) // 2, min(m, n)}):
        budget = parameter_budget(m, n, rank, channels=channels)
        assert budget.dense == m * n * channels
        assert budget.factored == rank * (m + n) * channels
        assert budget.factored_with_sigma == rank * (m + n + 1) * channels
        assert budget.break_even_rank == pytest.approx(m * n / (m + n))
        if rank:
            assert budget.ratio == pytest.approx(m * n / (rank * (m + n)))
        else:
            assert budget.ratio == float("inf")
        assert budget.saves == (rank < m * n / (m + n))


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("m, n", SHAPES)
def test_storage_bytes_closed_forms(m, n, channels):
    for rank in sorted({0, 1, min(m, n)}):
        size = storage_bytes(m, n, rank, channels=channels)
        numbers = rank * (m + n) * channels
        assert size.float32 == 4 * numbers
        assert size.float16 == 2 * numbers
        assert size.int8 == numbers + 8 * rank * channels  # one float32 scale per column of a and row of b
        assert size.raw == m * n * channels
        assert size.of("float16") == size.float16
        if rank:
            assert size.ratio("float16") == pytest.approx(m * n * channels / (2 * numbers))


def test_storage_ratio_of_rank_zero_is_infinite():
    assert storage_bytes(10, 10, 0).ratio("int8") == float("inf")


def test_storage_of_an_unknown_dtype_is_refused():
    with pytest.raises(LowRankError):
        storage_bytes(10, 10, 2).of("bfloat16")


@pytest.mark.parametrize("m, n", SHAPES)
def test_break_even_rank(m, n):
    r = break_even_rank(m, n)
    assert r == pytest.approx(m * n / (m + n))
    assert r * (m + n) == pytest.approx(m * n)  # factored numbers equal dense numbers there


@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("m, n", SHAPES)
def test_flops(m, n, batch):
    rank = min(m, n) // 2
    dense, factored = flops(m, n, rank, batch=batch)
    assert dense == 2 * m * n * batch
    assert factored == 2 * rank * (m + n) * batch


@pytest.mark.parametrize(
    "call",
    [
        lambda: parameter_budget(15, 15, -1),
        lambda: parameter_budget(15, 15, 16),
        lambda: parameter_budget(15, 15, 2.5),
        lambda: parameter_budget(15, 15, None),
        lambda: parameter_budget(15, 15, "2"),
        lambda: parameter_budget(15, 15, float("nan")),
        lambda: parameter_budget(0, 15, 1),
        lambda: parameter_budget(15, 15, 1, channels=0),
        lambda: storage_bytes(15, 10, 11),
        lambda: storage_bytes(15, 10, -3),
        lambda: storage_bytes(15, 10, 1.5),
        lambda: flops(4, 4, 5),
        lambda: break_even_rank(0, 3),
    ],
    ids=["negative", "above", "fraction", "none", "text", "nan", "zero-size", "zero-channels", "bytes-above",
         "bytes-negative", "bytes-fraction", "flops-above", "break-even-zero"],
)
def test_bad_rank_or_size_is_refused(call):
    with pytest.raises(LowRankError):
        call()


# ------------------------------------------------------------------------- quantization


@pytest.mark.parametrize("dim", [-1, -2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_int8_error_is_at_most_half_a_step(dim, dtype):
    rng = np.random.default_rng(4)
    values = rng.standard_normal((37, 23)) * rng.uniform(0.01, 100, size=(37, 1))
    values[3] = 0.0  # an all-zero row: a zero scale must not divide by zero
    restored = quantize(torch.from_numpy(values).to(dtype), "int8", dim=dim)
    assert restored.dtype == torch.float32  # "back to float32", as the docstring promises
    restored = restored.double().numpy()
    exact = torch.from_numpy(values).to(dtype).double().numpy()
    scale = np.abs(exact).max(axis=dim, keepdims=True) / 127  # one scale per slice along dim
    assert np.all(np.isfinite(restored))
    assert np.all(np.abs(restored - exact) <= scale / 2 * (1 + 1e-5) + 1e-12)
    # at most 255 distinct levels per slice, on the grid of its scale
    levels = np.where(scale > 0, restored / np.where(scale > 0, scale, 1), 0)
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-3)
    assert np.abs(levels).max() <= 127 + 1e-3


def test_float16_round_trip_matches_numpy():
    rng = np.random.default_rng(8)
    values = rng.standard_normal((20, 30)).astype(np.float32) * 10
    restored = quantize(torch.from_numpy(values), "float16")
    assert restored.dtype == torch.float32
    np.testing.assert_array_equal(restored.numpy(), values.astype(np.float16).astype(np.float32))


def test_float32_is_unchanged():
    values = torch.rand(5, 6)
    assert torch.equal(quantize(values, "float32"), values)


def test_quantize_to_an_unknown_dtype_is_refused():
    with pytest.raises(LowRankError):
        quantize(torch.rand(3, 3), "int4")
