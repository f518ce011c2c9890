"""ui.matrix.links: a matrix view survives its link."""


import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lowrank_core import sources
from ui.matrix.links import generator_query_name, matrix_link_params, matrix_source_fields, parse_matrix_link
from ui.matrix.source import generator_param_bounds

FLOAT32_EPS = float(np.finfo(np.float32).eps)


def test_the_signal_rank_of_noisy_low_rank_does_not_clash_with_the_page_rank():
    assert generator_query_name("rank") == "gen_rank"
    assert generator_query_name("m") == "m"
    names = [f.name for f in matrix_source_fields("noisy-low-rank")]
    assert "gen_rank" in names and "rank" not in names


def _settings_strategy(generator: str):
    """Valid settings of a generator (within the page's bounds), seed included when it has one."""
    spec = sources.GENERATORS[generator]
    parts = []
    for param in spec.params:
        low, high = generator_param_bounds(param)
        if param.kind == "int":
            parts.append(st.tuples(st.just(param.name), st.integers(int(low), int(high))))
        else:
            parts.append(st.tuples(st.just(param.name), st.floats(low, high, allow_nan=False)))
    if spec.seeded:
        parts.append(st.tuples(st.just("seed"), st.integers(0, 2**31 - 1)))
    return st.tuples(*parts)


@st.composite
def _matrix_views(draw):
    generator = draw(st.sampled_from(list(sources.GENERATORS)))
    return {
        "generator": generator,
        "settings": draw(_settings_strategy(generator)),
        "noise": draw(st.floats(0.0, 1.0, allow_nan=False)),
        "rule": draw(st.sampled_from(["fixed", "energy", "tolerance", "oht"])),
        "energy": draw(st.floats(1.0, 100.0, allow_nan=False)),
        "sigma": draw(st.sampled_from(["known", "estimate"])),
        "rank": draw(st.integers(0, 50)),
        "log": draw(st.booleans()),
    }


@settings(max_examples=200)
@given(_matrix_views())
def test_a_matrix_view_survives_its_link(view):
    params = matrix_link_params(source_kind="generator", generator=view["generator"],
                                settings=view["settings"], noise=view["noise"], rule=view["rule"],
                                energy=view["energy"], sigma=view["sigma"], rank=view["rank"],
                                default_rank=7, log=view["log"])
    assert all(isinstance(v, str) for v in params.values())
    parsed = parse_matrix_link(params)
    assert parsed.notices == ()
    values = parsed.values
    spec = sources.GENERATORS[view["generator"]]
    assert values.get("gen", "notebook") == view["generator"]
    for name, value in view["settings"]:
        if name == "seed":
            assert values.get("seed", 0) == value
        else:
            default = next(p.default for p in spec.params if p.name == name)
            assert values.get("settings", {}).get(name, default) == value
    assert values.get("noise", 0.0) == view["noise"]
    assert values.get("rule", "fixed") == view["rule"]
    assert values.get("log", True) == view["log"]
    if view["rule"] == "fixed":
        assert int(params.get("rank", 7)) == view["rank"]
    else:
        assert "rank" not in params  # the rule computes it
    if view["rule"] == "energy":
        assert values.get("energy", 99.0) == view["energy"]


def test_an_uploaded_source_only_says_so():
    params = matrix_link_params(source_kind="upload", generator="", settings=(), noise=0.0, rule="fixed",
                                energy=99.0, sigma="known", rank=3, default_rank=2, log=True)
    assert params == {"src": "upload", "rank": "3"}
