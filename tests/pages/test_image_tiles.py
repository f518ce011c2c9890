"""The image page's tiles mode under AppTest: every number on screen against the downloaded tile file, read
back with its own layout and measured by scikit-image; the rules, the controls' bounds, a link, the
rate–distortion chart with the tile curve, and bad settings shown as errors, not tracebacks."""

import base64
import io
import json
import math
import struct
from concurrent.futures import Future

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from streamlit.testing.v1 import AppTest

from lowrank_core import sources
from lowrank_core.image import RateDistortion, RatePoint, to_uint8
from lowrank_core.image.tiles import decode_tiles
from tests.conftest import APP
from tests.core.image.pictures import COLOUR
from tests.pages.test_image import downloads  # noqa: F401 - the fixture: file name -> deferred download
from ui import jobs
from ui.image import cache as image_cache
from ui.image import figures

LUMA = np.array([0.299, 0.587, 0.114])
PHOTO_FLOAT = COLOUR.double().numpy()  # (3, 48, 64) in k/255: the oracle's original
PHOTO = np.round(PHOTO_FLOAT * 255).astype(np.uint8).transpose(1, 2, 0)  # (48, 64, 3): the uploaded PNG
HEIGHT, WIDTH = PHOTO.shape[:2]


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _upload(array: np.ndarray) -> AppTest:
    """The image page with ``array`` uploaded as a PNG."""
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("pages/image.py").run()
    at.radio(key="image_source").set_value("upload").run()
    at.file_uploader(key="image_upload").set_value(("photo.png", _png(array), "image/png")).run()
    assert not at.exception
    return at


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _number(text: str) -> float:
    """The number a card starts with ("31.25 dB" -> 31.25)."""
    return float(text.split()[0].replace(",", ""))


@pytest.fixture
def quiet_curves(monkeypatch):
    """Leave the rate–distortion and tile-curve jobs pending (they are tested on their own below)."""
    monkeypatch.setattr(image_cache, "rate_distortion_job", lambda *args, **kwargs: Future())
    monkeypatch.setattr(image_cache, "tile_curve_job", lambda *args, **kwargs: Future())


def _tiles(at: AppTest, **settings) -> AppTest:
    """Switch to the tiles mode, then set the given radios and number inputs (keys without "image_")."""
    at.radio(key="image_codec").set_value("tiles").run()
    for key, value in settings.items():
        find = at.number_input if isinstance(value, float) else at.radio
        find(key=f"image_{key}").set_value(value).run()
    assert not at.exception
    return at


def _read_file(data: bytes) -> tuple[tuple, np.ndarray]:
    """(the header's fields, the rank code of every tile) read with the file's documented layout."""
    header = struct.unpack_from("<4sBBBBBII", data)
    _, _, _, _, side, channels, height, width = header
    count = channels * -(-height // side) * -(-width // side)
    return header, np.frombuffer(data, np.uint8, count=count, offset=17)


def _figures(at: AppTest) -> list[dict]:
    """The plotly figures on the page, as JSON."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def _array(value) -> np.ndarray:
    """A figure's array as numpy: plotly writes numpy arrays as {"dtype", "bdata" (base64), "shape"}."""
    if isinstance(value, dict):
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        return flat.reshape([int(n) for n in str(value.get("shape", len(flat))).split(",")])
    return np.asarray(value)


def _figure(at: AppTest, title_start: str) -> dict:
    """The figure whose title starts with ``title_start``."""
    titled = [(f["layout"].get("title", {}).get("text", ""), f) for f in _figures(at)]
    return next(f for title, f in titled if title.startswith(title_start))


def test_the_numbers_are_those_of_the_downloaded_file(quiet_curves, downloads):  # noqa: F811
    at = _tiles(_upload(PHOTO), tile_side=8, tiles_budget_kb=2.0)
    assert not at.error
    data = downloads["image_tiles8_float16.lrt"]()
    (magic, _, mode_code, dtype_code, side, channels, height, width), codes = _read_file(data)
    assert (magic, mode_code, dtype_code, side, channels, height, width) == (b"LRT1", 0, 1, 8, 3, 48, 64)
    assert len(data) <= 2000  # the budget typed, in bytes
    assert _metric(at, "Tile file (float16)") == f"{len(data):,} B"
    assert float(_metric(at, "Bits per pixel")) == pytest.approx(8 * len(data) / (HEIGHT * WIDTH), abs=6e-4)
    decoded = to_uint8(decode_tiles(data)).double().numpy() / 255  # the file alone
    assert _number(_metric(at, "PSNR")) == pytest.approx(
        peak_signal_noise_ratio(PHOTO_FLOAT, decoded, data_range=1), abs=0.006)
    expected_ssim = structural_similarity(PHOTO_FLOAT, decoded, gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False, data_range=1, channel_axis=0)
    assert float(_metric(at, "SSIM")) == pytest.approx(expected_ssim, abs=1e-3)
    assert _metric(at, "Tiles") == str(3 * 6 * 8)  # 48 × 64 in 8 × 8 tiles: 6 rows, 8 columns, 3 channels
    assert _metric(at, "Stored raw") == str(int((codes == 255).sum()))
    assert _metric(at, "At rank 0 (mean only)") == str(int((codes == 0).sum()))
    histogram = _figure(at, "Tiles at each rank")["data"][0]
    expected = [*np.bincount(codes[codes != 255], minlength=9).tolist(), int((codes == 255).sum())]
    assert histogram["y"] == expected and histogram["x"][-1] == "raw"
    heatmap = next(t for t in _figure(at, "Rank of each 8×8 tile of R")["data"] if t["type"] == "heatmap")
    first = codes[:48].reshape(6, 8)  # channel R's rank codes, row by row
    z = _array(heatmap["z"]).astype(float)
    assert np.isnan(z[first == 0]).all()  # mean only: uncoloured
    assert (z[(first > 0) & (first != 255)] == first[(first > 0) & (first != 255)]).all()
    png = downloads["image_tiles8_float16.png"]()
    with Image.open(io.BytesIO(png)) as image:
        assert np.array_equal(np.asarray(image), np.round(decoded * 255).astype(np.uint8).transpose(1, 2, 0))


def test_more_bytes_give_a_better_picture_and_the_bytes_go_where_the_detail_is(quiet_curves, downloads):  # noqa: F811
    flat = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
    flat[:, 32:] = PHOTO[:, 32:]  # left half: one grey; right half: the photograph
    at = _tiles(_upload(flat), tile_side=8, tiles_budget_kb=1.0)
    psnr_small = _number(_metric(at, "PSNR"))
    _, codes = _read_file(downloads["image_tiles8_float16.lrt"]())
    ranks = codes.reshape(3, 6, 8)
    assert (ranks[:, :, :4] == 0).all()  # the flat tiles keep their mean only
    at.number_input(key="image_tiles_budget_kb").set_value(3.0).run()
    assert _number(_metric(at, "PSNR")) > psnr_small


@pytest.mark.parametrize(("mode", "dtype", "side"), [("ycbcr", "int8", 16), ("luminance", "float32", 32)])
def test_modes_precisions_and_sides(mode, dtype, side, quiet_curves, downloads):  # noqa: F811
    at = _upload(PHOTO)
    at.radio(key="image_mode").set_value(mode).run()
    at.radio(key="image_dtype").set_value(dtype).run()
    _tiles(at, tile_side=side)
    assert not at.error
    data = downloads[f"image_tiles{side}_{dtype}.lrt"]()
    assert _metric(at, f"Tile file ({dtype})") == f"{len(data):,} B"
    reference = np.einsum("c,chw->hw", LUMA, PHOTO_FLOAT)[None] if mode == "luminance" else PHOTO_FLOAT
    decoded = to_uint8(decode_tiles(data)).double().numpy() / 255
    assert _number(_metric(at, "PSNR")) == pytest.approx(
        peak_signal_noise_ratio(reference, decoded, data_range=1), abs=0.006)
    channel_radio = [r for r in at.radio if r.key == "image_tiles_channel"]
    if mode == "ycbcr":
        assert list(channel_radio[0].options) == ["Y", "Cb", "Cr"]  # the labels shown
    else:
        assert not channel_radio  # one channel: nothing to choose


def test_a_target_psnr_is_met_by_the_downloaded_file(quiet_curves, downloads):  # noqa: F811
    at = _tiles(_upload(PHOTO), tiles_rule="psnr")
    at.number_input(key="image_tiles_psnr").set_value(34.0).run()
    assert not at.exception and not at.error
    data = downloads["image_tiles16_float16.lrt"]()
    decoded = to_uint8(decode_tiles(data)).double().numpy() / 255
    measured = peak_signal_noise_ratio(PHOTO_FLOAT, decoded, data_range=1)
    assert measured >= 34.0 and _number(_metric(at, "PSNR")) == pytest.approx(measured, abs=0.006)
    assert at.query_params["trule"] == "psnr" and at.query_params["tpsnr"] == "34"


def test_an_unreachable_psnr_is_an_error_and_the_controls_stay(quiet_curves):
    at = _upload(PHOTO)
    at.radio(key="image_mode").set_value("luminance").run()
    at.radio(key="image_dtype").set_value("int8").run()
    _tiles(at, tiles_rule="psnr")
    at.number_input(key="image_tiles_psnr").set_value(90.0).run()
    assert not at.exception
    assert "target PSNR must be at most" in at.error[0].value
    assert at.number_input(key="image_tiles_psnr").value == 90.0  # what the user set is still there


def test_a_budget_below_a_smaller_tiles_smallest_file_is_raised_to_it(quiet_curves):
    at = _tiles(_upload(PHOTO), tile_side=64, tiles_budget_kb=0.1)
    assert not at.error  # one 64 × 64 tile per channel: 17 + 3 × 3 bytes fit in 0.1 KB
    at.radio(key="image_tile_side").set_value(8).run()
    assert not at.exception and not at.error
    smallest = 17 + 3 * 6 * 8 * 3  # a rank code and a float16 mean for each of the 144 tiles
    budget = at.number_input(key="image_tiles_budget_kb")
    assert budget.min == budget.value == math.ceil(smallest / 100) / 10
    assert any("raised from 0.1 KB" in c.value for c in at.caption)


def test_a_tiles_link_reopens_its_view(quiet_curves):
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("pages/image.py")
    params = {"sample": "chelsea", "mode": "ycbcr", "dtype": "int8", "codec": "tiles", "tile": "32",
              "tbudget": "12.5"}  # the rule is the default, the byte budget
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception and not at.error
    assert at.radio(key="image_codec").value == "tiles" and at.radio(key="image_tile_side").value == 32
    assert at.number_input(key="image_tiles_budget_kb").value == 12.5
    assert int(_metric(at, "Tile file (int8)").split()[0].replace(",", "")) <= 12_500
    assert dict(at.query_params) == params  # written back as it came


def test_a_bad_tiles_link_falls_back_with_a_notice(quiet_curves):
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("pages/image.py")
    for name, value in {"codec": "tiles", "tile": "12", "tbudget": "abc"}.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception
    notices = " ".join(i.value for i in at.info) + " ".join(m.value for m in at.markdown)
    assert "tile side" in notices and "byte budget of the tiles" in notices
    assert at.radio(key="image_tile_side").value == 16


def test_the_chart_gains_the_tile_curve_and_the_verdict_says_where_tiles_stand():
    at = _tiles(_upload(PHOTO), tile_side=8)
    jobs.job_board().wait()
    at.run()
    assert not at.exception and not at.warning
    chart = _figure(at, "PSNR (dB) against size")
    names = [trace["name"] for trace in chart["data"]]
    assert "tile SVD, 8×8 tiles" in names and "SVD, float16 factors" in names
    assert "JPEG (Pillow, quality 5–95)" in names
    verdict = next(m.value for m in at.markdown if m.value.startswith("**Verdict"))
    assert "Against JPEG, the tile SVD (8×8 tiles)" in verdict
    assert "Against the global SVD, the tile SVD" in verdict
    star = next(t for t in chart["data"] if t["name"].startswith("this setting"))
    assert star["y"] == [pytest.approx(_number(_metric(at, "PSNR")), abs=0.006)]


def test_a_grey_sample_in_tiles(quiet_curves):
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("pages/image.py").run()
    _tiles(at, tile_side=16)
    at.selectbox(key="image_sample").set_value("camera").run()
    assert not at.exception and not at.error
    loaded = sources.load_sample("camera")
    assert _metric(at, "Tiles") == f"{-(-loaded.height // 16) * -(-loaded.width // 16):,}"


def test_the_presenter_view_stops_at_the_main_numbers(quiet_curves):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["present"] = "1"
    at.run()
    at.switch_page("pages/image.py")
    at.query_params["codec"] = "tiles"
    at.run()
    assert not at.exception and not at.error
    labels = {m.label for m in at.metric}
    assert "PSNR" in labels and "Tile file (float16)" in labels
    assert "Tiles" not in labels and not at.get("download_button")


# ============================================================================== figures (pure helpers)


def _rd(points: dict[str, list[tuple[float, float]]]) -> RateDistortion:
    """A RateDistortion of one pixel: codec -> (bits per pixel, PSNR), SSIM = PSNR / 100."""
    return RateDistortion(tuple(RatePoint(codec, f"p{i}", 1, bpp, q, q / 100)
                                for codec, pairs in points.items() for i, (bpp, q) in enumerate(pairs)),
                          1, 1, 1, 1, "rgb")


def test_the_verdict_says_how_far_the_tile_svd_is_from_jpeg_and_from_the_global_svd():
    rd = _rd({"svd-float16": [(0.1, 20.0), (10.0, 30.0)], "svd-int8": [(0.1, 20.0), (10.0, 30.0)],
              "jpeg": [(0.1, 30.0), (10.0, 40.0)], "tiles-16": [(0.1, 25.0), (10.0, 35.0)]})
    sentences = figures.rate_distortion_summary(rd)
    assert sentences[0].startswith("Against JPEG, the SVD loses at every size")  # the global verdict stays
    assert sentences[-2:] == [
        "Against JPEG, the tile SVD (16×16 tiles) loses at every size both reach (0.1–10 bits/pixel): its "
        "PSNR is 5.0 dB lower on average, where the global SVD's is 10.0 dB lower.",
        "Against the global SVD, the tile SVD wins at every size both reach (0.1–10 bits/pixel): its PSNR is "
        "5.0 dB higher on average."]
    assert len(figures.rate_distortion_summary(_rd({"svd-int8": [(0.1, 1.0), (1.0, 2.0)],
                                                    "jpeg": [(0.1, 3.0), (1.0, 4.0)]}))) == 1  # no tiles


def test_the_rank_heatmap_has_a_cell_per_tile_with_rank_0_uncoloured_and_raw_on_top():
    ranks = np.array([[0, 2], [-1, 1]])  # -1: RAW_RANK
    figure = figures.tile_rank_figure(ranks, np.array([[3, 70], [321, 40]]), tile_side=16, height=20,
                                      width=30, channel="Y")
    (heatmap,) = figure.data  # no picture given: the heatmap alone
    assert list(heatmap.x) == [0, 16, 30] and list(heatmap.y) == [0, 16, 20]  # edge tiles cut short
    z = np.asarray(heatmap.z, dtype=float)
    assert np.isnan(z[0, 0]) and z[0, 1] == 2 and z[1, 1] == 1 and z[1, 0] == 3  # raw: one above the top
    assert list(heatmap.colorbar.ticktext)[-1] == "raw" and heatmap.colorbar.tickvals[-1] == 3
    assert np.asarray(heatmap.text).tolist() == [["0 (mean only)", "2"], ["raw", "1"]]
    assert figure.layout.yaxis.range == (20, 0)  # row 0 at the top, as in the picture
    with_picture = figures.tile_rank_figure(ranks, np.ones((2, 2)), tile_side=16, height=20, width=30,
                                            channel="Y", picture=b"\xff\xd8jpeg", picture_size=(10, 15))
    picture = with_picture.data[0]
    assert picture.type == "image" and picture.source == "data:image/jpeg;base64,/9hqcGVn"
    assert (picture.dx, picture.dy) == (2.0, 2.0)  # 15 px shown for 30 px of image


def test_the_histogram_has_a_bar_per_rank_and_one_for_raw():
    figure = figures.tile_histogram_figure((5, 0, 2), 4)
    assert list(figure.data[0].x) == ["0", "1", "2", "raw"] and list(figure.data[0].y) == [5, 0, 2, 4]
