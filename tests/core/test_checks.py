"""The shared validators of lowrank_core._checks: each raises the error class its caller names, with the
message that caller wrote before they were shared."""

import numpy as np
import pytest
import torch

from lowrank_core._checks import is_whole, quote, real_number, whole_number, whole_value
from lowrank_core.errors import InputError, RankError, ShapeError


@pytest.mark.parametrize("error", [InputError, RankError, ShapeError])
def test_whole_number_raises_the_given_class(error):
    with pytest.raises(error, match=r"^seed must be a whole number; got 'a'\.$"):
        whole_number("seed", "a", minimum=0, maximum=9, error=error)


@pytest.mark.parametrize("error", [InputError, ShapeError])
def test_real_number_raises_the_given_class(error):
    with pytest.raises(error, match=r"^rate must be between 0 and 1; got 2\.$"):
        real_number("rate", 2, minimum=0.0, maximum=1.0, error=error)


@pytest.mark.parametrize("error", [RankError, InputError])
def test_whole_value_raises_the_given_class(error):
    with pytest.raises(error, match=r"^rank must be a whole number; got 2\.5$"):
        whole_value(2.5, "rank", error=error)


def test_the_three_whole_number_checks_accept_what_their_callers_accepted():
    assert whole_number("n", 3.0, minimum=1, maximum=5, error=InputError) == 3
    assert whole_number("n", np.int64(3), minimum=1, maximum=5, error=InputError) == 3
    assert whole_value(torch.tensor(3), "rank", error=RankError) == 3  # a 0-d tensor: ranks only
    assert is_whole(np.float32(3.0)) and not is_whole(True) and not is_whole(float("inf"))
    with pytest.raises(InputError):
        whole_number("n", True, minimum=0, maximum=5, error=InputError)
    with pytest.raises(RankError):
        whole_value(True, "rank", error=RankError)


def test_quote_shortens_long_values():
    assert quote("abc") == "'abc'"
    assert len(quote("x" * 100)) == 40 and quote("x" * 100).endswith("…")
