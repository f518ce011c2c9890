"""Checkpoints: reading (safetensors, torch state dicts, limits, pickles refused), inspecting against numpy
float64, exporting factored safetensors and loading them back."""

import io
import json
import pathlib
import pickle
import struct
import zipfile

import numpy as np
import pytest
import safetensors.torch
import torch
from torch import nn

from lowrank_core.allocation import allocate_ranks
from lowrank_core.checkpoint import (
    FACTORED_METADATA_KEY,
    FORMAT_METADATA_KEY,
    RANK_PATTERN_METADATA_KEY,
    Checkpoint,
    CheckpointError,
    CheckpointLimits,
    FactoredModule,
    curve_ranks,
    digits_mlp_activations,
    export_factored,
    inspect_checkpoint,
    inspect_weight,
    layer_inputs,
    load_factored,
    rank_pattern_json,
    read_checkpoint,
    weight_detail,
    weight_timing,
)
from lowrank_core.errors import (
    EmptyInputError,
    InputError,
    LowRankError,
    RankError,
    TooLargeError,
    UnsafeFileError,
    UnsupportedFormatError,
)
from lowrank_core.layers import LowRankLinear
from lowrank_core.training import make_mlp


def _torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class _TouchMarker:
    """Unpickling this calls ``pathlib.Path.touch(marker)``: the proof that code ran."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


# ============================================================================================== reading


def test_the_issue_example_linear_state_dict_is_read():
    """torch.save(nn.Linear(768, 768).state_dict()) was refused by the matrix loader ("exactly one")."""
    checkpoint = read_checkpoint(_torch_bytes(nn.Linear(768, 768).state_dict()), name="linear.pt")
    assert checkpoint.source_format == "torch"
    assert checkpoint.weights == ("weight",)
    assert set(checkpoint.tensors) == {"weight", "bias"} and checkpoint.skipped == ()


def test_nested_dicts_are_flattened_to_dotted_names_and_non_tensors_noted():
    state = {"model": {"encoder": {"fc": {"weight": torch.ones(4, 3)}}, "head": [torch.ones(2, 5)]},
             "epoch": 7, "optimizer": {"lr": 0.1}}
    checkpoint = read_checkpoint(_torch_bytes(state), name="nested.pt")
    assert checkpoint.weights == ("model.encoder.fc.weight", "model.head.0")
    assert any("'epoch'" in notice and "'optimizer.lr'" in notice for notice in checkpoint.notices)


def test_the_bias_beside_a_weight_is_found():
    checkpoint = read_checkpoint(_torch_bytes(nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2, bias=False))
                                              .state_dict()))
    assert torch.equal(checkpoint.bias("0.weight"), checkpoint.tensors["0.bias"])
    assert checkpoint.bias("1.weight") is None


def test_a_single_tensor_file_is_named_weight():
    checkpoint = read_checkpoint(_torch_bytes(torch.ones(3, 4)), name="t.pt")
    assert checkpoint.weights == ("weight",) and "named 'weight'" in checkpoint.notices[0]


def test_safetensors_is_read_with_its_metadata():
    tensors = {"fc.weight": torch.randn(6, 5, generator=_generator()), "fc.bias": torch.zeros(6)}
    data = safetensors.torch.save(tensors, metadata={"note": "hello"})
    checkpoint = read_checkpoint(data, name="m.safetensors")
    assert checkpoint.source_format == "safetensors" and checkpoint.metadata == {"note": "hello"}
    assert checkpoint.weights == ("fc.weight",)
    assert torch.equal(checkpoint.tensors["fc.weight"], tensors["fc.weight"])


def test_safetensors_names_come_in_natural_order():
    tensors = {f"layers.{i}.weight": torch.ones(2, 2) for i in (10, 2, 1)}
    checkpoint = read_checkpoint(safetensors.torch.save(tensors))
    assert checkpoint.weights == ("layers.1.weight", "layers.2.weight", "layers.10.weight")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_every_float_dtype_is_a_candidate(dtype):
    checkpoint = read_checkpoint(safetensors.torch.save({"w": torch.ones(4, 3, dtype=dtype)}))
    assert checkpoint.weights == ("w",)
    assert inspect_checkpoint(checkpoint).weights[0].dtype == str(dtype).removeprefix("torch.")


def test_which_tensors_are_candidates():
    tensors = {
        "matrix": torch.ones(3, 4),
        "conv": torch.ones(8, 3, 3, 3),
        "depthwise": torch.ones(8, 1, 3, 3),
        "column": torch.ones(5, 1),  # a side of 1: not a weight
        "row": torch.ones(1, 5),
        "bias": torch.ones(5),
        "scalar": torch.tensor(2.0),
        "ids": torch.ones(4, 4, dtype=torch.int64),  # weight-shaped, not floating point
        "flags": torch.ones(2, 2, dtype=torch.bool),
    }
    checkpoint = read_checkpoint(safetensors.torch.save(tensors))
    assert set(checkpoint.weights) == {"matrix", "conv", "depthwise"}
    assert {s.name: s.reason for s in checkpoint.skipped} == {
        "ids": "int64 is not float16, bfloat16, float32 or float64",
        "flags": "bool is not float16, bfloat16, float32 or float64",
    }
    assert tuple(checkpoint.matrix("conv").shape) == (8, 27)  # (out, in·kh·kw)


def test_a_weight_with_nan_is_skipped_with_its_reason():
    weight = torch.ones(3, 3)
    weight[1, 2] = float("nan")
    checkpoint = read_checkpoint(safetensors.torch.save({"bad": weight, "good": torch.ones(3, 3)}))
    assert checkpoint.weights == ("good",)
    assert checkpoint.skipped[0].reason == "it holds NaN or infinite values"


def test_a_float64_weight_beyond_float32_is_skipped():
    huge = torch.full((3, 3), 1e39, dtype=torch.float64)
    checkpoint = read_checkpoint(safetensors.torch.save({"huge": huge}))
    assert checkpoint.weights == () and "overflow float32" in checkpoint.skipped[0].reason


def test_an_all_zero_weight_is_inspected_allocated_and_exported():
    checkpoint = read_checkpoint(safetensors.torch.save({"zero": torch.zeros(6, 5), "w": torch.eye(6, 5)}))
    inspection = inspect_checkpoint(checkpoint)
    zero = next(weight for weight in inspection.weights if weight.name == "zero")
    assert (zero.numerical_rank, zero.stable_rank, zero.rank_energy_99, zero.optimal_hard_threshold_rank) == (
        0, 0.0, 0, 0)
    allocation = allocate_ranks(inspection.spectra(), fraction=0.5)
    exported = export_factored(checkpoint, allocation)
    assert all(layer.relative_error == 0.0 for layer in exported.layers if layer.name == "zero")
    detail = weight_detail("zero", checkpoint.tensors["zero"])
    assert float(detail.relative_error.max()) == 0.0 and float(detail.output_relative_error.max()) == 0.0


# ================================================================================================ limits


def test_a_weight_over_the_entry_limit_is_skipped_not_fatal():
    limits = CheckpointLimits(max_weight_entries=100)
    data = safetensors.torch.save({"big": torch.ones(20, 10), "small": torch.ones(5, 5)})
    checkpoint = read_checkpoint(data, limits=limits)
    assert checkpoint.weights == ("small",)
    assert checkpoint.skipped[0].name == "big" and "200 entries" in checkpoint.skipped[0].reason


def test_weights_past_the_total_entry_limit_are_skipped():
    tensors = {f"w{i}": torch.ones(10, 10) for i in range(4)}
    limits = CheckpointLimits(max_total_entries=250)
    checkpoint = read_checkpoint(safetensors.torch.save(tensors), limits=limits)
    assert checkpoint.weights == ("w0", "w1")
    assert [s.name for s in checkpoint.skipped] == ["w2", "w3"]
    assert "already hold 200 entries" in checkpoint.skipped[0].reason


def test_weights_past_the_weight_count_limit_are_skipped():
    tensors = {f"w{i}": torch.ones(3, 3) for i in range(5)}
    checkpoint = read_checkpoint(safetensors.torch.save(tensors), limits=CheckpointLimits(max_weights=3))
    assert len(checkpoint.weights) == 3 and "first 3 weights" in checkpoint.skipped[0].reason


def test_a_safetensors_file_of_too_many_tensors_is_refused():
    tensors = {f"t{i}": torch.ones(2) for i in range(12)}
    with pytest.raises(TooLargeError, match="12 tensors; the limit is 10"):
        read_checkpoint(safetensors.torch.save(tensors), limits=CheckpointLimits(max_tensors=10))


def test_a_torch_file_of_too_many_tensors_is_refused():
    data = _torch_bytes({f"t{i}": torch.ones(2) for i in range(100)})
    with pytest.raises(TooLargeError, match="stored arrays"):
        read_checkpoint(data, limits=CheckpointLimits(max_tensors=10))


def test_a_file_over_the_byte_limit_is_refused_unread():
    data = safetensors.torch.save({"w": torch.ones(64, 64)})
    with pytest.raises(TooLargeError, match="limit for a checkpoint"):
        read_checkpoint(data, name="big.safetensors", limits=CheckpointLimits(max_file_bytes=1000))


def test_the_default_byte_limit_admits_a_4096_square_float32_weight():
    limits = CheckpointLimits()
    assert limits.max_file_bytes >= 4096 * 4096 * 4 and limits.max_weight_entries >= 4096**2


def test_a_zip_bomb_is_refused_before_torch_inflates_it():
    """A torch.save zip whose stored data, deflated, inflates past the byte limit."""
    original = _torch_bytes({"w": torch.zeros(512, 512)})  # 1 MiB of zeros
    source = zipfile.ZipFile(io.BytesIO(original))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bomb:
        for entry in source.infolist():
            bomb.writestr(entry.filename, source.read(entry.filename))
    data = buffer.getvalue()
    assert len(data) < 50_000
    with pytest.raises(TooLargeError, match="inflates to 1.0 MB"):
        read_checkpoint(data, name="bomb.pt", limits=CheckpointLimits(max_file_bytes=100_000))


def test_bad_limits_are_refused():
    with pytest.raises(LowRankError, match="max_tensors"):
        CheckpointLimits(max_tensors=0)


# =============================================================================================== pickles


def test_the_pickle_payload_is_armed(tmp_path):
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(_TouchMarker(marker)))  # noqa: S301 - proving the payload works
    assert marker.exists()


@pytest.mark.parametrize("name", ["payload.pt", "payload.bin", "payload.pth"])
def test_a_pickled_payload_in_a_torch_zip_is_refused_and_never_runs(tmp_path, name):
    marker = tmp_path / "ran"
    data = _torch_bytes({"weight": torch.ones(2, 2), "payload": _TouchMarker(marker)})
    with pytest.raises(UnsafeFileError, match="could run code"):
        read_checkpoint(data, name=name)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_a_bare_pickle_named_bin_is_refused_and_never_runs(tmp_path, protocol):
    marker = tmp_path / "ran"
    data = pickle.dumps({"weight": [[1.0]], "payload": _TouchMarker(marker)}, protocol=protocol)
    with pytest.raises(UnsafeFileError, match="bare Python pickle"):
        read_checkpoint(data, name="pytorch_model.bin")
    assert not marker.exists()


# ========================================================================================== bad files


def test_an_empty_file_is_refused():
    with pytest.raises(EmptyInputError, match="'e.pt' is empty"):
        read_checkpoint(b"", name="e.pt")


def test_text_is_not_a_checkpoint():
    with pytest.raises(UnsupportedFormatError, match="neither a .safetensors file nor a torch.save zip"):
        read_checkpoint(b"hello, this is text", name="x.safetensors")


def test_a_truncated_safetensors_is_a_checkpoint_error():
    data = safetensors.torch.save({"w": torch.ones(8, 8)})
    with pytest.raises(CheckpointError, match="could not be read as safetensors"):
        read_checkpoint(data[:-10], name="cut.safetensors")


def test_a_header_longer_than_the_file_is_a_checkpoint_error():
    with pytest.raises(CheckpointError, match="truncated"):
        read_checkpoint(struct.pack("<Q", 10_000) + b'{"a": 1}', name="h.safetensors")


def test_a_header_that_is_not_json_is_a_checkpoint_error():
    with pytest.raises(CheckpointError, match="not valid JSON"):
        read_checkpoint(struct.pack("<Q", 5) + b"{oops", name="h.safetensors")


def test_a_truncated_torch_zip_is_a_checkpoint_error():
    data = _torch_bytes({"w": torch.ones(8, 8)})
    with pytest.raises(CheckpointError):
        read_checkpoint(data[: len(data) // 2], name="cut.pt")


def test_every_refusal_is_an_input_error():
    assert issubclass(CheckpointError, InputError)


# =========================================================================== inspecting, against numpy


def _low_rank_plus_noise(m: int, n: int, rank: int, noise: float, seed: int = 0) -> torch.Tensor:
    g = _generator(seed)
    return (torch.randn(m, rank, generator=g) @ torch.randn(rank, n, generator=g)
            + noise * torch.randn(m, n, generator=g))


def test_weight_summary_matches_numpy_float64():
    W = _low_rank_plus_noise(60, 40, 5, 0.01)
    summary = inspect_weight("w", W)
    A = W.double().numpy()
    S = np.linalg.svd(A, compute_uv=False)
    assert summary.method == "exact" and summary.S.numel() == 40
    np.testing.assert_allclose(summary.S.numpy(), S, rtol=1e-4, atol=1e-4 * S[0])
    assert summary.numerical_rank == np.linalg.matrix_rank(W.numpy())  # float32 tolerance, as torch's
    assert summary.stable_rank == pytest.approx((A**2).sum() / S[0] ** 2, rel=1e-5)
    energy = np.cumsum(S**2) / (S**2).sum()
    assert summary.rank_energy_90 == int(np.argmax(energy >= 0.9)) + 1
    assert summary.rank_energy_99 == int(np.argmax(energy >= 0.99)) + 1
    assert summary.optimal_hard_threshold_rank == 5  # the noise floor is far below the 5 signal values
    assert summary.break_even_rank == pytest.approx(60 * 40 / 100)
    assert summary.frobenius_norm == pytest.approx(np.linalg.norm(A), rel=1e-6)


def test_a_conv_kernel_is_inspected_as_out_by_in_kh_kw():
    kernel = torch.randn(16, 3, 3, 3, generator=_generator())
    summary = inspect_weight("conv", kernel)
    assert summary.shape == (16, 3, 3, 3) and summary.matrix_shape == (16, 27)
    S = np.linalg.svd(kernel.reshape(16, 27).double().numpy(), compute_uv=False)
    np.testing.assert_allclose(summary.S.numpy(), S, rtol=1e-4)


def test_a_large_weight_gets_the_randomized_svd_and_says_so():
    W = _low_rank_plus_noise(300, 200, 8, 1e-3)
    summary = inspect_weight("w", W, exact_max_entries=1000, randomized_rank=40)
    assert summary.method == "randomized" and summary.S.numel() == 40
    S = np.linalg.svd(W.double().numpy(), compute_uv=False)
    np.testing.assert_allclose(summary.S.numpy()[:8], S[:8], rtol=1e-4)
    assert summary.optimal_hard_threshold_rank is None  # needs the full spectrum
    assert summary.rank_energy_99 == int(np.argmax(np.cumsum(S**2) / (S**2).sum() >= 0.99)) + 1
    assert summary.numerical_rank_lower_bound  # all 40 computed values are above the float32 tolerance
    assert summary.spectral_norm == pytest.approx(S[0], rel=1e-5)


def test_inspect_checkpoint_covers_every_weight_and_counts_the_others():
    model = nn.Sequential(nn.Linear(12, 8), nn.LayerNorm(8), nn.Linear(8, 3))
    checkpoint = read_checkpoint(_torch_bytes(model.state_dict()))
    fractions = []
    inspection = inspect_checkpoint(checkpoint, progress=fractions.append)
    assert [w.name for w in inspection.weights] == ["0.weight", "2.weight"]
    assert inspection.other_tensors == 4 and fractions == [0.5, 1.0]
    assert inspection.parameters == 12 * 8 + 8 * 3
    assert json.dumps([w.row() for w in inspection.weights])  # JSON-ready


def test_curve_ranks_cover_zero_to_k():
    ranks = curve_ranks(300, count=20)
    assert ranks[0] == 0 and ranks[-1] == 300 and set(range(9)) <= set(ranks) and len(ranks) < 40


def test_weight_detail_errors_match_numpy_float64():
    g = _generator(2)
    W = torch.randn(50, 30, generator=g) @ torch.diag(torch.logspace(0, -2, 30))
    bias = torch.randn(50, generator=g)
    X = torch.randn(64, 30, generator=g)
    detail = weight_detail("w", W, bias=bias, inputs=X, ranks=[0, 1, 5, 10, 29, 30])
    A, B, Xn = W.double().numpy(), bias.double().numpy(), X.double().numpy()
    U, S, Vh = np.linalg.svd(A, full_matrices=False)
    Z = Xn @ A.T + B
    for i, r in enumerate(detail.ranks):
        W_r = (U[:, :r] * S[:r]) @ Vh[:r]
        expected = np.linalg.norm(A - W_r) / np.linalg.norm(A)
        assert detail.relative_error[i] == pytest.approx(expected, abs=2e-6)
        assert detail.predicted_relative_error[i] == pytest.approx(expected, abs=2e-6)
        Z_r = Xn @ W_r.T + B
        assert detail.output_relative_error[i] == pytest.approx(np.linalg.norm(Z - Z_r) / np.linalg.norm(Z),
                                                                abs=2e-6)
    assert float(detail.output_worst_ratio.max()) <= 1.0 + 1e-6  # ‖(W − W_r)x‖ <= σ_{r+1}‖x‖
    assert detail.inputs == "given" and detail.batch == 64
    assert detail.energy[0] == 0 and detail.energy[-1] == pytest.approx(1.0)


def test_weight_detail_draws_seeded_random_inputs():
    W = torch.randn(10, 20, generator=_generator())
    first, second = weight_detail("w", W), weight_detail("w", W)
    assert first.inputs == "random normal" and torch.equal(first.output_relative_error,
                                                           second.output_relative_error)


def test_weight_detail_refuses_ranks_out_of_range():
    with pytest.raises(RankError, match="0..5"):
        weight_detail("w", torch.ones(5, 8), ranks=[0, 6])


def test_the_digits_mlp_gets_its_own_activations():
    model = make_mlp(seed=1)
    checkpoint = read_checkpoint(_torch_bytes(model.state_dict()))
    X, source = layer_inputs(checkpoint, "2.weight")
    assert source == "digits activations" and X.shape[1] == 128 and (X >= 0).all()  # after a ReLU
    wrapped = read_checkpoint(_torch_bytes({"model": model.state_dict()}))
    assert layer_inputs(wrapped, "model.4.weight")[1] == "digits activations"
    other = read_checkpoint(_torch_bytes(nn.Linear(6, 4).state_dict()))
    assert layer_inputs(other, "weight")[1] == "random normal"
    assert digits_mlp_activations(other.tensors) is None


def test_weight_timing_runs_at_the_weight_shape():
    timings = weight_timing((32, 48), ranks=[2, 8], min_run_time=0.01)
    assert [(t.out_features, t.in_features, t.rank) for t in timings] == [(32, 48, 2), (32, 48, 8)]


# ================================================================================================ export


def _mixed_checkpoint(dtype=torch.float32) -> Checkpoint:
    g = _generator(4)
    tensors = {
        "fc.weight": torch.randn(40, 24, generator=g).to(dtype),
        "fc.bias": torch.randn(40, generator=g).to(dtype),
        "conv.weight": torch.randn(16, 4, 3, 3, generator=g).to(dtype),
        "norm.weight": torch.ones(40, dtype=dtype),
        "steps": torch.tensor([3], dtype=torch.int64),
        "head.weight": torch.randn(5, 40, generator=g).to(dtype),
    }
    return read_checkpoint(safetensors.torch.save(tensors), name="mixed.safetensors")


def test_export_holds_factors_others_unchanged_and_metadata():
    checkpoint = _mixed_checkpoint()
    exported = export_factored(checkpoint, {"fc.weight": 6, "conv.weight": 4})
    back = read_checkpoint(exported.data, name="out.safetensors")
    assert tuple(back.tensors["fc.weight.a"].shape) == (40, 6)
    assert tuple(back.tensors["fc.weight.b"].shape) == (6, 24)
    assert tuple(back.tensors["conv.weight.a"].shape) == (16, 4)
    assert tuple(back.tensors["conv.weight.b"].shape) == (4, 36)  # r × in·kh·kw
    assert "fc.weight" not in back.tensors and "conv.weight" not in back.tensors
    for name in ("fc.bias", "norm.weight", "steps", "head.weight"):
        assert torch.equal(back.tensors[name], checkpoint.tensors[name])
    assert back.metadata[FORMAT_METADATA_KEY] == "factored-v1"
    assert json.loads(back.metadata[FACTORED_METADATA_KEY]) == {
        "fc.weight": {"shape": [40, 24], "rank": 6, "dtype": "float32"},
        "conv.weight": {"shape": [16, 4, 3, 3], "rank": 4, "dtype": "float32"},
    }
    assert json.loads(back.metadata[RANK_PATTERN_METADATA_KEY]) == {"fc.weight": 6, "conv.weight": 4}
    assert json.loads(rank_pattern_json(exported.rank_pattern)) == {"fc.weight": 6, "conv.weight": 4}


def test_exported_factors_are_the_best_rank_r_approximation_by_numpy():
    checkpoint = _mixed_checkpoint()
    exported = export_factored(checkpoint, {"fc.weight": 6})
    back = read_checkpoint(exported.data)
    product = (back.tensors["fc.weight.a"] @ back.tensors["fc.weight.b"]).double().numpy()
    A = checkpoint.tensors["fc.weight"].double().numpy()
    U, S, Vh = np.linalg.svd(A, full_matrices=False)
    np.testing.assert_allclose(product, (U[:, :6] * S[:6]) @ Vh[:6], atol=1e-4)  # float32 SVD
    layer = next(layer for layer in exported.layers if layer.name == "fc.weight")
    assert layer.relative_error == pytest.approx(np.sqrt((S[6:] ** 2).sum() / (S**2).sum()), rel=1e-5)
    assert layer.parameters_after == 6 * (40 + 24)
    assert exported.parameters_before == 40 * 24 + 16 * 36 + 5 * 40


def test_export_keeps_the_weight_dtype():
    exported = export_factored(_mixed_checkpoint(torch.float16), {"fc.weight": 3})
    back = read_checkpoint(exported.data)
    assert back.tensors["fc.weight.a"].dtype == torch.float16
    assert back.tensors["fc.bias"].dtype == torch.float16


def test_export_takes_an_allocation():
    checkpoint = _mixed_checkpoint()
    allocation = allocate_ranks(inspect_checkpoint(checkpoint).spectra(), fraction=0.3)
    exported = export_factored(checkpoint, allocation)
    assert exported.rank_pattern == allocation.rank_pattern
    assert exported.parameters_after == allocation.parameters_after


def test_the_export_reloads_into_a_module_whose_outputs_are_a_at_b():
    checkpoint = _mixed_checkpoint()
    exported = export_factored(checkpoint, {"fc.weight": 6, "conv.weight": 4})
    back = read_checkpoint(exported.data)
    module = load_factored(exported.data)
    assert isinstance(module, FactoredModule)
    assert module.factored_layers == {"fc.weight": "fc", "conv.weight": "conv"}
    assert module.original_shapes["conv.weight"] == (16, 4, 3, 3)
    x = torch.randn(7, 24, generator=_generator(9))
    a, b = back.tensors["fc.weight.a"], back.tensors["fc.weight.b"]
    assert isinstance(module.fc, LowRankLinear) and module.fc.rank == 6
    torch.testing.assert_close(module.fc(x), x @ (a @ b).T + back.tensors["fc.bias"], rtol=1e-5, atol=1e-5)
    patches = torch.randn(7, 36, generator=_generator(10))
    a, b = back.tensors["conv.weight.a"], back.tensors["conv.weight.b"]
    torch.testing.assert_close(module.conv(patches), patches @ (a @ b).T, rtol=1e-5, atol=1e-5)
    assert torch.equal(module.head.weight, checkpoint.tensors["head.weight"])
    assert torch.equal(module.steps, checkpoint.tensors["steps"])


def test_the_export_reloads_into_the_original_architecture():
    model = make_mlp(seed=2)
    checkpoint = read_checkpoint(_torch_bytes(model.state_dict()))
    exported = export_factored(checkpoint, {"0.weight": 8, "4.weight": 3})
    loaded = load_factored(exported.data, model=model)
    assert isinstance(loaded[0], LowRankLinear) and isinstance(loaded[2], nn.Linear)
    assert isinstance(loaded[4], LowRankLinear) and loaded[4].rank == 3
    back = read_checkpoint(exported.data)
    x = torch.rand(11, 64, generator=_generator(3))
    h = torch.relu(x @ (back.tensors["0.weight.a"] @ back.tensors["0.weight.b"]).T + back.tensors["0.bias"])
    h = torch.relu(h @ back.tensors["2.weight"].T + back.tensors["2.bias"])
    z = h @ (back.tensors["4.weight.a"] @ back.tensors["4.weight.b"]).T + back.tensors["4.bias"]
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), z, rtol=1e-5, atol=1e-5)
    assert isinstance(model[0], nn.Linear)  # the given model is untouched


def test_loading_a_file_that_is_not_an_export_is_refused():
    data = safetensors.torch.save({"w": torch.ones(3, 3)})
    with pytest.raises(CheckpointError, match="not a factored checkpoint"):
        load_factored(data, name="plain.safetensors")


def test_loading_an_export_into_the_wrong_model_is_refused():
    exported = export_factored(read_checkpoint(_torch_bytes(make_mlp().state_dict())), {"0.weight": 4})
    with pytest.raises(CheckpointError, match="does not fit the model"):
        load_factored(exported.data, model=make_mlp(hidden=(32, 64)))


def test_a_rank_above_the_weight_side_is_refused():
    with pytest.raises(RankError, match="between 1 and 24"):
        export_factored(_mixed_checkpoint(), {"fc.weight": 25})


def test_an_unknown_weight_is_refused():
    with pytest.raises(LowRankError, match="'fc.bias' is not an analysed weight"):
        export_factored(_mixed_checkpoint(), {"fc.bias": 1})


def test_the_reloaded_module_computes_numpy_float64_a_at_b_read_without_lowrank_core():
    """Oracle: the exported file read by safetensors' own numpy reader, the network evaluated in float64."""
    from safetensors.numpy import load as load_arrays

    model = make_mlp(seed=5)
    checkpoint = read_checkpoint(_torch_bytes(model.state_dict()))
    allocation = allocate_ranks(inspect_checkpoint(checkpoint).spectra(), fraction=0.3)
    assert allocation.rank_pattern  # something is factored
    exported = export_factored(checkpoint, allocation)
    arrays = {key: value.astype(np.float64) for key, value in load_arrays(exported.data).items()}
    x = np.random.default_rng(4).normal(size=(13, 64))
    h = x
    for index, prefix in enumerate(("0", "2", "4")):
        key = f"{prefix}.weight"
        if key in allocation.rank_pattern:
            assert key not in arrays and arrays[key + ".a"].shape[1] == allocation.rank_pattern[key]
            W = arrays[key + ".a"] @ arrays[key + ".b"]  # (out, in), float64
        else:
            W = arrays[key]
        h = h @ W.T + arrays[f"{prefix}.bias"]
        if index < 2:
            h = np.maximum(h, 0.0)
    loaded = load_factored(exported.data, model=model)
    with torch.no_grad():
        out = loaded(torch.from_numpy(x).float()).double().numpy()
    np.testing.assert_allclose(out, h, rtol=1e-4, atol=1e-5)
