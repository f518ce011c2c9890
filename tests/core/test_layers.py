"""LowRankLinear, compress_model and LoRA, checked against NumPy float64 SVDs, closed forms and nn.Linear."""

import io

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from lowrank_core import layers as layers_module
from lowrank_core.errors import LowRankError, RankError, ShapeError
from lowrank_core.factorize import factorize
from lowrank_core.layers import (
    LayerReport,
    LoRALinear,
    LowRankLinear,
    apply_lora,
    compress_model,
    effective_weights,
    layer_error,
    layer_factorizations,
    sample_inputs,
    trainable_parameters,
    weight_spectra,
)

EPS32 = float(np.finfo(np.float32).eps)


def seeded_linear(in_features, out_features, *, seed=0, bias=True):
    """An nn.Linear with weights from a local generator (normal, so no two singular values coincide)."""
    generator = torch.Generator().manual_seed(seed)
    linear = nn.Linear(in_features, out_features, bias=bias)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(out_features, in_features, generator=generator))
        if bias:
            linear.bias.copy_(torch.randn(out_features, generator=generator))
    return linear


def numpy_singular_values(weight):
    """The oracle: LAPACK float64 singular values of a weight."""
    return np.linalg.svd(weight.detach().double().numpy(), compute_uv=False)


def mlp(seed=0, sizes=(12, 16, 8, 5)):
    """A small seeded ReLU MLP."""
    generator = torch.Generator().manual_seed(seed)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        linear = nn.Linear(fan_in, fan_out)
        with torch.no_grad():
            linear.weight.copy_(torch.randn(fan_out, fan_in, generator=generator) / fan_in**0.5)
            linear.bias.copy_(0.1 * torch.randn(fan_out, generator=generator))
        layers += [linear, nn.ReLU()]
    return nn.Sequential(*layers[:-1])


# ================================================================================== LowRankLinear


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (16, 16), (40, 7)])
@pytest.mark.parametrize("bias", [True, False])
def test_from_linear_at_full_rank_reproduces_the_dense_layer(shape, bias):
    out_features, in_features = shape
    linear = seeded_linear(in_features, out_features, bias=bias)
    low = LowRankLinear.from_linear(linear, min(shape))
    x = torch.randn(9, in_features, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(low(x), linear(x), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(low.weight(), linear.weight, atol=1e-5, rtol=1e-5)


def test_from_linear_stores_the_notebook_factors():
    linear = seeded_linear(7, 6)
    low = LowRankLinear.from_linear(linear, 3)
    assert low.a.shape == (6, 3) and low.b.shape == (3, 7)
    # b = Vh_r has orthonormal rows; a = U_r diag(S_r) has orthogonal columns of norms σ_1..σ_r.
    np.testing.assert_allclose((low.b @ low.b.T).detach().numpy(), np.eye(3), atol=1e-5)
    column_norms = torch.linalg.vector_norm(low.a, dim=0).detach().double().numpy()
    np.testing.assert_allclose(column_norms, numpy_singular_values(linear.weight)[:3], rtol=1e-5)
    assert torch.equal(low.bias, linear.bias)


def test_forward_is_a_of_b_x_plus_bias():
    low = LowRankLinear(6, 4, 2)
    x = torch.randn(3, 6, generator=torch.Generator().manual_seed(2))
    expected = x.double().numpy() @ low.b.detach().double().numpy().T @ low.a.detach().double().numpy().T
    expected += low.bias.detach().double().numpy()
    np.testing.assert_allclose(low(x).detach().double().numpy(), expected, rtol=1e-5, atol=1e-5)
    assert low(torch.randn(2, 5, 6)).shape == (2, 5, 4)  # leading batch dimensions pass through


@given(
    out_features=st.integers(1, 12),
    in_features=st.integers(1, 12),
    rank_fraction=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**31 - 1),
    scale=st.sampled_from([1e-3, 1.0, 1e3]),
)
def test_output_error_is_bounded_by_the_next_singular_value(out_features, in_features, rank_fraction, seed,
                                                           scale):
    """‖(W − W_r)x‖ ≤ σ_{r+1}‖x‖ for every input, σ from NumPy's float64 SVD of W."""
    limit = min(out_features, in_features)
    rank = 1 + int(rank_fraction * (limit - 1))
    generator = torch.Generator().manual_seed(seed)
    linear = nn.Linear(in_features, out_features)
    with torch.no_grad():
        linear.weight.copy_(scale * torch.randn(out_features, in_features, generator=generator))
        linear.bias.copy_(torch.randn(out_features, generator=generator))
    x = torch.randn(16, in_features, generator=generator)
    S = numpy_singular_values(linear.weight)
    sigma_next = S[rank] if rank < limit else 0.0
    low = LowRankLinear.from_linear(linear, rank)
    with torch.no_grad():
        error = torch.linalg.vector_norm((linear(x) - low(x)).double(), dim=1).numpy()
    x_norm = torch.linalg.vector_norm(x.double(), dim=1).numpy()
    bias_norm = float(torch.linalg.vector_norm(linear.bias.detach().double()))
    rounding = 64 * EPS32 * (S[0] * x_norm + bias_norm) * max(out_features, in_features) ** 0.5
    assert np.all(error <= sigma_next * x_norm + rounding)


def test_bound_is_reached_at_the_next_right_singular_vector():
    linear = seeded_linear(10, 8, seed=3, bias=False)
    _, S, Vh = np.linalg.svd(linear.weight.detach().double().numpy())
    rank = 3
    x = torch.tensor(Vh[rank], dtype=torch.float32)[None]  # (1, n), unit norm
    low = LowRankLinear.from_linear(linear, rank)
    with torch.no_grad():
        error = float(torch.linalg.vector_norm(linear(x) - low(x)))
    assert error == pytest.approx(S[rank], rel=1e-4)


def test_state_dict_round_trip(tmp_path):
    low = LowRankLinear.from_linear(seeded_linear(9, 5), 3)
    path = tmp_path / "low.pt"
    torch.save(low.state_dict(), path)
    fresh = LowRankLinear(9, 5, 3)
    assert not torch.equal(fresh.a, low.a)
    fresh.load_state_dict(torch.load(path, weights_only=True))
    assert set(fresh.state_dict()) == {"a", "b", "bias"}
    x = torch.randn(4, 9)
    assert torch.equal(fresh(x), low(x))


def test_compressed_model_state_dict_round_trip():
    compressed, _ = compress_model(mlp(), rank=3)
    buffer = io.BytesIO()
    torch.save(compressed.state_dict(), buffer)
    buffer.seek(0)
    other, _ = compress_model(mlp(seed=9), rank=3)
    other.load_state_dict(torch.load(buffer, weights_only=True))
    x = torch.randn(5, 12)
    assert torch.equal(other(x), compressed(x))


def test_extra_repr_and_parameter_count():
    low = LowRankLinear(64, 32, 4)
    assert "in_features=64, out_features=32, rank=4, bias=True" in repr(low)
    assert low.parameter_count() == 4 * (64 + 32) + 32
    assert LowRankLinear(64, 32, 4, bias=False).parameter_count() == 4 * 96


@pytest.mark.parametrize("rank", [0, -1, 6, 2.5, True, "3", float("nan")])
def test_low_rank_linear_rejects_bad_ranks(rank):
    with pytest.raises(RankError):
        LowRankLinear(5, 8, rank)


def test_rank_error_message_names_the_limit():
    with pytest.raises(RankError, match=r"min\(out_features, in_features\) = 5.*got 6"):
        LowRankLinear.from_linear(nn.Linear(5, 8), 6)


def test_from_linear_rejects_other_modules():
    with pytest.raises(LowRankError, match="nn.Linear"):
        LowRankLinear.from_linear(nn.Conv1d(3, 3, 1), 1)


def test_bad_sizes_raise_shape_error():
    with pytest.raises(ShapeError):
        LowRankLinear(0, 4, 1)


# ================================================================================== compress_model


def test_one_layer_model_error_is_within_the_reported_bound():
    model = nn.Sequential(seeded_linear(20, 12, seed=4))
    rank = 5
    compressed, reports = compress_model(model, rank=rank)
    (report,) = reports
    S = numpy_singular_values(model[0].weight)
    assert isinstance(compressed[0], LowRankLinear)
    assert report.spectral_bound == pytest.approx(S[rank], rel=1e-5)
    assert report.energy_kept == pytest.approx((S[:rank] ** 2).sum() / (S**2).sum(), rel=1e-6)
    assert (report.rank, report.requested_rank, report.shape, report.factored) == (5, 5, (12, 20), True)
    assert report.parameters_before == 12 * 20 + 12
    assert report.parameters_after == rank * (12 + 20) + 12
    x = torch.randn(32, 20, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        error = torch.linalg.vector_norm((model(x) - compressed(x)).double(), dim=1)
    bound = report.spectral_bound * torch.linalg.vector_norm(x.double(), dim=1)
    assert torch.all(error <= bound * (1 + 1e-5) + 1e-4)
    assert float((error / bound).max()) > 0.3  # the bound is not vacuous for random inputs


def test_compress_at_full_rank_equals_the_original_and_error_shrinks_with_rank():
    model = mlp()
    x = torch.randn(64, 12, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        reference = model(x)
        errors = []
        for rank in (1, 3, 6, 12):  # 12 is the full rank of every layer (12→16: 12, 16→8: 8, 8→5: 5)
            compressed, reports = compress_model(model, rank=rank, dense_fallback=False)
            assert all(r.factored for r in reports)
            errors.append(float(torch.linalg.vector_norm(compressed(x) - reference)))
    torch.testing.assert_close(compressed(x), reference, atol=1e-4, rtol=1e-4)
    assert errors[0] > errors[1] > errors[2] > errors[3]


def test_compress_model_leaves_the_input_untouched():
    model = mlp()
    before = {name: p.clone() for name, p in model.state_dict().items()}
    compress_model(model, rank=2)
    assert all(isinstance(model[i], nn.Linear) for i in (0, 2, 4))
    assert all(torch.equal(before[name], p) for name, p in model.state_dict().items())


def test_rank_above_min_is_clipped_with_a_note():
    model = nn.Sequential(seeded_linear(30, 4))
    compressed, (report,) = compress_model(model, rank=9, dense_fallback=False)
    assert (report.rank, report.requested_rank) == (4, 9)
    assert "clipped" in report.note
    assert compressed[0].rank == 4


def test_layer_larger_factored_than_dense_is_kept_dense():
    model = nn.Sequential(seeded_linear(10, 10))  # break-even rank 5
    compressed, (report,) = compress_model(model, rank=5)
    assert type(compressed[0]) is nn.Linear and not report.factored
    assert "kept dense" in report.note
    assert report.parameters_after == report.parameters_before == 110
    assert (report.energy_kept, report.spectral_bound) == (1.0, 0.0)
    assert torch.equal(compressed[0].weight, model[0].weight)
    _, (below,) = compress_model(model, rank=4)
    assert below.factored and below.parameters_after == 4 * 20 + 10


def test_energy_target_picks_the_smallest_rank_per_layer():
    model = mlp()
    _, reports = compress_model(model, energy=0.8, dense_fallback=False)
    for report, index in zip(reports, (0, 2, 4), strict=True):
        S = numpy_singular_values(model[index].weight)
        kept = np.cumsum(S**2) / (S**2).sum()
        expected = int(np.argmax(kept >= 0.8)) + 1
        assert report.rank == expected
        assert report.energy_kept >= 0.8 - 1e-9


def test_compress_only_named_layers():
    model = mlp()
    compressed, reports = compress_model(model, rank=2, layers=["2"])
    assert [r.name for r in reports] == ["2"]
    assert isinstance(compressed[2], LowRankLinear)
    assert isinstance(compressed[0], nn.Linear) and isinstance(compressed[4], nn.Linear)
    with pytest.raises(LowRankError, match="no linear layer named"):
        compress_model(model, rank=2, layers=["7"])


def test_a_bare_linear_model_is_replaced():
    compressed, (report,) = compress_model(seeded_linear(8, 6), rank=2)
    assert isinstance(compressed, LowRankLinear) and report.name == ""


@pytest.mark.parametrize("kwargs, error", [
    ({}, LowRankError),
    ({"rank": 2, "energy": 0.9}, LowRankError),
    ({"rank": 0}, RankError),
    ({"rank": 1.5}, RankError),
    ({"energy": 0.0}, LowRankError),
    ({"energy": 1.5}, LowRankError),
])
def test_compress_model_validates_its_options(kwargs, error):
    with pytest.raises(error):
        compress_model(mlp(), **kwargs)


def test_compress_model_needs_a_linear_layer():
    with pytest.raises(LowRankError, match="no torch.nn.Linear"):
        compress_model(nn.Sequential(nn.ReLU()), rank=1)


def test_layer_report_is_frozen():
    _, (report,) = compress_model(nn.Sequential(seeded_linear(8, 6)), rank=2)
    assert isinstance(report, LayerReport)
    with pytest.raises(AttributeError):
        report.rank = 3


def test_given_factorizations_are_used_instead_of_a_new_svd(monkeypatch):
    model = mlp()
    factorizations = layer_factorizations(model)
    expected, expected_reports = compress_model(model, energy=0.8, dense_fallback=False)

    def no_svd(*args, **kwargs):
        raise AssertionError("a weight was factorized again")

    monkeypatch.setattr(layers_module, "factorize", no_svd)
    compressed, reports = compress_model(model, energy=0.8, dense_fallback=False,
                                         factorizations=factorizations)
    assert reports == expected_reports
    x = torch.randn(5, 12, generator=torch.Generator().manual_seed(3))
    assert torch.equal(compressed(x), expected(x))


def _first_weight_svd(**options):
    """An SVD of mlp()'s first weight (16, 12), with ``factorize`` options."""
    return factorize(mlp()[0].weight.detach(), **options)


@pytest.mark.parametrize("factorizations, error", [
    ([("0", None)], LowRankError),  # not a mapping
    ({"9": None}, LowRankError),  # no such layer
    ({"0": "svd"}, ShapeError),
    ({"0": factorize(torch.ones(12, 16))}, ShapeError),  # the transposed shape
    ({"0": _first_weight_svd(max_rank=3)}, ShapeError),  # truncated: σ beyond rank 3 unknown
])
def test_bad_factorizations_are_refused(factorizations, error):
    with pytest.raises(error):
        compress_model(mlp(), rank=2, factorizations=factorizations)


# ============================================================================================ LoRA


def test_lora_starts_equal_to_the_base():
    base = seeded_linear(12, 7)
    lora = LoRALinear(base, 3, alpha=6.0)
    assert torch.count_nonzero(lora.lora_B) == 0 and torch.count_nonzero(lora.lora_A) > 0
    x = torch.randn(5, 12)
    with torch.no_grad():
        assert torch.equal(lora(x), base(x))


def test_lora_init_and_shapes():
    base = seeded_linear(12, 7)
    lora = LoRALinear(base, 3, generator=torch.Generator().manual_seed(0))
    assert lora.lora_A.shape == (3, 12) and lora.lora_B.shape == (7, 3)
    assert float(lora.lora_A.detach().abs().max()) <= 1 / 12**0.5  # kaiming-uniform, a = √5: bound 1/√fan_in
    assert lora.scale == 1.0  # alpha defaults to the rank
    assert not any(p.requires_grad for p in base.parameters())
    again = LoRALinear(seeded_linear(12, 7), 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again.lora_A, lora.lora_A)


def test_one_training_step_lowers_the_loss_and_keeps_the_base():
    base = seeded_linear(12, 7, seed=8)
    frozen = {name: p.clone() for name, p in base.state_dict().items()}
    lora = LoRALinear(base, 2, alpha=4.0, generator=torch.Generator().manual_seed(1))
    generator = torch.Generator().manual_seed(9)
    x, target = torch.randn(32, 12, generator=generator), torch.randn(32, 7, generator=generator)
    optimizer = torch.optim.SGD([p for p in lora.parameters() if p.requires_grad], lr=0.05)
    losses = []
    for _ in range(2):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(lora(x), target)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[1] < losses[0]
    assert torch.count_nonzero(lora.lora_B) > 0
    assert all(torch.equal(frozen[name], p) for name, p in base.state_dict().items())


def test_merged_weight_is_base_plus_scaled_b_a():
    base = seeded_linear(9, 6)
    lora = LoRALinear(base, 3, alpha=1.5)
    with torch.no_grad():
        lora.lora_B.copy_(torch.randn(6, 3, generator=torch.Generator().manual_seed(2)))
    A, B = lora.lora_A.detach().double().numpy(), lora.lora_B.detach().double().numpy()
    expected = base.weight.detach().double().numpy() + (1.5 / 3) * B @ A
    np.testing.assert_allclose(lora.merged_weight().detach().double().numpy(), expected, rtol=1e-5, atol=1e-6)
    x = torch.randn(4, 9)
    with torch.no_grad():
        merged = x.double().numpy() @ expected.T + base.bias.detach().double().numpy()
    np.testing.assert_allclose(lora(x).detach().double().numpy(), merged, rtol=1e-5, atol=1e-5)
    assert np.linalg.matrix_rank(lora.delta_weight().detach().double().numpy(), tol=1e-5) == 3


@pytest.mark.parametrize("in_features, out_features, rank", [(12, 7, 1), (64, 128, 8), (64, 10, 4)])
def test_trainable_parameters_closed_form(in_features, out_features, rank):
    lora = LoRALinear(nn.Linear(in_features, out_features), rank)
    assert lora.trainable_parameters() == rank * (in_features + out_features)
    assert trainable_parameters(lora) == rank * (in_features + out_features)


def test_apply_lora_wraps_every_linear_of_a_copy():
    model = mlp()  # 12 → 16 → 8 → 5
    before = {name: p.clone() for name, p in model.state_dict().items()}
    adapted = apply_lora(model, 6, alpha=12.0)
    assert all(isinstance(adapted[i], LoRALinear) for i in (0, 2, 4))
    # rank clipped per layer to min(in, out): 6, 6, 5
    assert trainable_parameters(adapted) == 6 * (12 + 16) + 6 * (16 + 8) + 5 * (8 + 5)
    assert all(p.requires_grad for p in model.parameters())  # the original is untouched
    assert all(torch.equal(before[name], p) for name, p in model.state_dict().items())
    x = torch.randn(3, 12)
    with torch.no_grad():
        assert torch.equal(adapted(x), model(x))
    names = set(effective_weights(adapted))
    assert names == {"0", "2", "4"}


@pytest.mark.parametrize("alpha", [0, -1.0, float("inf"), "2"])
def test_lora_rejects_bad_alpha(alpha):
    with pytest.raises(LowRankError):
        LoRALinear(nn.Linear(4, 4), 2, alpha=alpha)


def test_lora_rejects_bad_rank_and_base():
    with pytest.raises(RankError):
        LoRALinear(nn.Linear(4, 3), 4)
    with pytest.raises(LowRankError):
        LoRALinear(nn.ReLU(), 1)
    with pytest.raises(RankError):
        apply_lora(mlp(), 0)


# ==================================================================================== effective weights


def test_effective_weights_and_spectra_across_kinds():
    model = mlp()
    compressed, _ = compress_model(model, rank=3, dense_fallback=False)
    weights = effective_weights(compressed)
    assert set(weights) == {"0", "2", "4"}
    assert np.linalg.matrix_rank(weights["0"].double().numpy(), tol=1e-4) == 3
    spectra = weight_spectra(model)
    for name, index in (("0", 0), ("2", 2), ("4", 4)):
        np.testing.assert_allclose(spectra[name].numpy(), numpy_singular_values(model[index].weight),
                                   rtol=1e-10)


# ========================================================================================= layer lab


@pytest.mark.parametrize("shape, rank", [((30, 20), 4), ((8, 50), 5), ((16, 16), 1)])
def test_layer_error_matches_a_numpy_oracle(shape, rank):
    out_features, in_features = shape
    weight = torch.randn(shape, generator=torch.Generator().manual_seed(7))
    bias = torch.randn(out_features, generator=torch.Generator().manual_seed(8))
    x = sample_inputs(40, in_features, seed=3)
    result = layer_error(weight, bias, factorize(weight), rank, x)

    W, X = weight.double().numpy(), x.double().numpy()
    U, S, Vh = np.linalg.svd(W, full_matrices=False)
    W_r = (U[:, :rank] * S[:rank]) @ Vh[:rank]
    difference = X @ (W - W_r).T  # the bias cancels
    z = X @ W.T + bias.double().numpy()
    sigma_next = S[rank] if rank < min(shape) else 0.0
    assert result.bound == pytest.approx(sigma_next, rel=1e-5)
    assert result.max_abs_error == pytest.approx(np.abs(difference).max(), rel=1e-3)
    assert result.relative_error == pytest.approx(np.linalg.norm(difference) / np.linalg.norm(z), rel=1e-3)
    ratios = np.linalg.norm(difference, axis=1) / (sigma_next * np.linalg.norm(X, axis=1))
    assert result.worst_ratio == pytest.approx(ratios.max(), rel=1e-3)
    assert 0 < result.worst_ratio <= 1
    assert result.z.shape == result.z_r.shape == (40, out_features)


def test_layer_error_at_full_rank_is_rounding_only():
    weight = torch.randn(8, 50, generator=torch.Generator().manual_seed(7))
    result = layer_error(weight, torch.ones(8), factorize(weight), 8, sample_inputs(16, 50, seed=2))
    assert result.bound == 0.0
    assert result.relative_error < 1e-5
    assert result.worst_ratio <= 1.0  # measured against the rounding allowance alone


def test_layer_error_on_an_exact_low_rank_weight_stays_within_rounding():
    generator = torch.Generator().manual_seed(0)
    weight = torch.rand(40, 4, generator=generator) @ torch.rand(4, 30, generator=generator)  # rank 4
    result = layer_error(weight, None, factorize(weight), 4, sample_inputs(64, 30, seed=1))
    assert result.worst_ratio <= 1.0
    assert result.relative_error < 1e-5


def test_layer_error_validates_shapes():
    weight = torch.randn(5, 4)
    with pytest.raises(ShapeError):
        layer_error(weight, None, factorize(weight), 2, torch.randn(3, 5))
    with pytest.raises(RankError):
        layer_error(weight, None, factorize(weight), 5, torch.randn(3, 4))


def test_sample_inputs_do_not_repeat_a_weight_drawn_with_the_same_seed():
    weight = torch.randn(32, 8, generator=torch.Generator().manual_seed(0))  # as sources.random_full_rank
    x = sample_inputs(32, 8, seed=0)
    assert torch.cdist(x, weight).min() > 1e-3  # no input equals a row of the weight


def test_sample_inputs_are_seeded():
    assert torch.equal(sample_inputs(4, 3, seed=5), sample_inputs(4, 3, seed=5))
    assert not torch.equal(sample_inputs(4, 3, seed=5), sample_inputs(4, 3, seed=6))
    with pytest.raises(LowRankError):
        sample_inputs(0, 3)
