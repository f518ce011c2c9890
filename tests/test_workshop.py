"""Workshop mode: links (pure parsing and, under AppTest, pages reopened from query parameters), pictures,
sweep GIFs, chart PNGs and the HTML summary.

Oracles: numpy's SVD (float64 LAPACK) for what a reopened page shows, plotly's own colour scale for the
Pillow heatmaps, Pillow for the files, Python's html.parser for the summary.
"""

import base64
import importlib.util
import io
import math
from html.parser import HTMLParser

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from lowrank_core import factorize, sources
from lowrank_core.sources import generate
from tests.conftest import APP
from ui import workshop
from ui.inputs import generator_param_bounds
from ui.workshop import (
    MAX_FRAME_SIDE,
    ExportUnavailable,
    UrlField,
    colour_map,
    encode_params,
    figure_png,
    generator_query_name,
    gif_bytes,
    heatmap_image,
    kaleido_problem,
    matrix_link_params,
    matrix_source_fields,
    matrix_sweep_frames,
    parse_matrix_link,
    parse_params,
    parse_tour_link,
    share_link,
    spectrum_strip,
    summary_html,
    sweep_frame,
    sweep_ranks,
    tour_link_params,
)

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
    ("1e3", ["not a whole number"]),
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


# ============================================================================================ pictures


def _plotly_rgb(position: float) -> np.ndarray:
    text = plotly.colors.sample_colorscale("RdBu_r", [position])[0]
    return np.array([float(v) for v in text[text.index("(") + 1:-1].split(",")])


@given(st.floats(-3.0, 3.0, allow_nan=False))
def test_the_colour_map_matches_plotlys_rdbu_r(value):
    limit = 2.0
    rgb = colour_map(np.array([[value]]), limit)[0, 0].astype(np.float64)
    position = min(max((value / limit + 1) / 2, 0.0), 1.0)
    # 257 entries: the colour of the nearest entry, within a step of the scale (≤ 2 levels per channel)
    assert np.abs(rgb - _plotly_rgb(position)).max() <= 2.5


def test_the_colour_map_ends_and_nan():
    rgb = colour_map(np.array([[-5.0, 0.0, 5.0, np.nan]]), 1.0)[0]
    assert tuple(rgb[0]) == (5, 48, 97) and tuple(rgb[1]) == (247, 247, 247) and tuple(rgb[2]) == (103, 0, 31)
    assert tuple(rgb[3]) == workshop.NAN_COLOUR


def test_a_small_matrix_becomes_square_blocks():
    values = np.arange(15 * 10, dtype=np.float64).reshape(15, 10) - 70
    image = heatmap_image(values, limit=80)
    factor = 512 // 15
    assert image.size == (10 * factor, 15 * factor)
    pixels = np.asarray(image)
    expected = colour_map(values, 80)
    for i, j in [(0, 0), (7, 3), (14, 9)]:
        block = pixels[i * factor:(i + 1) * factor, j * factor:(j + 1) * factor]
        assert (block == expected[i, j]).all()


def test_a_large_matrix_is_sampled_down_to_the_side_limit():
    image = heatmap_image(np.random.default_rng(0).normal(size=(1000, 700)))
    assert max(image.size) <= MAX_FRAME_SIDE and image.size == (512, 512)


def test_spectrum_strip_colours_exactly_rank_bars_blue():
    S = np.geomspace(10, 1e-3, 20)
    for rank in (0, 1, 7, 20):
        strip = np.asarray(spectrum_strip(S, rank, width=400, height=80))
        bottom = strip[-1]  # every bar reaches the bottom row
        edges = np.linspace(0, 400, 21).round().astype(int)
        colours = [tuple(bottom[(edges[i] + edges[i + 1]) // 2]) for i in range(20)]
        assert colours.count(workshop.KEPT_RGB) == rank
        assert colours.count(workshop.DROPPED_RGB) == 20 - rank
        heights = [(strip[:, (edges[i] + edges[i + 1]) // 2] != 255).any(axis=1).sum() for i in range(20)]
        assert heights == sorted(heights, reverse=True)  # σ descending: bars do not grow


@pytest.mark.parametrize(("to_rank", "count"), [(1, 1), (15, 15), (60, 60), (61, 60), (1000, 60)])
def test_sweep_ranks(to_rank, count):
    ranks = sweep_ranks(to_rank)
    assert len(ranks) == count
    assert ranks[0] == 1 and ranks[-1] == to_rank
    assert all(b > a for a, b in zip(ranks, ranks[1:], strict=False))


def test_gif_has_the_requested_frames_and_bounded_size():
    frames = [sweep_frame(heatmap_image(np.full((4, 4), float(i)), limit=10), np.arange(10, 0, -1.0), i,
                          label=f"rank {i}") for i in range(1, 13)]
    data = gif_bytes(frames)
    with Image.open(io.BytesIO(data)) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == 12
        assert gif.width <= MAX_FRAME_SIDE and gif.height <= MAX_FRAME_SIDE
        assert gif.info.get("loop") == 0
    with pytest.raises(ValueError, match="at most 60"):
        gif_bytes(frames * 6)


def test_sweep_frames_show_numpys_reconstructions():
    W = sources.notebook_matrix(15, 12, 4, seed=3)
    factorization = factorize(W)
    rows, cols = np.arange(15), np.arange(12)
    ranks = sweep_ranks(12)
    limit = float(np.abs(W.numpy()).max())
    frames = matrix_sweep_frames(factorization, rows, cols, ranks, limit=limit, log=True)
    assert len(frames) == 12 and all(max(f.size) <= MAX_FRAME_SIDE for f in frames)
    U, S, Vh = np.linalg.svd(W.double().numpy(), full_matrices=False)
    for r in (1, 2, 4, 12):
        W_r = (U[:, :r] * S[:r]) @ Vh[:r]
        expected = colour_map(W_r, limit).astype(int)  # (15, 12, 3)
        frame = frames[ranks.index(r)]
        picture = heatmap_image(W_r, limit=limit)
        # the picture is pasted centred below a 30-pixel label line, shrunk to fit the frame
        scale = min(MAX_FRAME_SIDE / picture.width, (MAX_FRAME_SIDE - 30 - 85 - 12) / picture.height, 1.0)
        width, height = int(picture.width * scale), int(picture.height * scale)
        left = (frame.width - width) // 2
        pixels = np.asarray(frame).astype(int)
        for i, j in [(0, 0), (5, 7), (14, 11), (9, 2)]:
            y = 30 + int((i + 0.5) * height / 15)
            x = left + int((j + 0.5) * width / 12)
            assert np.abs(pixels[y, x] - expected[i, j]).max() <= 3, (r, i, j)


# ========================================================================================= HTML summary


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells, self.images, self.scripts, self.text = [], [], 0, []
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts += 1
        if tag in ("td", "th"):
            self._in_cell = True
            self.cells.append("")
        if tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_cell:
            self.cells[-1] += data


def test_summary_html_escapes_everything_and_embeds_the_pictures():
    hostile = '<script>alert("x")</script> & "quotes"'
    png = workshop.png_bytes(heatmap_image(np.eye(3)))
    page = summary_html(title=hostile, link="http://h/matrix?rank=3&gen=a%22b", numbers=[(hostile, "1.5e-3")],
                        pictures=[(hostile, png)], notes=[hostile])
    collector = _Collector()
    collector.feed(page)
    assert collector.scripts == 0 and "<script>" not in page
    assert collector.cells == [hostile, "1.5e-3"]  # the text comes back exactly, as text
    assert len(collector.images) == 1
    decoded = base64.b64decode(collector.images[0].split(",", 1)[1])
    assert decoded == png and Image.open(io.BytesIO(decoded)).size == heatmap_image(np.eye(3)).size
    assert "http://h/matrix?rank=3&amp;gen=a%22b" in page


# ========================================================================================= chart export


def test_kaleido_exports_a_chart_as_png():
    assert kaleido_problem() is None, "kaleido and Chromium are requirements of the PNG export"
    figure = go.Figure({"data": [{"type": "bar", "y": [3, 1, 2]}], "layout": {"height": 300}})
    data = figure_png(figure, width=640)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.size == (640, 300)


def test_without_kaleido_the_export_says_why(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "kaleido" else real(name, *args))
    assert "kaleido" in kaleido_problem()
    with pytest.raises(ExportUnavailable, match="kaleido"):
        figure_png(go.Figure())


def test_without_chromium_the_export_says_why(monkeypatch):
    monkeypatch.setattr(workshop, "_chromium_path", lambda: None)
    assert "Chromium" in kaleido_problem()


# ====================================================================== pages reopened from their links


def _open(page: str, params: dict[str, str]) -> AppTest:
    """The app's first run, then ``page`` with the query parameters of a link."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(page)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _number(text: str) -> float:
    return float(text.replace(",", "").replace("%", "").replace("×", ""))


def _numpy_error(W: np.ndarray, rank: int) -> float:
    W = W.astype(np.float64)
    U, S, Vh = np.linalg.svd(W, full_matrices=False)
    return float(np.linalg.norm(W - (U[:, :rank] * S[:rank]) @ Vh[:rank]) / np.linalg.norm(W))


def _numpy_rank(W: np.ndarray) -> int:
    S = np.linalg.svd(W.astype(np.float64), compute_uv=False)
    return int((S > FLOAT32_EPS * max(W.shape) * S[0]).sum())


def test_a_matrix_link_reopens_its_view():
    at = _open("pages/matrix.py", {"gen": "hilbert", "n": "12", "rank": "5", "log": "0"})
    W = generate("hilbert", n=12).numpy()
    metrics = _metrics(at)
    assert at.selectbox(key="matrix_generator").value == "hilbert"
    assert at.number_input(key="matrix_gen_hilbert_n").value == 12
    assert at.slider(key="matrix_rank").value == 5 and metrics["rank kept"] == "5"
    assert metrics["numerical rank"] == str(_numpy_rank(W))
    assert _number(metrics["relative Frobenius error"]) == pytest.approx(_numpy_error(W, 5), rel=1e-2)
    assert at.toggle(key="matrix_log").value is False
    assert not at.info  # nothing to complain about
    assert at.query_params == {"gen": "hilbert", "n": "12", "rank": "5", "log": "0"}  # written back as is

    at.slider(key="matrix_rank").set_value(2).run()  # the address follows the slider
    assert at.query_params["rank"] == "2"


def test_a_seeded_generator_with_noise_and_a_rule_reopens():
    params = {"gen": "noisy-low-rank", "m": "80", "n": "60", "gen_rank": "7", "noise_sigma": "0.02",
              "seed": "11", "rule": "oht"}
    at = _open("pages/matrix.py", params)
    W = generate("noisy-low-rank", m=80, n=60, rank=7, noise_sigma=0.02, seed=11).numpy()
    metrics = _metrics(at)
    assert metrics["parameters, dense"] == "4,800"
    assert metrics["numerical rank"] == str(_numpy_rank(W))
    assert metrics["rank kept"] == "7"  # the optimal hard threshold finds the signal's rank
    assert at.segmented_control(key="matrix_rule").value == "oht"
    assert _number(metrics["relative Frobenius error"]) == pytest.approx(_numpy_error(W, 7), rel=1e-2)


def test_an_energy_link_reopens_with_the_rule_and_its_target():
    at = _open("pages/matrix.py", {"gen": "decay-power", "rule": "energy", "energy": "95"})
    S = np.linalg.svd(generate("decay-power", m=100, n=100, rate=1.0, seed=0).double().numpy(),
                      compute_uv=False)
    expected = int(np.argmax(np.cumsum(S**2) / (S**2).sum() >= 0.95)) + 1
    assert at.number_input(key="matrix_energy").value == 95.0
    assert _metrics(at)["rank kept"] == str(expected)


@pytest.mark.parametrize(("params", "words"), [
    ({"rank": "99999"}, ["99999", "largest value 15", "using 4"]),
    ({"rank": "abc"}, ["abc", "not a whole number", "using 4"]),
    ({"rank": "-3"}, ["-3", "below"]),
    ({"gen": "no-such-thing", "rank": "2"}, ["no\\-such\\-thing", "unknown generator"]),
    ({"m": "abc", "n": "1e9"}, ["abc", "not a whole number"]),
    ({"noise": "-1"}, ["below"]),
    ({"rule": "magic", "log": "maybe"}, ["magic", "maybe"]),
])
def test_bad_matrix_links_fall_back_with_a_notice(params, words):
    at = _open("pages/matrix.py", params)
    assert not at.error
    notice = "\n".join(i.value for i in at.info)
    assert "could not be used" in notice
    for word in words:
        assert word in notice
    metrics = _metrics(at)
    assert metrics["numerical rank"] == "4"  # the default notebook matrix...
    expected_rank = "2" if params.get("rank") == "2" else "4"
    assert metrics["rank kept"] == expected_rank  # ... at its numerical rank unless the link's rank is valid


def test_a_linked_setting_the_generator_refuses_falls_back_to_its_defaults():
    at = _open("pages/matrix.py", {"gen": "noisy-low-rank", "m": "10", "n": "10", "gen_rank": "50"})
    assert not at.error
    assert any("could not be made" in i.value for i in at.info)
    assert _metrics(at)["parameters, dense"] == "40,000"  # noisy-low-rank's default 200 × 200


def test_an_upload_link_asks_for_the_file_then_applies_its_rank():
    at = _open("pages/matrix.py", {"src": "upload", "rank": "1"})
    assert at.segmented_control(key="matrix_source").value == "upload"
    assert any("cannot travel in a link" in i.value for i in at.info)
    W = np.arange(1.0, 13.0).reshape(4, 3) ** 2  # rank 3
    text = "\n".join(",".join(str(v) for v in row) for row in W)
    at.file_uploader(key="matrix_upload").set_value(("m.csv", text.encode(), "text/csv")).run()
    assert not at.exception and not at.error
    metrics = _metrics(at)
    assert metrics["numerical rank"] == "3" and metrics["rank kept"] == "1"  # the link's rank, kept waiting
    assert _number(metrics["relative Frobenius error"]) == pytest.approx(_numpy_error(W, 1), rel=1e-2)


def test_a_tour_link_reopens_its_view():
    at = AppTest.from_file(APP, default_timeout=60)
    for name, value in {"m": "20", "n": "10", "k": "6", "seed": "3", "rank": "2"}.items():
        at.query_params[name] = value
    at.run()  # the tour is the default page: app.py runs it
    assert not at.exception and not at.info
    assert [at.number_input(key=f"tour_{x}").value for x in ("m", "n", "k", "seed")] == [20, 10, 6, 3]
    assert at.slider(key="tour_rank").value == 2
    W = sources.notebook_matrix(20, 10, 6, seed=3).numpy()
    metrics = _metrics(at)
    assert metrics["rank of W"] == str(_numpy_rank(W)) == "6"
    S = np.linalg.svd(W.astype(np.float64), compute_uv=False)
    assert float(metrics["first dropped singular value σᵣ₊₁"]) == pytest.approx(S[2], rel=1e-2)
    assert at.query_params == {"m": "20", "n": "10", "k": "6", "seed": "3", "rank": "2"}


def test_a_bad_tour_link_falls_back_with_a_notice():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"m": "5", "k": "9", "rank": "zero"})
    at.run()
    assert not at.exception
    notice = "\n".join(i.value for i in at.info)
    assert "9" in notice and "zero" in notice
    assert at.number_input(key="tour_m").value == 5
    assert at.number_input(key="tour_k").value == 4  # default k, within min(5, 15)
    assert at.slider(key="tour_rank").value == 4


def test_the_presenter_view_opens_from_the_link_and_closes():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["present"] = "1"
    at.run()
    assert not at.exception
    assert at.toggle(key="present").value is True
    styles = [h for h in at.get("html") if "stSidebar" in h.proto.body]
    assert len(styles) == 1 and "display: none" in styles[0].proto.body
    labels = {m.label for m in at.metric}
    assert "rank of W" in labels and "tolerance ε·max(m, n)·σ₁" not in labels  # secondary numbers hidden
    assert not at.get("download_button")  # no exports in front of the room
    assert at.query_params.get("present") == "1"

    at.button(key="present_leave").click().run()  # AppTest reruns the tour page alone: no sidebar now
    assert not at.exception
    assert at.session_state["present"] is False
    assert not [h for h in at.get("html") if "stSidebar" in h.proto.body]
    assert "tolerance ε·max(m, n)·σ₁" in {m.label for m in at.metric}
    assert "present" not in at.query_params


# ================================================================================ sweep, GIF and PNG


@pytest.fixture
def stored(monkeypatch):
    """The bytes behind every download button, by file id."""
    files: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def recording(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        files[file_id] = path_or_data
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    return files


def _download(at: AppTest, files: dict[str, bytes], label: str) -> bytes:
    button = next(b for b in at.get("download_button") if b.label == label)
    return files[button.proto.url.rsplit("/", 1)[1].split(".")[0]]


def test_the_sweep_plays_and_ends_at_its_last_rank():
    at = _open("pages/matrix.py", {"rank": "2"})
    at.number_input(key="matrix_sweep_to").set_value(5).run()
    at.button(key="matrix_sweep_play_button").click().run()
    assert not at.exception
    assert at.slider(key="matrix_rank").value == 5
    assert _metrics(at)["rank kept"] == "5"
    assert at.query_params["rank"] == "5"
    charts = at.get("plotly_chart")
    heatmaps = [c for c in charts if "W_r (r = 5)" in c.proto.spec]
    assert len(heatmaps) == 1  # the frames were replaced in place: one heatmap left, at the last rank


def test_the_sweep_gif_has_one_frame_per_rank(stored):
    at = _open("pages/matrix.py", {})
    at.number_input(key="matrix_sweep_to").set_value(9).run()
    at.button(key="matrix_gif_make").click().run()
    assert not at.exception
    data = _download(at, stored, "Download the sweep (GIF)")
    with Image.open(io.BytesIO(data)) as gif:
        assert gif.n_frames == 9
        assert max(gif.size) <= MAX_FRAME_SIDE
        W = sources.notebook_matrix(15, 15, 4, seed=0).double().numpy()
        gif.seek(8)  # rank 9 ≥ 4: W_r = W, so the picture shows W's colours
        frame = np.asarray(gif.convert("RGB")).astype(int)
    expected = colour_map(W, float(np.abs(W).max())).astype(int)
    picture = heatmap_image(W)
    picture_side = int(picture.width * min(1.0, (MAX_FRAME_SIDE - 30 - 85 - 12) / picture.height))
    left = (gif.width - picture_side) // 2
    for i, j in [(0, 0), (7, 7), (14, 3)]:
        y = 30 + int((i + 0.5) * picture_side / 15)
        x = left + int((j + 0.5) * picture_side / 15)
        assert np.abs(frame[y, x] - expected[i, j]).max() <= 12  # GIF palette: 255 colours per frame


def test_a_chart_is_exported_as_png_on_demand(stored):
    at = _open("pages/matrix.py", {})
    assert not [b for b in at.get("download_button") if b.label.endswith(".png")]  # nothing made yet
    at.selectbox(key="matrix_png_chart").set_value("Singular values").run()
    at.button(key="matrix_png_make").click().run()
    assert not at.exception
    data = _download(at, stored, "Download Singular values.png")
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.width == 1400 and image.height >= 300


def test_without_kaleido_the_page_points_to_the_chart_toolbar(monkeypatch):
    monkeypatch.setattr(workshop, "kaleido_problem", lambda: "the kaleido package is not installed")
    at = _open("pages/matrix.py", {})
    captions = "\n".join(c.value for c in at.caption)
    assert "kaleido package is not installed" in captions and "Download plot as PNG" in captions
    assert not [b for b in at.button if b.key == "matrix_png_make"]


def test_torch_is_untouched_by_the_pictures():
    before = torch.get_num_threads()
    heatmap_image(np.ones((3, 3)))
    assert torch.get_num_threads() == before


# ============================================================================================ image page


def _numpy_relative_error(name: str, rank: int) -> float:
    """‖x − x_r‖ / ‖x‖ of the 8-bit rank-r image (numpy SVD per channel, float64, clipped, rounded)."""
    x = sources.load_sample(name).pixels.double().numpy()  # (C, H, W)
    rebuilt = []
    for channel in x:
        U, S, Vh = np.linalg.svd(channel, full_matrices=False)
        rebuilt.append((U[:, :rank] * S[:rank]) @ Vh[:rank])
    x_r = np.round(np.clip(np.stack(rebuilt), 0, 1) * 255) / 255
    return float(np.linalg.norm(x - x_r) / np.linalg.norm(x))


def test_an_image_link_reopens_its_view():
    params = {"sample": "chelsea", "rank": "17", "dtype": "float32", "view": "error"}
    at = _open("pages/image.py", params)
    assert at.selectbox(key="image_sample").value == "chelsea"
    assert at.slider(key="image_rank").value == 17
    assert at.radio(key="image_dtype").value == "float32" and at.radio(key="image_view").value == "error"
    assert not [i for i in at.info if "link" in i.value]
    relative = float(_metrics(at)["Relative error"])
    assert relative == pytest.approx(_numpy_relative_error("chelsea", 17), abs=2e-4)
    assert at.query_params == params  # written back as it came


def test_an_image_link_with_ycbcr_ranks_and_a_rule():
    at = _open("pages/image.py", {"sample": "coffee", "mode": "ycbcr", "rank": "40", "chroma": "6"})
    assert at.radio(key="image_mode").value == "ycbcr"
    assert (at.slider(key="image_rank").value, at.slider(key="image_chroma_rank").value) == (40, 6)
    at = _open("pages/image.py", {"sample": "camera", "rule": "energy", "energy": "95"})
    assert at.radio(key="image_rule").value == "energy" and at.number_input(key="image_energy").value == 95.0
    grey = sources.load_sample("camera").pixels.double().numpy()[0]
    S = np.linalg.svd(grey, compute_uv=False)
    expected = int(np.argmax(np.cumsum(S**2) / (S**2).sum() >= 0.95)) + 1
    assert at.slider(key="image_rank").value == expected


@pytest.mark.parametrize(("params", "words"), [
    ({"sample": "chelsea", "rank": "99999"}, ["99999", "largest value 300", "using 30"]),
    ({"rank": "abc"}, ["abc", "not a whole number"]),
    ({"sample": "no_such_photo", "mode": "sepia", "view": "3d"}, ["no\\_such\\_photo", "sepia", "3d"]),
    ({"sample": "coffee", "rule": "bytes", "budget": "-4"}, ["-4", "below"]),
])
def test_bad_image_links_fall_back_with_a_notice(params, words):
    at = _open("pages/image.py", params)
    notice = "\n".join(i.value for i in at.info if "could not be used" in i.value)
    for word in words:
        assert word in notice
    assert not at.error


def test_an_upload_image_link_asks_for_the_image():
    at = _open("pages/image.py", {"src": "upload", "rank": "5"})
    assert at.radio(key="image_source").value == "upload"
    assert any("cannot travel in a link" in i.value for i in at.info)


def test_the_image_sweep_plays_and_its_gif_has_one_frame_per_rank(stored):
    at = _open("pages/image.py", {"sample": "chelsea", "rank": "3"})
    at.number_input(key="image_sweep_to").set_value(7).run()
    at.button(key="image_sweep_play_button").click().run()
    assert not at.exception
    assert at.slider(key="image_rank").value == 7 and at.query_params["rank"] == "7"
    at.button(key="image_gif_make").click().run()
    assert not at.exception
    data = _download(at, stored, "Download the sweep (GIF)")
    with Image.open(io.BytesIO(data)) as gif:
        assert gif.n_frames == 7 and max(gif.size) <= MAX_FRAME_SIDE


# ============================================================================================ layer page


def test_a_layer_link_reopens_the_lab():
    params = {"src": "low_rank", "m": "100", "n": "80", "k": "5", "seed": "3", "rank": "4", "batch": "10"}
    at = _open("pages/layer.py", params)
    assert [at.number_input(key=f"layer_{x}").value for x in ("out", "in", "k", "seed")] == [100, 80, 5, 3]
    assert at.slider(key="layer_rank").value == 4 and at.slider(key="layer_batch").value == 10
    W = sources.notebook_matrix(100, 80, 5, seed=3).double().numpy()  # the lab's exact low-rank weight
    S = np.linalg.svd(W, compute_uv=False)
    bound = next(m.value for m in at.metric if m.label == "bound σᵣ₊₁")
    assert float(bound) == pytest.approx(S[4], rel=1e-3)  # σ₅ of numpy's SVD
    assert at.query_params == params


def test_bad_layer_links_fall_back_with_a_notice():
    at = _open("pages/layer.py", {"rank": "99999", "m": "abc", "section": "nowhere"})
    notice = "\n".join(i.value for i in at.info if "could not be used" in i.value)
    for word in ("99999", "abc", "nowhere"):
        assert word in notice
    assert at.slider(key="layer_rank").value == 32 and at.number_input(key="layer_out").value == 256
