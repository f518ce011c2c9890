"""factorize.py against numpy's LAPACK SVD in float64, closed forms and Eckart–Young."""

from functools import cache

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lowrank_core.errors import ConvergenceError, LowRankError, NonFiniteError, RankError, ShapeError
from lowrank_core.factorize import Factorization, choose_device, factorize
from lowrank_core.metrics import truncation_error

DTYPES = [torch.float32, torch.float64]


def _orthonormal(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """(rows, cols) with orthonormal columns, from numpy's QR."""
    q, _ = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q


def _with_spectrum(m: int, n: int, singular_values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """U diag(s) Vᵀ with random orthonormal U (m, k) and V (n, k)."""
    k = len(singular_values)
    return (_orthonormal(m, k, rng) * singular_values) @ _orthonormal(n, k, rng).T


def _rank_deficient(m: int, n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """A product of (m, k) and (k, n) Gaussian factors: rank k."""
    return rng.standard_normal((m, k)) @ rng.standard_normal((k, n))


# name -> numpy array (float64); shapes cover square, tall, wide, vectors, rank-deficient, zeros, stacks
def _cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1234)
    return {
        "square": rng.standard_normal((30, 30)),
        "tall": rng.standard_normal((57, 13)),
        "wide": rng.standard_normal((9, 41)),
        "row": rng.standard_normal((1, 25)),
        "column": rng.standard_normal((25, 1)),
        "scalar": np.array([[-3.5]]),
        "rank3": _rank_deficient(40, 35, 3, rng),
        "uniform": rng.random((20, 33)),
        "zeros": np.zeros((12, 7)),
        "stack": rng.random((3, 24, 18)),
        "stack_mixed": np.stack([_rank_deficient(16, 20, 2, rng), np.zeros((16, 20)), rng.random((16, 20))]),
    }


CASES = _cases()


def _tensor(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    return torch.from_numpy(array).to(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_singular_values_match_numpy(name, dtype):
    x = CASES[name]
    f = factorize(_tensor(x, dtype), method="exact")
    expected = np.linalg.svd(x, compute_uv=False)  # float64 LAPACK
    S = f.S.double().numpy()
    assert S.shape == expected.shape
    scale = expected.max(axis=-1, keepdims=True) if expected.size else 1.0
    assert np.all(np.abs(S - expected) <= 1e-5 * scale + 1e-12)
    assert np.all(np.diff(S, axis=-1) <= 0)  # descending
    assert np.all(S >= 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_full_rank_reconstruction_returns_the_input(name, dtype):
    x = CASES[name]
    f = factorize(_tensor(x, dtype))
    back = f.reconstruct(f.max_rank).double().numpy()
    assert back.shape == x.shape
    assert np.linalg.norm(back - x) <= 1e-5 * np.linalg.norm(x) + 1e-12


@pytest.mark.parametrize("name", sorted(CASES))
def test_singular_vectors_are_orthonormal(name):
    x = CASES[name]
    f = factorize(_tensor(x, torch.float32))
    U, Vh = f.U.double().numpy(), f.Vh.double().numpy()
    k = f.max_rank
    eye = np.broadcast_to(np.eye(k), (*U.shape[:-2], k, k))
    np.testing.assert_allclose(np.swapaxes(U, -1, -2) @ U, eye, atol=1e-5)
    np.testing.assert_allclose(Vh @ np.swapaxes(Vh, -1, -2), eye, atol=1e-5)


@pytest.mark.parametrize("name", ["square", "stack", "wide"])
def test_rank_zero_is_all_zeros(name):
    x = CASES[name]
    zero = factorize(_tensor(x, torch.float32)).reconstruct(0)
    assert zero.shape == x.shape
    assert torch.count_nonzero(zero) == 0


def test_rank_above_the_maximum_is_refused():
    f = factorize(torch.rand(6, 4))
    with pytest.raises(RankError):
        f.reconstruct(5)


def test_negative_rank_is_refused():
    f = factorize(torch.rand(6, 4))
    with pytest.raises(RankError):
        f.reconstruct(-1)


@pytest.mark.parametrize("rank", [2.5, "3", None, float("nan"), float("inf"), True])
def test_non_integer_rank_is_refused(rank):
    f = factorize(torch.rand(6, 4))
    with pytest.raises(RankError):
        f.factors(rank)


@pytest.mark.parametrize("index", [4, -1, 1.5, None, float("nan")])
def test_bad_component_index_is_refused(index):
    f = factorize(torch.rand(6, 4))
    with pytest.raises(RankError):
        f.component(index)


@pytest.mark.parametrize("max_rank", [0, 5, -2, 1.5, float("nan"), float("inf"), "2"])
def test_bad_max_rank_is_refused(max_rank):
    with pytest.raises(RankError):
        factorize(torch.rand(6, 4), max_rank=max_rank)


@pytest.mark.parametrize("name", ["square", "tall", "wide", "stack", "row"])
def test_factors_shapes_and_product(name):
    x = CASES[name]
    f = factorize(_tensor(x, torch.float32))
    m, n = x.shape[-2:]
    for r in sorted({0, 1, min(m, n) // 2, min(m, n)}):
        a, b = f.factors(r)
        assert tuple(a.shape) == (*x.shape[:-2], m, r)
        assert tuple(b.shape) == (*x.shape[:-2], r, n)
        torch.testing.assert_close(a @ b, f.reconstruct(r), rtol=0, atol=1e-6 * float(np.abs(x).max()))


@pytest.mark.parametrize("name", ["square", "tall", "stack", "rank3"])
def test_components_sum_to_the_reconstruction(name):
    x = CASES[name]
    f = factorize(_tensor(x, torch.float32))
    r = min(5, f.max_rank)
    total = sum(f.component(i) for i in range(r))
    assert tuple(f.component(0).shape) == x.shape
    torch.testing.assert_close(total, f.reconstruct(r), rtol=0, atol=1e-5 * float(np.abs(x).max()))
    # and each term is rank one with the right size: ‖S_i u_i v_iᵀ‖_F = σ_i (numpy's)
    expected = np.linalg.svd(x, compute_uv=False)[..., :r]
    norms = np.stack([torch.linalg.matrix_norm(f.component(i)).double().numpy() for i in range(r)], -1)
    np.testing.assert_allclose(norms, expected, rtol=1e-5, atol=1e-5 * expected.max())


@pytest.mark.parametrize("name", ["square", "tall", "stack", "rank3", "zeros", "stack_mixed"])
def test_energy_matches_numpy_cumulative_sums(name):
    x = CASES[name]
    f = factorize(_tensor(x, torch.float32))
    s2 = np.linalg.svd(x, compute_uv=False) ** 2
    total = s2.sum(-1, keepdims=True)
    cumulative = np.concatenate([np.zeros_like(total), np.cumsum(s2, -1)], -1)
    expected = np.where(total > 0, cumulative / np.where(total > 0, total, 1.0), 1.0)
    energy = f.energy().numpy()
    assert energy.shape == (*x.shape[:-2], min(x.shape[-2:]) + 1)
    np.testing.assert_allclose(energy, expected, atol=1e-5)


def test_signs_are_deterministic():
    x = torch.from_numpy(CASES["square"]).float()
    first, second, copy = factorize(x), factorize(x), factorize(x.clone())
    assert torch.equal(first.U, second.U) and torch.equal(first.Vh, second.Vh)
    assert torch.equal(first.U, copy.U) and torch.equal(first.Vh, copy.Vh)


@pytest.mark.parametrize("name", ["square", "tall", "wide", "stack", "rank3"])
def test_largest_entry_of_each_left_vector_is_positive(name):
    U = factorize(_tensor(CASES[name], torch.float32)).U.numpy()
    # tie-proof: a column's largest value equals its largest magnitude
    np.testing.assert_array_equal(U.max(axis=-2), np.abs(U).max(axis=-2))


def test_randomized_factorization_is_deterministic():
    rng = np.random.default_rng(7)
    x = torch.from_numpy(_with_spectrum(300, 200, np.exp(-np.arange(200) / 10), rng)).float()
    torch.manual_seed(1)
    first = factorize(x, method="randomized", max_rank=20)
    torch.manual_seed(2)
    second = factorize(x, method="randomized", max_rank=20)
    assert torch.equal(first.U, second.U) and torch.equal(first.S, second.S)
    # and the caller's random stream is left as it was
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    factorize(x, method="randomized", max_rank=20)
    assert torch.equal(torch.rand(4), expected)


def test_notebook_matrix_has_rank_four_and_small_factors():
    generator = torch.Generator().manual_seed(0)
    W = torch.rand(15, 4, generator=generator) @ torch.rand(4, 15, generator=generator)
    f = factorize(W)
    from lowrank_core.rank import numerical_rank

    # numpy's matrix_rank on the float32 matrix uses float32's epsilon, as the engine does
    assert numerical_rank(f.S, W.shape) == 4 == np.linalg.matrix_rank(W.numpy())
    a, b = f.factors(4)
    assert tuple(a.shape) == (15, 4) and tuple(b.shape) == (4, 15)
    assert a.numel() + b.numel() == 120 < W.numel() == 225
    torch.testing.assert_close(a @ b, W, rtol=0, atol=1e-5)


def test_auto_is_exact_for_small_inputs():
    assert factorize(torch.rand(64, 48), max_rank=5).method == "exact"
    assert factorize(torch.rand(3, 64, 48)).method == "exact"


def test_auto_is_randomized_for_a_large_matrix_with_a_low_rank():
    f = factorize(torch.rand(2000, 1600), method="auto", max_rank=50)
    assert f.method == "randomized"
    assert tuple(f.U.shape) == (2000, 50) and tuple(f.S.shape) == (50,) and tuple(f.Vh.shape) == (50, 1600)


def test_randomized_needs_max_rank():
    with pytest.raises(RankError):
        factorize(torch.rand(20, 10), method="randomized")


def test_unknown_method_is_refused():
    with pytest.raises(ValueError):
        factorize(torch.rand(20, 10), method="lanczos")


@pytest.mark.parametrize(
    "bad",
    [
        torch.rand(2, 3, 4, 5),  # 4-D
        torch.rand(7),  # 1-D
        torch.tensor(3.0),  # 0-D
        torch.zeros(0, 4),  # empty
        torch.zeros(2, 0, 3),  # empty stack
        torch.tensor([[1.0, float("nan")], [0.0, 1.0]]),
        torch.tensor([[1.0, float("inf")], [0.0, 1.0]]),
        torch.tensor([[1e300, 0.0], [0.0, 1.0]], dtype=torch.float64),  # overflows float32
        torch.rand(3, 3, dtype=torch.complex64),
        np.ones((3, 3)),  # not a tensor
    ],
    ids=["4d", "1d", "0d", "empty", "empty-stack", "nan", "inf", "overflow", "complex", "numpy"],
)
def test_bad_inputs_raise_shape_error(bad):
    non_finite = isinstance(bad, torch.Tensor) and bad.numel() and not bad.is_complex() and not bool(
        torch.isfinite(bad.to(torch.float32)).all())
    with pytest.raises(NonFiniteError if non_finite else ShapeError):
        factorize(bad)


def test_errors_are_value_errors():
    assert issubclass(RankError, LowRankError) and issubclass(ShapeError, ValueError)


@pytest.mark.parametrize("dtype", DTYPES)
def test_computation_is_float32(dtype):
    f = factorize(torch.rand(10, 8, dtype=dtype))
    assert f.U.dtype == f.S.dtype == f.Vh.dtype == torch.float32
    assert f.total_energy.dtype == torch.float64


def test_choose_device_falls_back_to_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert choose_device("cuda") == torch.device("cpu")
    assert choose_device("auto") == torch.device("cpu")
    assert choose_device(None) == torch.device("cpu")
    f = factorize(torch.rand(5, 4), device="cuda")
    assert f.U.device.type == "cpu"


def test_choose_device_cpu_and_cuda_when_present():
    assert choose_device("cpu") == torch.device("cpu")
    assert choose_device(torch.device("cpu")) == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert choose_device("cuda").type == expected


def test_convergence_failure_falls_back_to_float64(monkeypatch):
    original = torch.linalg.svd
    calls = []

    def flaky_svd(A, *args, **kwargs):
        calls.append(A.dtype)
        if A.dtype == torch.float32 and calls.count(torch.float32) == 1:
            raise torch.linalg.LinAlgError("linalg.svd: The algorithm failed to converge (simulated)")
        return original(A, *args, **kwargs)

    monkeypatch.setattr(torch.linalg, "svd", flaky_svd)
    x = CASES["tall"]
    f = factorize(torch.from_numpy(x).float(), method="exact")
    assert calls == [torch.float32, torch.float64]
    assert f.S.dtype == torch.float32
    expected = np.linalg.svd(x, compute_uv=False)
    np.testing.assert_allclose(f.S.double().numpy(), expected, rtol=0, atol=1e-5 * expected.max())
    back = f.reconstruct(f.max_rank).double().numpy()
    assert np.linalg.norm(back - x) <= 1e-5 * np.linalg.norm(x)


def test_convergence_failure_everywhere_raises_convergence_error(monkeypatch):
    def broken_svd(A, *args, **kwargs):
        raise torch.linalg.LinAlgError("linalg.svd: The algorithm failed to converge (simulated)")

    monkeypatch.setattr(torch.linalg, "svd", broken_svd)
    with pytest.raises(ConvergenceError):
        factorize(torch.rand(8, 6), method="exact")


def test_factorization_is_frozen_and_knows_its_shape():
    f = factorize(torch.rand(3, 9, 7))
    assert isinstance(f, Factorization)
    assert f.shape == (3, 9, 7) and f.channels == 3 and f.max_rank == 7 and f.is_complete
    with pytest.raises(AttributeError):
        f.method = "randomized"


# ------------------------------------------------------------------------------- Eckart–Young property


@settings(max_examples=100, deadline=None)
@given(
    m=st.integers(1, 40),
    n=st.integers(1, 40),
    kind=st.sampled_from(["gaussian", "uniform", "low_rank", "decaying"]),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_truncation_error_equals_eckart_young(m, n, kind, seed, data):
    rng = np.random.default_rng(seed)
    k = min(m, n)
    if kind == "gaussian":
        x = rng.standard_normal((m, n))
    elif kind == "uniform":
        x = rng.random((m, n))
    elif kind == "low_rank":
        x = _rank_deficient(m, n, max(1, k // 3), rng)
    else:
        x = _with_spectrum(m, n, np.exp(-np.arange(k) / 3.0), rng)
    rank = data.draw(st.integers(0, k), label="rank")
    f = factorize(torch.from_numpy(x))
    result = truncation_error(torch.from_numpy(x), f, rank)

    S = np.linalg.svd(x, compute_uv=False)
    optimum = np.sqrt(np.sum(S[rank:] ** 2))
    norm = np.linalg.norm(x)
    tolerance = 1e-3 * optimum + 1e-5 * norm
    assert abs(result.frobenius - result.predicted_frobenius) <= tolerance
    assert abs(result.frobenius - optimum) <= tolerance
    assert abs(result.predicted_frobenius - optimum) <= tolerance
    # the truncation is the best rank-r approximation: numpy's own truncation is no better
    U, _, Vh = np.linalg.svd(x, full_matrices=False)
    numpy_truncation = (U[:, :rank] * S[:rank]) @ Vh[:rank]
    assert result.frobenius <= np.linalg.norm(x - numpy_truncation) + tolerance


# ------------------------------------------------------------------------------- randomized accuracy


@cache
def _decaying_600x500() -> np.ndarray:
    rng = np.random.default_rng(11)
    return _with_spectrum(600, 500, np.exp(-np.arange(500) / 30), rng)


@cache
def _noisy_low_rank_600x500() -> np.ndarray:
    rng = np.random.default_rng(12)
    signal = _with_spectrum(600, 500, np.linspace(10.0, 1.0, 20), rng)
    return signal + 0.01 * rng.standard_normal((600, 500))


@cache
def _numpy_singular_values(make) -> np.ndarray:
    return np.linalg.svd(make(), compute_uv=False)


@pytest.mark.parametrize("rank", [10, 50])
@pytest.mark.parametrize("make", [_decaying_600x500, _noisy_low_rank_600x500], ids=["decaying", "noisy"])
def test_randomized_error_is_within_one_percent_of_optimal(make, rank):
    x = make()
    f = factorize(torch.from_numpy(x), method="randomized", max_rank=rank)
    assert f.method == "randomized" and f.max_rank == rank
    error = np.linalg.norm(x - f.reconstruct(rank).double().numpy())
    S = _numpy_singular_values(make)
    optimum = np.sqrt(np.sum(S[rank:] ** 2))
    assert optimum <= error * (1 + 1e-4)  # nothing beats Eckart–Young (float32 slack)
    assert error <= 1.01 * optimum
    # and the leading singular values are those of numpy
    np.testing.assert_allclose(f.S.double().numpy()[:5], S[:5], rtol=1e-4)


def test_randomized_works_on_a_stack():
    rng = np.random.default_rng(5)
    x = np.stack([_with_spectrum(120, 90, np.exp(-np.arange(90) / 5), rng) for _ in range(3)])
    f = factorize(torch.from_numpy(x), method="randomized", max_rank=8)
    assert tuple(f.U.shape) == (3, 120, 8) and tuple(f.Vh.shape) == (3, 8, 90)
    np.testing.assert_allclose(f.S.double().numpy(), np.linalg.svd(x, compute_uv=False)[:, :8], rtol=1e-4)
    np.testing.assert_allclose(f.total_energy.numpy(), (x**2).sum(axis=(1, 2)), rtol=1e-6)


# ============================================================================================= entries


def _numpy_truncation(x: np.ndarray, rank: int) -> np.ndarray:
    """U_r diag(S_r) Vh_r by numpy's float64 SVD, per channel of a stack."""
    U, S, Vh = np.linalg.svd(x, full_matrices=False)
    return (U[..., :, :rank] * S[..., None, :rank]) @ Vh[..., :rank, :]


@pytest.mark.parametrize("name", sorted(CASES))
def test_entries_are_the_shown_block_of_the_numpy_truncation(name):
    x = CASES[name]
    m, n = x.shape[-2:]
    rng = np.random.default_rng(7)
    rows = rng.integers(0, m, size=min(m, 9))  # unsorted, with repeats
    cols = rng.integers(0, n, size=min(n, 6))
    f = factorize(torch.from_numpy(x))
    scale = max(float(np.abs(x).max()), 1e-30)
    for rank in sorted({0, 1, f.max_rank // 2, f.max_rank}):
        shown = f.entries(rank, rows, cols).double().numpy()  # (..., p, q)
        expected = _numpy_truncation(x, rank)[..., rows[:, None], cols[None, :]]  # numpy's ix_ block
        assert shown.shape == (*x.shape[:-2], len(rows), len(cols))
        np.testing.assert_allclose(shown, expected, rtol=0, atol=1e-4 * scale)


def test_entries_take_tensors_lists_and_empty_index_sets():
    x = torch.from_numpy(CASES["tall"]).float()
    f = factorize(x)
    rows, cols = torch.tensor([3, 0, 56]), [12, 1]
    block = f.reconstruct(5)[rows][:, cols]  # W_r formed in full, then indexed
    assert torch.allclose(f.entries(5, rows, cols), block, atol=1e-6)
    assert f.entries(5, [], cols).shape == (0, 2)
    assert f.entries(5, rows, range(0)).shape == (3, 0)


@pytest.mark.parametrize(
    "rows",
    [[1.5], [[0, 1]], [True], ["a"], None, [57], [-1], torch.tensor([0.0])],
    ids=["float", "2-D", "bool", "text", "none", "past-the-end", "negative", "float-tensor"],
)
def test_bad_entry_indices_are_refused(rows):
    f = factorize(torch.from_numpy(CASES["tall"]))
    with pytest.raises(ShapeError):
        f.entries(2, rows, [0])


def test_entries_check_the_rank():
    f = factorize(torch.from_numpy(CASES["tall"]))
    with pytest.raises(RankError):
        f.entries(f.max_rank + 1, [0], [0])
