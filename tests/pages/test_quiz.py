"""The quiz page under AppTest: the hidden photograph at each rank of the schedule (checked against numpy's
SVD of the photograph), the answer buttons, the reveal, new rounds and links."""

import io

import numpy as np
import pytest
from PIL import Image
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from lowrank_core import sources
from tests.conftest import APP
from ui.quiz import QUIZ_RANK_SCHEDULE, quiz_photo, quiz_schedule

PHOTOS = list(sources.PHOTO_NAMES)


@pytest.fixture
def images(monkeypatch):
    """The bytes of every image the page sends, in order."""
    sent: list[bytes] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def recording(self, path_or_data, mimetype, kind, filename=None):
        if isinstance(path_or_data, bytes) and mimetype.startswith("image/"):
            sent.append(path_or_data)
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    return sent


def _quiz(params: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/quiz.py")
    for name, value in (params or {}).items():
        at.query_params[name] = value
    at.run()
    assert not at.exception
    return at


def _shown_rank(at: AppTest) -> int:
    heading = next(m.value for m in at.markdown if m.value.startswith("### Rank"))
    return int(heading.split("**")[1])


def _numpy_rank_r(name: str, rank: int) -> np.ndarray:
    """The rank-r approximation of each channel of the photograph, by numpy in float64, as (H, W, C)."""
    pixels = sources.load_sample(name).pixels.double().numpy()  # (C, H, W) in [0, 1]
    out = []
    for channel in pixels:
        U, S, Vh = np.linalg.svd(channel, full_matrices=False)
        out.append((U[:, :rank] * S[:rank]) @ Vh[:rank])
    return np.clip(np.stack(out, axis=-1), 0, 1)


def _decoded(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        array = np.asarray(image.convert("RGB"), dtype=np.float64) / 255
    return array


def test_every_photograph_comes_once_per_cycle_in_a_seeded_order():
    for cycle in range(3):
        names = [quiz_photo(cycle * len(PHOTOS) + i, PHOTOS) for i in range(len(PHOTOS))]
        assert sorted(names) == sorted(PHOTOS)
    assert [quiz_photo(i, PHOTOS) for i in range(10)] == [quiz_photo(i, PHOTOS) for i in range(10)]


@pytest.mark.parametrize("max_rank", [1, 2, 7, 300, 427, 512, 1000])
def test_the_schedule_rises_to_the_full_rank(max_rank):
    schedule = quiz_schedule(max_rank)
    assert schedule[-1] == max_rank and schedule[0] == 1
    assert all(b > a for a, b in zip(schedule, schedule[1:], strict=False))
    assert set(schedule[:-1]) <= set(QUIZ_RANK_SCHEDULE)


def test_the_round_starts_at_rank_one_and_shows_numpys_rank_one_picture(images):
    at = _quiz()
    answer = quiz_photo(0, PHOTOS)
    assert at.session_state["quiz_answer"] == answer
    assert _shown_rank(at) == 1
    shown = _decoded(images[-1])
    expected = _numpy_rank_r(answer, 1)
    assert shown.shape[:2] == expected.shape[:2]  # the photographs are shown at full size
    if expected.shape[2] == 1:
        expected = np.repeat(expected, 3, axis=2)
    assert np.abs(shown - expected).mean() < 2 / 255  # JPEG quality 90 of the same picture
    assert answer not in " ".join(m.value for m in at.markdown).lower()  # the name stays hidden
    assert at.query_params == {}


def test_next_rank_walks_the_schedule_and_stops_at_the_end(images):
    at = _quiz()
    answer = at.session_state["quiz_answer"]
    schedule = quiz_schedule(min(sources.load_sample(answer).pixels.shape[1:]))
    for step in range(1, 4):
        at.button(key="quiz_next").click().run()
        assert not at.exception
        assert _shown_rank(at) == schedule[step]
        assert at.query_params == {"step": str(step)}
    expected = _numpy_rank_r(answer, schedule[3])
    shown = _decoded(images[-1])
    if expected.shape[2] == 1:
        expected = np.repeat(expected, 3, axis=2)
    assert np.abs(shown - expected).mean() < 2 / 255
    at.session_state["quiz_step"] = len(schedule) - 1
    at.run()
    assert _shown_rank(at) == schedule[-1]
    assert at.button(key="quiz_next").disabled


def test_a_wrong_answer_keeps_going_and_the_right_one_reveals(images):
    at = _quiz()
    answer = at.session_state["quiz_answer"]
    wrong = next(name for name in PHOTOS if name != answer)
    at.button(key=f"quiz_answer_{wrong}").click().run()
    assert not at.exception
    assert len(at.warning) == 1 and not at.success
    assert not at.session_state["quiz_revealed"]

    sent_before = len(images)
    at.button(key=f"quiz_answer_{answer}").click().run()
    assert not at.exception
    assert len(at.success) == 1 and "rank 1" in at.success[0].value
    assert f"“{answer}”" in at.info[0].value
    original = _decoded(images[sent_before:][-1])  # the reveal shows the original after the rank-1 image
    expected = sources.load_sample(answer).pixels.double().numpy().transpose(1, 2, 0)
    if expected.shape[2] == 1:
        expected = np.repeat(expected, 3, axis=2)
    assert np.abs(original - expected).mean() < 2 / 255
    assert all(b.disabled for b in at.button if b.key.startswith("quiz_answer_"))


def test_reveal_and_new_round():
    at = _quiz()
    first = at.session_state["quiz_answer"]
    at.button(key="quiz_reveal").click().run()
    assert f"“{first}”" in at.info[0].value and not at.success
    at.button(key="quiz_new").click().run()
    assert not at.exception
    assert at.session_state["quiz_answer"] == quiz_photo(1, PHOTOS) != first
    assert _shown_rank(at) == 1 and not at.info
    assert at.query_params == {"round": "1"}


def test_a_link_reopens_the_round_and_step():
    at = _quiz({"round": "7", "step": "4"})
    answer = quiz_photo(7, PHOTOS)
    assert at.session_state["quiz_answer"] == answer
    schedule = quiz_schedule(min(sources.load_sample(answer).pixels.shape[1:]))
    assert _shown_rank(at) == schedule[4]
    assert not at.info
    assert at.query_params == {"round": "7", "step": "4"}


def test_a_bad_link_starts_round_zero_with_a_notice():
    at = _quiz({"round": "many", "step": "999"})
    notice = at.info[0].value
    assert "many" in notice and "999" in notice
    assert at.session_state["quiz_answer"] == quiz_photo(0, PHOTOS)
    assert _shown_rank(at) == 1
