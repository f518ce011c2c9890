"""time_forward and measured_crossover_rank: one timing per rank beside one dense measurement; the crossover
rule on made-up timings.
"""

import pytest
import torch

from lowrank_core.errors import RankError
from lowrank_core.timing import ForwardTiming, measured_crossover_rank, time_forward


def test_time_forward_returns_one_timing_per_rank():
    timings = time_forward(32, 48, [2, 8], batch=4, min_run_time=0.01)
    assert [t.rank for t in timings] == [2, 8]
    assert all(t.dense_seconds > 0 and t.factored_seconds > 0 for t in timings)
    assert timings[0].dense_seconds == timings[1].dense_seconds  # one shared dense measurement
    assert timings[1].flop_ratio == pytest.approx(32 * 48 / (8 * 80))
    with pytest.raises(RankError):
        time_forward(8, 8, [9])
    before = torch.get_num_threads()
    (single,) = time_forward(16, 16, [4], batch=2, min_run_time=0.01, threads=1)
    assert single.threads == 1 and torch.get_num_threads() == before  # the timer restores the count


def test_measured_crossover_rank_is_where_factoring_stops_paying_for_good():
    def timing(rank, factored):
        return ForwardTiming(64, 64, rank, 8, dense_seconds=1.0, factored_seconds=factored, device="cpu",
                             threads=1)

    assert measured_crossover_rank([timing(32, 1.2), timing(4, 0.2), timing(16, 0.9)]) == 32
    assert measured_crossover_rank([timing(4, 0.2), timing(16, 1.0)]) == 16
    assert measured_crossover_rank([timing(4, 1.1), timing(16, 0.5), timing(32, 1.3)]) == 32  # noise at 4
    assert measured_crossover_rank([timing(4, 0.2)]) is None
    assert timing(4, 0.25).speedup == pytest.approx(4.0)
