"""ui.links: query fields parsed and encoded, and the share link."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ui.links import UrlField, encode_params, parse_params, share_link

FLOAT32_EPS = float(np.finfo(np.float32).eps)


# ====================================================================================== URL fields


@pytest.mark.parametrize(("raw", "expected"), [("7", 7), (" 12 ", 12), ("+3", 3), ("0", 0), ("15", 15)])
def test_an_int_in_range_is_read(raw, expected):
    assert UrlField("rank", "int", 4, 0, 15).parse(raw) == (expected, None)


@pytest.mark.parametrize(("raw", "words"), [
    ("99999", ["99999", "above", "15", "using 4"]),
    ("-1", ["-1", "below", "0", "using 4"]),
    ("abc", ["“abc”", "not a whole number", "using 4"]),
    ("7.5", ["“7.5”", "not a whole number"]),
    ("", ["not a whole number"]),
    ("1" * 80, ["too long"]),
    ("1e3", ["1000", "above", "15", "using 4"]),  # a whole number in e-notation (issue 12)
])
def test_a_bad_int_falls_back_to_the_default_with_a_notice(raw, words):
    value, notice = UrlField("rank", "int", 4, 0, 15).parse(raw)
    assert value == 4
    for word in words:
        assert word in notice


@pytest.mark.parametrize(("raw", "ok", "value"), [
    ("0.25", True, 0.25), ("1", True, 1.0), ("1e-3", True, 0.001),
    ("nan", False, 0.0), ("inf", False, 0.0), ("1.5", False, 0.0), ("x", False, 0.0), ("-0.1", False, 0.0),
])
def test_floats(raw, ok, value):
    parsed, notice = UrlField("noise", "float", 0.0, 0.0, 1.0).parse(raw)
    assert parsed == value
    assert (notice is None) == ok


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("true", True), ("ON", True), ("0", False),
                                            ("no", False)])
def test_bools(raw, value):
    assert UrlField("log", "bool", True).parse(raw) == (value, None)


def test_an_unknown_choice_is_named_in_the_notice_shortened():
    value, notice = UrlField("gen", "choice", "notebook", choices=("notebook", "hilbert")).parse("x" * 40)
    assert value == "notebook"
    assert "x" * 19 + "…" in notice and "x" * 21 not in notice


def test_parse_params_reads_only_present_fields_and_the_last_of_repeated_ones():
    fields = [UrlField("rank", "int", 4, 0, 15), UrlField("log", "bool", True)]
    parsed = parse_params(fields, {"rank": ["3", "9"], "other": "x"})
    assert parsed.values == {"rank": 9} and parsed.notices == ()
    assert parse_params(fields, {}).values == {}


def test_defaults_stay_out_of_the_address():
    fields = [UrlField("rank", "int", 4, 0, 15), UrlField("energy", "float", 99.0, 1, 100),
              UrlField("log", "bool", True)]
    assert encode_params(fields, {"rank": 4, "energy": 99, "log": True}) == {}
    assert encode_params(fields, {"rank": 5, "energy": 95.5, "log": False}) == {
        "rank": "5", "energy": "95.5", "log": "0"}


@given(st.lists(st.tuples(st.sampled_from(["int", "float", "bool", "choice"]), st.integers(0, 10**6),
                          st.floats(-1e6, 1e6, allow_nan=False)), min_size=1, max_size=6))
def test_encode_then_parse_gives_the_values_back(specs):
    fields, values = [], {}
    for i, (kind, whole, real) in enumerate(specs):
        name = f"p{i}"
        if kind == "int":
            fields.append(UrlField(name, "int", -1, -10**7, 10**7))
            values[name] = whole
        elif kind == "float":
            fields.append(UrlField(name, "float", math.pi, -1e7, 1e7))
            values[name] = real
        elif kind == "bool":
            fields.append(UrlField(name, "bool", False))
            values[name] = bool(whole % 2)
        else:
            fields.append(UrlField(name, "choice", "a", choices=("a", "b", "c")))
            values[name] = "abc"[whole % 3]
    encoded = encode_params(fields, values)
    parsed = parse_params(fields, encoded)
    assert parsed.notices == ()
    for field in fields:  # a value equal to the default is left out and comes back as the default
        assert parsed.values.get(field.name, field.default) == values[field.name]




@pytest.mark.parametrize(("base", "expected", "complete"), [
    ("http://host:8501/matrix", "http://host:8501/matrix?gen=hilbert&rank=3", True),
    ("http://host:8501/matrix?old=1", "http://host:8501/matrix?gen=hilbert&rank=3", True),
    (None, "/matrix?gen=hilbert&rank=3", False),
])
def test_share_link(base, expected, complete):
    assert share_link(base, "matrix", {"gen": "hilbert", "rank": "3"}) == (expected, complete)


def test_share_link_escapes_the_query():
    link, _ = share_link(None, "matrix", {"gen": "a b&c=d"})
    assert link == "/matrix?gen=a+b%26c%3Dd"


@pytest.mark.parametrize(("raw", "words"), [("1e9", ["1000000000", "above its largest value 15"]),
                                            ("1.0e1", None), ("2E1", ["20", "above"])])
def test_a_whole_number_in_e_notation_is_a_whole_number(raw, words):
    value, notice = UrlField("rank", "int", 4, 0, 15).parse(raw)
    if words is None:
        assert (value, notice) == (10, None)
    else:
        assert value == 4 and all(word in notice for word in words) and "not a whole number" not in notice


def test_the_default_page_shares_the_apps_root_whatever_address_reached_it():
    assert share_link("http://host:8501/tour?m=3", "", {"m": "5"}) == ("http://host:8501/?m=5", True)
    assert share_link("http://host:8501/", "", {}) == ("http://host:8501/", True)
    assert share_link(None, "", {"m": "5"}) == ("/?m=5", False)
    assert share_link("https://h/app/matrix", "matrix", {}, base_path="app") == ("https://h/app/matrix", True)
