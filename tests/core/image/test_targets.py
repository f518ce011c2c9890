"""lowrank_core.image.targets: rules that meet a target on the 8-bit image, checked with skimage and numpy on
the decoded pixels (not with the module's own measurement)."""

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from lowrank_core.errors import LowRankError
from lowrank_core.image import prepare_codec, reference_image, to_uint8
from lowrank_core.image.targets import ranks_for_energy, ranks_for_psnr
from tests.core.image.pictures import COLOUR, GREY

CASES = [(COLOUR, "rgb"), (COLOUR, "ycbcr"), (COLOUR, "luminance"), (GREY, "luminance")]


def _shown(codec, ranks, dtype) -> np.ndarray:
    """The 8-bit image at these ranks, as floats in [0, 1] (what the card and a written file hold)."""
    return to_uint8(codec.reconstruct(ranks, dtype=dtype)).numpy().astype(np.float64) / 255


@pytest.mark.parametrize(("pixels", "mode"), CASES)
@pytest.mark.parametrize("dtype", ["float32", "float16", "int8"])
@pytest.mark.parametrize("target", [22.0, 30.0, 38.0])
def test_the_psnr_rule_meets_its_target_on_the_8_bit_image(pixels, mode, dtype, target):
    codec = prepare_codec(pixels, mode)
    reference = reference_image(pixels, mode)
    rule = ranks_for_psnr(codec, reference, target, dtype=dtype)
    truth = reference.double().numpy()
    measured = peak_signal_noise_ratio(truth, _shown(codec, rule.ranks, dtype), data_range=1)
    assert rule.met and measured >= target
    assert measured == pytest.approx(rule.value, abs=1e-4)
    if len(rule.ranks) == 1 and rule.ranks[0] > 1:  # the smallest rank that does
        below = peak_signal_noise_ratio(truth, _shown(codec, (rule.ranks[0] - 1,), dtype), data_range=1)
        assert below < target


@pytest.mark.parametrize(("pixels", "mode"), CASES)
@pytest.mark.parametrize("fraction", [0.99, 0.999])
def test_the_energy_rule_meets_its_share_on_the_8_bit_image(pixels, mode, fraction):
    codec = prepare_codec(pixels, mode)
    reference = reference_image(pixels, mode)
    rule = ranks_for_energy(codec, reference, fraction, dtype="float16")
    truth = reference.double().numpy()
    shown = _shown(codec, rule.ranks, "float16")
    share = 1 - np.sum((truth - shown) ** 2) / np.sum(truth**2)
    assert rule.met and share >= fraction and share == pytest.approx(rule.value, abs=1e-9)
    if len(rule.ranks) == 1 and rule.ranks[0] > 1:
        smaller = _shown(codec, (rule.ranks[0] - 1,), "float16")
        assert 1 - np.sum((truth - smaller) ** 2) / np.sum(truth**2) < fraction


def test_a_target_beyond_reach_says_so_and_gives_the_largest_ranks():
    codec = prepare_codec(COLOUR, "ycbcr")
    rule = ranks_for_psnr(codec, reference_image(COLOUR, "ycbcr"), 90.0, dtype="int8")
    assert not rule.met and rule.ranks == (codec.max_rank, codec.max_rank) and rule.value < 90


@pytest.mark.parametrize("target", [0.0, -3.0, math.nan, math.inf])
def test_the_psnr_rule_refuses_a_bad_target(target):
    codec = prepare_codec(GREY, "luminance")
    with pytest.raises(LowRankError):
        ranks_for_psnr(codec, reference_image(GREY, "luminance"), target)


@pytest.mark.parametrize("fraction", [0.0, 1.5, math.nan])
def test_the_energy_rule_refuses_a_bad_share(fraction):
    codec = prepare_codec(GREY, "luminance")
    with pytest.raises(LowRankError):
        ranks_for_energy(codec, reference_image(GREY, "luminance"), fraction)
