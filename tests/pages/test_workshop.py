"""Workshop features through the pages (AppTest): links that reopen a view, the presenter view, sweeps,
GIF and PNG exports."""

import io

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from lowrank_core import sources
from lowrank_core.sources import generate
from tests.conftest import APP
from tests.pages import scrubber
from ui import exports
from ui.limits import MAX_FRAME_SIDE
from ui.stills import colour_map, heatmap_image

FLOAT32_EPS = float(np.finfo(np.float32).eps)


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
    assert scrubber.data(at, "matrix_scrub")["command"]["rank"] == 5 and metrics["rank kept"] == "5"
    assert metrics["numerical rank"] == str(_numpy_rank(W))
    assert _number(metrics["relative Frobenius error"]) == pytest.approx(_numpy_error(W, 5), rel=1e-2)
    assert at.toggle(key="matrix_log").value is False
    assert not at.info  # nothing to complain about
    assert at.query_params == {"gen": "hilbert", "n": "12", "rank": "5", "log": "0"}  # written back as is

    scrubber.settle(at, "matrix_scrub", 2)  # the address follows the settled rank
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
    assert scrubber.data(at, "tour_scrub")["command"]["rank"] == 2
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
    assert scrubber.data(at, "tour_scrub")["command"]["rank"] == 4


def test_the_presenter_view_opens_from_the_link_and_closes():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["present"] = "1"
    at.run()
    assert not at.exception
    assert at.toggle(key="present").value is True
    styles = [h for h in at.get("html") if "stSidebar" in h.proto.body]
    assert len(styles) == 1 and "display: none" in styles[0].proto.body
    assert [s.value for s in at.subheader] == ["1. A matrix built from two thin ones"]  # one step a slide
    assert not at.get("download_button")  # no exports in front of the room
    assert at.query_params.get("present") == "1"

    at.button(key="present_leave").click().run()  # AppTest reruns the tour page alone: no sidebar now
    assert not at.exception
    assert at.session_state["present"] is False
    assert not [h for h in at.get("html") if "stSidebar" in h.proto.body]
    assert "tolerance ε·max(m, n)·σ₁" in {m.label for m in at.metric}
    assert "present" not in at.query_params


def test_the_tour_is_a_slide_deck_with_notes_in_the_presenter_view():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["present"] = "1"
    at.run()
    # After the first run AppTest reruns the tour alone (no sidebar, whose toggle holds the presenter
    # view), so the view is set again before each run.
    at.session_state["present"] = True
    at.button(key="tour_slide_next").click().run()  # the next slide (→ does the same)
    assert not at.exception
    assert [s.value for s in at.subheader] == ["2. Its rank"]
    assert {m.label for m in at.metric} == {"rank of W"}
    at.session_state["present"] = True
    at.session_state["tour_slide"] = 3
    at.run()
    labels = {m.label for m in at.metric}
    assert "U.shape" in labels and "tolerance ε·max(m, n)·σ₁" not in labels  # secondary numbers hidden
    notes = [e for e in at.expander if e.label == "Presenter notes"]
    assert len(notes) == 1 and "cliff" in notes[0].markdown[0].value  # speaker notes in their panel only
    at.session_state["present"] = False
    at.run()
    assert len(at.subheader) >= 7 and not [e for e in at.expander if e.label == "Presenter notes"]


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
    shown = scrubber.data(at, "matrix_scrub")  # the handle goes to 5 and the browser sweeps 1 -> 5
    assert shown["command"]["rank"] == 5 and shown["play"] == 1
    assert _metrics(at)["rank kept"] == "5"
    assert at.query_params["rank"] == "5"


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
    monkeypatch.setattr(exports, "kaleido_problem", lambda: "the kaleido package is not installed")
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
    shown = scrubber.data(at, "image_scrub")
    assert shown["command"]["rank"] == 17 and shown["view_command"]["view"] == "error"
    assert at.radio(key="image_dtype").value == "float32"
    assert scrubber.header(at, "image_scrub").dtype == "float32"  # the payload is the link's precision
    assert not [i for i in at.info if "link" in i.value]
    relative = float(_metrics(at)["Relative error"])
    assert relative == pytest.approx(_numpy_relative_error("chelsea", 17), abs=2e-4)
    assert at.query_params == params  # written back as it came


def test_an_image_link_with_ycbcr_ranks_and_a_rule():
    at = _open("pages/image.py", {"sample": "coffee", "mode": "ycbcr", "rank": "40", "chroma": "6"})
    assert at.radio(key="image_mode").value == "ycbcr"
    shown = scrubber.data(at, "image_scrub")
    assert shown["ranks"] == [None, 6] and shown["command"]["rank"] == 40 and shown["group"] == 0
    at = _open("pages/image.py", {"sample": "camera", "rule": "energy", "energy": "95"})
    assert at.radio(key="image_rule").value == "energy" and at.number_input(key="image_energy").value == 95.0
    grey = sources.load_sample("camera").pixels.double().numpy()[0]
    S = np.linalg.svd(grey, compute_uv=False)
    expected = int(np.argmax(np.cumsum(S**2) / (S**2).sum() >= 0.95)) + 1
    assert scrubber.data(at, "image_scrub")["command"]["rank"] == expected


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


def test_a_link_notice_outlasts_the_scrubbers_ready_rerun():
    """The scrubber reruns the page once when it is ready, unasked: the link's notice stays until the view
    changes (it was wiped by that rerun, half a second after the page opened)."""
    at = _open("pages/image.py", {"sample": "chelsea", "rank": "99999"})
    assert any("could not be used" in i.value for i in at.info)
    scrubber.report(at, "image_scrub", status={"state": "ready"})
    assert any("could not be used" in i.value for i in at.info)
    at.run()
    assert any("could not be used" in i.value for i in at.info)
    scrubber.settle(at, "image_scrub", 12)  # the person moves the rank: the address changes
    at.run()
    assert not any("could not be used" in i.value for i in at.info)


def test_an_upload_image_link_asks_for_the_image():
    at = _open("pages/image.py", {"src": "upload", "rank": "5"})
    assert at.radio(key="image_source").value == "upload"
    assert any("cannot travel in a link" in i.value for i in at.info)


def test_the_image_sweep_plays_and_its_gif_has_one_frame_per_rank(stored):
    at = _open("pages/image.py", {"sample": "chelsea", "rank": "3"})
    at.number_input(key="image_sweep_to").set_value(7).run()
    at.button(key="image_sweep_play_button").click().run()
    assert not at.exception
    shown = scrubber.data(at, "image_scrub")  # the handle goes to 7 and the browser sweeps 1 -> 7
    assert shown["command"]["rank"] == 7 and shown["play"] == 1 and at.query_params["rank"] == "7"
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
