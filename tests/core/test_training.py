"""The digits, the MLP and its fine-tunes: shipped data, accuracy, seeding, and the low rank of ΔW.

The MLP is trained once for the module (about a second) and its fine-tunes once each.
"""

import gzip

import numpy as np
import pytest
import torch
from torch import nn

from lowrank_core.errors import LowRankError, ShapeError
from lowrank_core.layers import LoRALinear
from lowrank_core.training import (
    DIGITS_LICENSE_PATH,
    DIGITS_PATH,
    accuracy,
    compression_sweep,
    delta_spectrum,
    finetune_full,
    finetune_lora,
    load_digits,
    make_mlp,
    mirror_digits,
    parameter_count,
    split_digits,
    train_mlp,
)

# Class counts of the UCI optdigits test set, as published on the dataset's UCI page.
UCI_TEST_CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
MLP_PARAMETERS = (64 * 128 + 128) + (128 * 64 + 64) + (64 * 10 + 10)


@pytest.fixture(scope="module")
def split():
    return split_digits(seed=0)


@pytest.fixture(scope="module")
def trained(split):
    fractions = []
    result = train_mlp(split, seed=0, progress=fractions.append)
    return result, fractions


@pytest.fixture(scope="module")
def full(trained, split):
    return finetune_full(trained[0].model, split.mirrored(), seed=0)


@pytest.fixture(scope="module")
def lora4(trained, split):
    return finetune_lora(trained[0].model, 4, split.mirrored(), seed=0)


# ============================================================================================= digits


def test_digits_load_with_the_published_shape_and_classes():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == torch.float32
    assert y.shape == (1797,) and y.dtype == torch.int64
    assert float(X.min()) == 0.0 and float(X.max()) == 1.0
    assert torch.bincount(y).tolist() == UCI_TEST_CLASS_COUNTS


def test_digits_are_the_csv_divided_by_16():
    with gzip.open(DIGITS_PATH, "rt") as handle:
        first = [int(cell) for cell in handle.readline().split(",")]
    X, y = load_digits()
    np.testing.assert_array_equal(X[0].numpy() * 16, np.array(first[:64], dtype=np.float32))
    assert int(y[0]) == first[64] == 0


def test_digits_licence_file_is_shipped():
    text = DIGITS_LICENSE_PATH.read_text(encoding="utf-8")
    assert "CC BY 4.0" in text and "Alpaydin" in text and "Kaynak" in text
    assert "10.24432/C50P49" in text


def test_load_digits_returns_fresh_tensors():
    X, _ = load_digits()
    X[0, 0] = 99.0
    assert float(load_digits()[0][0, 0]) != 99.0


def test_split_is_seeded_and_disjoint(split):
    assert len(split.y_train) == 1348 and len(split.y_test) == 449
    again = split_digits(seed=0)
    assert torch.equal(again.X_test, split.X_test)
    assert not torch.equal(split_digits(seed=1).y_test, split.y_test)
    X, _ = load_digits()
    rows = {tuple(row) for row in X.numpy().tolist()}
    assert len(rows) > 1700  # nearly all images are distinct, so row membership identifies the split
    train_rows = {tuple(row) for row in split.X_train.numpy().tolist()}
    test_rows = {tuple(row) for row in split.X_test.numpy().tolist()}
    assert len(train_rows & test_rows) <= 1797 - len(rows)
    with pytest.raises(LowRankError):
        split_digits(test_fraction=1.0)


def test_mirror_flips_each_row_of_the_image():
    X, _ = load_digits()
    mirrored = mirror_digits(X[:5])
    images = X[:5].numpy().reshape(5, 8, 8)
    np.testing.assert_array_equal(mirrored.numpy().reshape(5, 8, 8), images[:, :, ::-1])
    assert torch.equal(mirror_digits(mirrored), X[:5])
    with pytest.raises(ShapeError):
        mirror_digits(torch.zeros(3, 63))


# ================================================================================================ MLP


def test_mlp_reaches_95_percent_on_held_out_digits(trained):
    result, _ = trained
    assert result.test_accuracy >= 0.95
    assert result.trainable_parameters == MLP_PARAMETERS == parameter_count(result.model)
    assert [type(m) for m in result.model] == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]
    assert result.losses[-1] < result.losses[0]


def test_progress_reports_each_epoch_up_to_one(trained):
    result, fractions = trained
    assert len(fractions) == result.epochs
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_accuracy_matches_a_numpy_argmax(trained, split):
    model = trained[0].model
    with torch.no_grad():
        logits = model(split.X_test).double().numpy()
    expected = float(np.mean(np.argmax(logits, axis=1) == split.y_test.numpy()))
    assert accuracy(model, split.X_test, split.y_test) == expected
    with pytest.raises(ShapeError):
        accuracy(model, split.X_test, split.y_test[:3])


def test_make_mlp_is_seeded_and_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    first, second, other = make_mlp(seed=3), make_mlp(seed=3), make_mlp(seed=4)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values(),
                                                 strict=True))
    assert not torch.equal(first[0].weight, other[0].weight)
    assert float(first[0].weight.detach().abs().max()) <= 1 / 8  # U(±1/√64)


def test_training_validates_its_options(split):
    with pytest.raises(LowRankError):
        train_mlp(split, epochs=0)
    with pytest.raises(LowRankError):
        train_mlp(split, lr=-1.0)
    with pytest.raises(LowRankError):
        train_mlp(split, batch_size=0)


# ========================================================================================= fine-tunes


def test_the_mirrored_task_is_shifted(trained, split):
    mirrored = split.mirrored()
    assert accuracy(trained[0].model, mirrored.X_test, mirrored.y_test) < 0.6


def test_full_finetune_adapts_and_leaves_the_base(trained, split, full):
    base = trained[0].model
    mirrored = split.mirrored()
    assert full.test_accuracy >= 0.9
    assert full.trainable_parameters == MLP_PARAMETERS
    assert base is not full.model
    assert accuracy(base, split.X_test, split.y_test) == trained[0].test_accuracy  # base unchanged
    assert accuracy(base, mirrored.X_test, mirrored.y_test) < full.test_accuracy


def test_lora_finetune_trains_only_the_adapters(trained, split, lora4):
    base = trained[0].model
    assert all(isinstance(lora4.model[i], LoRALinear) for i in (0, 2, 4))
    assert lora4.trainable_parameters == 4 * (64 + 128) + 4 * (128 + 64) + 4 * (64 + 10)
    for index in (0, 2, 4):
        assert torch.equal(lora4.model[index].base.weight, base[index].weight)  # frozen copy of the base
        assert lora4.model[index].base.weight is not base[index].weight
    assert lora4.test_accuracy >= 0.85
    assert accuracy(base, split.X_test, split.y_test) == trained[0].test_accuracy


def test_delta_spectrum_is_far_lower_rank_than_the_base(trained, full):
    spectra = delta_spectrum(trained[0].model, full.model, energy=0.9)
    assert [s.name for s in spectra] == ["0", "2", "4"]
    for spectrum, index in zip(spectra, (0, 2, 4), strict=True):
        W_base = trained[0].model[index].weight.detach().double().numpy()
        W_tuned = full.model[index].weight.detach().double().numpy()
        expected_delta = np.linalg.svd(W_tuned - W_base, compute_uv=False)
        np.testing.assert_allclose(spectrum.delta_S.numpy(), expected_delta, rtol=1e-9, atol=1e-12)
        base_S = np.linalg.svd(W_base, compute_uv=False)
        expected = int(np.argmax(np.cumsum(base_S**2) / np.sum(base_S**2) >= 0.9)) + 1
        assert spectrum.base_energy_rank == expected
    hidden = spectra[:2]  # the 64×128 and 128×64 layers, rank up to 64
    for spectrum in hidden:
        assert spectrum.delta_energy_rank * 2 <= spectrum.base_energy_rank
    assert spectra[2].delta_energy_rank <= spectra[2].base_energy_rank


def test_delta_spectrum_of_a_lora_model_has_rank_at_most_r(trained, lora4):
    spectra = delta_spectrum(trained[0].model, lora4.model)
    for spectrum in spectra:
        tail = spectrum.delta_S.numpy()[4:]
        assert np.all(tail <= 1e-5 * spectrum.delta_S.numpy()[0])


def test_delta_spectrum_needs_matching_layers(trained):
    with pytest.raises(ShapeError):
        delta_spectrum(trained[0].model, make_mlp(hidden=(128,)))


# ================================================================================== compression sweep


def test_compression_sweep_ends_at_the_dense_accuracy(trained, split):
    model = trained[0].model
    points = compression_sweep(model, split.X_test, split.y_test, [1, 10, 64], scopes=["all", "4"])
    by_key = {(p.scope, p.rank): p for p in points}
    assert set(by_key) == {("all", 1), ("all", 10), ("all", 64), ("4", 1), ("4", 10)}  # layer 4 is 10 wide
    assert by_key[("all", 64)].accuracy == pytest.approx(trained[0].test_accuracy, abs=1 / 449 + 1e-12)
    assert by_key[("4", 10)].accuracy == pytest.approx(trained[0].test_accuracy, abs=1 / 449 + 1e-12)
    assert by_key[("all", 1)].accuracy < 0.5
    # closed-form parameter counts: r(out + in) + out per layer, rank clipped to min(out, in)
    assert by_key[("all", 1)].parameters == (192 + 128) + (192 + 64) + (74 + 10)
    assert by_key[("4", 1)].parameters == MLP_PARAMETERS - 640 + 74
    with pytest.raises(LowRankError):
        compression_sweep(model, split.X_test, split.y_test, [1], scopes=["9"])
