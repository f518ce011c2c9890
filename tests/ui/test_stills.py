"""ui.stills: pictures made with numpy and Pillow, checked against plotly's scale and numpy."""


import numpy as np
import plotly.colors
from hypothesis import given
from hypothesis import strategies as st

from ui import style
from ui.limits import MAX_FRAME_SIDE
from ui.stills import colour_map, heatmap_image, spectrum_strip

FLOAT32_EPS = float(np.finfo(np.float32).eps)


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
    assert tuple(rgb[3]) == style.NAN_COLOUR


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
        assert colours.count(style.KEPT_RGB) == rank
        assert colours.count(style.DROPPED_RGB) == 20 - rank
        heights = [(strip[:, (edges[i] + edges[i + 1]) // 2] != 255).any(axis=1).sum() for i in range(20)]
        assert heights == sorted(heights, reverse=True)  # σ descending: bars do not grow


def test_the_pictures_font_draws_a_minus_sign_not_a_missing_glyph_box():
    from ui.stills import font

    drawn = font(20)

    def glyph(ch: str) -> tuple:
        mask = drawn.getmask(ch)
        return mask.size, bytes(mask)

    box = glyph("\u4e00")  # CJK: in no subset, so it draws the missing-glyph box
    for text in ("W − W_r", "σᵣ₊₁", "‖x‖", "×"):
        missing = [ch for ch in text if ch != " " and glyph(ch) == box]
        assert not missing, f"no glyph for {missing} in {text!r}"
