"""Tests of lowrank_core.sources.generators: the seeded generators against numpy's SVD, the registry and
its checks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lowrank_core.errors import InputError
from lowrank_core.sources import (
    GENERATORS,
    decaying_spectrum,
    generate,
    hilbert,
    identity,
    noisy_low_rank,
    notebook_2x3,
    notebook_matrix,
    random_full_rank,
)
from tests.core.sources.helpers import _float32_rank, _singular_values

SEEDED = [
    lambda seed: notebook_matrix(seed=seed),
    lambda seed: noisy_low_rank(seed=seed),
    lambda seed: decaying_spectrum(seed=seed),
    lambda seed: random_full_rank(seed=seed),
]


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: notebook_matrix(), (15, 15)),
        (lambda: notebook_matrix(7, 9, 3), (7, 9)),
        (lambda: noisy_low_rank(), (200, 200)),
        (lambda: noisy_low_rank(30, 20, 5), (30, 20)),
        (lambda: decaying_spectrum(), (100, 100)),
        (lambda: decaying_spectrum(40, 60, decay="power"), (40, 60)),
        (lambda: hilbert(), (10, 10)),
        (lambda: identity(4), (4, 4)),
        (lambda: random_full_rank(), (50, 50)),
        (lambda: random_full_rank(1, 3), (1, 3)),
        (lambda: notebook_2x3(), (2, 3)),
    ],
)
def test_generator_shape_and_dtype(make, shape):
    x = make()
    assert tuple(x.shape) == shape
    assert x.dtype == torch.float32
    assert torch.isfinite(x).all()


@pytest.mark.parametrize("make", SEEDED)
def test_seeded_generators_are_deterministic_and_seed_dependent(make):
    assert torch.equal(make(0), make(0))
    assert torch.equal(make(123), make(123))
    assert not torch.equal(make(0), make(1))


def test_generators_leave_the_global_rng_alone():
    torch.manual_seed(42)
    expected = torch.rand(3)
    torch.manual_seed(42)
    notebook_matrix(seed=5)
    noisy_low_rank(seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_notebook_matrix_has_rank_k():
    assert _float32_rank(notebook_matrix()) == 4
    assert _float32_rank(notebook_matrix(20, 30, 7, seed=3)) == 7
    assert (notebook_matrix() > 0).all()


def test_noisy_low_rank_has_its_signal_above_the_noise_edge():
    m = n = 200
    s = _singular_values(noisy_low_rank(m, n, 10, noise_sigma=0.01))
    edge = 0.01 * (math.sqrt(m) + math.sqrt(n))  # largest singular value of the noise, asymptotically
    assert (s[:10] > 3 * edge).all()
    assert s[10] < 1.1 * edge
    # with no noise the singular values are exactly the documented 10 .. 1
    clean = _singular_values(noisy_low_rank(m, n, 10, noise_sigma=0.0))
    np.testing.assert_allclose(clean[:10], np.linspace(10, 1, 10), rtol=1e-5)
    assert clean[10] < 1e-5


@pytest.mark.parametrize(
    "decay, rate, expected",
    [
        ("exponential", 0.1, lambda i: np.exp(-0.1 * i)),
        ("exponential", 0.05, lambda i: np.exp(-0.05 * i)),
        ("power", 1.0, lambda i: (i + 1.0) ** -1.0),
        ("power", 0.5, lambda i: (i + 1.0) ** -0.5),
    ],
)
def test_decaying_spectrum_has_the_requested_singular_values(decay, rate, expected):
    s = _singular_values(decaying_spectrum(100, 80, decay=decay, rate=rate, seed=2))
    np.testing.assert_allclose(s, expected(np.arange(80)), rtol=1e-4)


def test_hilbert_matches_scipy_or_the_closed_form():
    try:
        from scipy.linalg import hilbert as reference
    except ImportError:  # closed form H_ij = 1 / (i + j + 1)
        def reference(n):
            return 1.0 / (np.arange(n)[:, None] + np.arange(n)[None, :] + 1.0)
    np.testing.assert_allclose(hilbert(12).numpy(), reference(12), rtol=1e-7)


def test_small_fixed_matrices():
    assert torch.equal(identity(3), torch.eye(3))
    assert notebook_2x3().tolist() == [[2, 0, 0], [1, 2, 3]]


@pytest.mark.parametrize(
    "call, needle",
    [
        (lambda: notebook_matrix(0, 5), "m must be between 1 and 2000; got 0"),
        (lambda: notebook_matrix(5, 2001), "n must be between 1 and 2000; got 2001"),
        (lambda: notebook_matrix(5, 5, -1), "k must be between"),
        (lambda: notebook_matrix(2.5, 5), "m must be a whole number; got 2.5"),
        (lambda: notebook_matrix(True, 5), "m must be a whole number"),
        (lambda: notebook_matrix(seed=-1), "seed must be between"),
        (lambda: notebook_matrix(seed="x"), "seed must be a whole number"),
        (lambda: noisy_low_rank(10, 10, 11), "rank must be at most min(m, n) = 10; got 11"),
        (lambda: noisy_low_rank(noise_sigma=-0.1), "noise_sigma must be between"),
        (lambda: noisy_low_rank(noise_sigma=float("nan")), "noise_sigma"),
        (lambda: decaying_spectrum(decay="linear"), "decay must be 'exponential' or 'power'; got 'linear'"),
        (lambda: decaying_spectrum(rate=-1), "rate must be between 0 and 10; got -1"),
        (lambda: hilbert(0), "n must be between"),
        (lambda: identity(10_000), "got 10000"),
        (lambda: random_full_rank(3, None), "n must be a whole number; got None"),
    ],
)
def test_generator_validation_names_the_value(call, needle):
    with pytest.raises(InputError) as info:
        call()
    assert needle in str(info.value)


@pytest.mark.parametrize("name", list(GENERATORS))
def test_every_registered_generator_works_with_its_defaults(name):
    spec = GENERATORS[name]
    assert spec.name == name and spec.label and spec.description
    defaults = {p.name: p.default for p in spec.params}
    x = generate(name, **defaults)
    assert x.ndim == 2 and x.dtype == torch.float32 and torch.isfinite(x).all()
    assert torch.equal(x, generate(name))  # the spec's defaults are the function's defaults
    for p in spec.params:
        assert p.kind in ("int", "float")
        assert p.minimum <= p.default <= p.maximum
    if spec.seeded:
        assert torch.equal(generate(name, seed=7), generate(name, seed=7))


def test_generate_passes_parameters():
    x = generate("notebook", m=6, n=8, k=2, seed=1)
    assert torch.equal(x, notebook_matrix(6, 8, 2, seed=1))
    assert torch.equal(generate("decay-power", rate=2.0), decaying_spectrum(decay="power", rate=2.0))
    assert torch.equal(generate("notebook", m=6.0), notebook_matrix(6))  # a float from a widget


@pytest.mark.parametrize(
    "name, params, needle",
    [
        ("nope", {}, "Unknown generator 'nope'"),
        ("hilbert", {"m": 3}, "has no setting 'm'"),
        ("hilbert", {"seed": 3}, "has no setting 'seed'"),
        ("notebook", {"m": 0}, "m must be between 1 and 2000; got 0"),
        ("noisy-low-rank", {"noise_sigma": 5.0}, "noise_sigma must be between 0 and 1; got 5"),
        ("notebook", {"k": "four"}, "k must be a whole number; got 'four'"),
    ],
)
def test_generate_refuses_unknown_names_and_bad_values(name, params, needle):
    with pytest.raises(InputError) as info:
        generate(name, **params)
    assert needle in str(info.value)
