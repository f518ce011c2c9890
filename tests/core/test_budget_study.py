"""The digits MLP under a parameter budget: compression by an allocation, and the study over seeds."""

import pytest
import torch
from torch import nn

from lowrank_core.allocation import allocate_ranks
from lowrank_core.budget_study import compress_with_allocation, digits_budget_study, model_spectra
from lowrank_core.errors import LowRankError
from lowrank_core.layers import LowRankLinear
from lowrank_core.training import make_mlp


def test_model_spectra_name_weights_as_the_state_dict():
    spectra = model_spectra(make_mlp())
    assert [s.name for s in spectra] == ["0.weight", "2.weight", "4.weight"]
    assert [s.shape for s in spectra] == [(128, 64), (64, 128), (10, 64)]
    W = make_mlp()[0].weight.detach().double()
    torch.testing.assert_close(spectra[0].S, torch.linalg.svdvals(W), rtol=1e-5, atol=1e-6)


def test_compress_with_allocation_puts_the_best_rank_r_weights_in_place():
    model = make_mlp(seed=1)
    allocation = allocate_ranks(model_spectra(model), fraction=0.2)
    compressed = compress_with_allocation(model, allocation)
    for layer in allocation.layers:
        module = compressed.get_submodule(layer.name.removesuffix(".weight"))
        if not layer.factored:
            assert isinstance(module, nn.Linear)
            continue
        assert isinstance(module, LowRankLinear) and module.rank == layer.rank
        W = model.get_submodule(layer.name.removesuffix(".weight")).weight.detach().double()
        error = torch.linalg.matrix_norm(W - module.weight().detach().double()) ** 2
        assert float(error) == pytest.approx(layer.squared_error, rel=1e-4)
    assert isinstance(model[0], nn.Linear)  # the input model is untouched


def test_the_study_covers_every_allocation_budget_and_fine_tune():
    study = digits_budget_study(fractions=(0.1, 0.4), seeds=(0, 1), train_epochs=8, finetune_epochs=2)
    assert len(study.points) == 3 * 2 * 2 and study.dense_parameters == 128 * 64 + 64 * 128 + 10 * 64
    assert len(study.dense_accuracies) == 2 and min(study.dense_accuracies) > 0.8
    for point in study.points:
        assert len(point.accuracies) == 2 and all(0.0 <= a <= 1.0 for a in point.accuracies)
        assert point.minimum <= point.mean <= point.maximum and point.std >= 0
        assert all(p <= point.fraction * study.dense_parameters for p in point.parameters)
    for fraction in (0.1, 0.4):
        greedy = study.point("greedy", fraction)
        for name in ("uniform", "energy"):
            other = study.point(name, fraction)
            pairs = zip(greedy.relative_errors, other.relative_errors, strict=True)
            assert all(g <= o + 1e-12 for g, o in pairs)
    tuned, raw = study.point("greedy", 0.1, finetuned=True), study.point("greedy", 0.1)
    assert tuned.mean >= raw.mean - 0.02  # fine-tuning the factors does not lose the compressed accuracy


def test_the_study_refuses_a_budget_outside_zero_one():
    with pytest.raises(LowRankError, match="fractions"):
        digits_budget_study(fractions=(0.0,), seeds=(0,), train_epochs=1, finetune_epochs=0)


def test_the_study_refuses_an_unknown_allocation():
    with pytest.raises(LowRankError, match="allocations"):
        digits_budget_study(allocations=("random",), seeds=(0,), train_epochs=1)
