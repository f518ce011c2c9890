"""ui.tour.links: a tour view survives its link."""


import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from ui.tour.links import parse_tour_link, tour_link_params

FLOAT32_EPS = float(np.finfo(np.float32).eps)


@given(st.integers(1, 60), st.integers(1, 60), st.integers(0, 2**31 - 1), st.data())
def test_a_tour_view_survives_its_link(m, n, seed, data):
    k = data.draw(st.integers(1, min(m, n)))
    rank = data.draw(st.integers(1, min(m, n)))
    params = tour_link_params(m=m, n=n, k=k, seed=seed, rank=rank)
    parsed = parse_tour_link(params)
    assert parsed.notices == ()
    assert parsed.values.get("m", 15) == m and parsed.values.get("n", 15) == n
    assert parsed.values.get("seed", 0) == seed
    assert parsed.values.get("k", min(4, m, n)) == k
    assert int(params.get("rank", k)) == rank


def test_a_tour_k_above_the_linked_sizes_falls_back():
    parsed = parse_tour_link({"m": "3", "n": "20", "k": "10"})
    assert parsed.values == {"m": 3, "n": 20, "k": 3}
    assert any("10" in notice and "above" in notice for notice in parsed.notices)
