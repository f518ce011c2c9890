"""The quiz page under AppTest: the hidden picture at each rank of the schedule (checked against numpy's SVD
of the picture), four shuffled answers and a typed one, the score, new rounds, links, and the room poll."""

import io

import numpy as np
import pytest
from PIL import Image
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from lowrank_core import sources
from tests.conftest import APP
from ui.limits import QUIZ_CHOICES
from ui.poll.storage import SqlitePollStore
from ui.quiz import QUIZ_RANK_SCHEDULE, quiz_photo, quiz_schedule
from ui.quiz.pictures import ANSWERS, answer_of, choices_for, is_right

NAMES = list(sources.QUIZ_NAMES)


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


def _quiz(params: dict[str, str] | None = None, *, present: bool = False) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/quiz.py")
    at.session_state["present"] = present
    for name, value in (params or {}).items():
        at.query_params[name] = value
    at.run()
    assert not at.exception
    return at


def _round_of(name: str) -> int:
    return next(r for r in range(10 * len(NAMES)) if quiz_photo(r, NAMES) == name)


def _shown_rank(at: AppTest) -> int:
    heading = next(m.value for m in at.markdown if m.value.startswith("### Rank"))
    return int(heading.split("**")[1])


def _numpy_rank_r(name: str, rank: int) -> np.ndarray:
    """The rank-r approximation of each channel of the picture, by numpy in float64, as (H, W, 3)."""
    pixels = sources.load_quiz_picture(name).pixels.double().numpy()  # (C, H, W) in [0, 1]
    out = []
    for channel in pixels:
        U, S, Vh = np.linalg.svd(channel, full_matrices=False)
        out.append((U[:, :rank] * S[:rank]) @ Vh[:rank])
    stacked = np.clip(np.stack(out, axis=-1), 0, 1)
    return np.repeat(stacked, 3, axis=2) if stacked.shape[2] == 1 else stacked


def _decoded(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float64) / 255


def _answer_buttons(at: AppTest) -> list:
    return [b for b in at.button if b.key.startswith("quiz_answer_")]


def test_every_picture_comes_once_per_cycle_in_a_seeded_order():
    assert len(NAMES) >= 20 and set(NAMES) == set(ANSWERS)
    for cycle in range(3):
        names = [quiz_photo(cycle * len(NAMES) + i, NAMES) for i in range(len(NAMES))]
        assert sorted(names) == sorted(NAMES)
    assert [quiz_photo(i, NAMES) for i in range(30)] == [quiz_photo(i, NAMES) for i in range(30)]


@pytest.mark.parametrize("max_rank", [1, 2, 7, 300, 427, 512, 1000])
def test_the_schedule_rises_to_the_full_rank(max_rank):
    schedule = quiz_schedule(max_rank)
    assert schedule[-1] == max_rank and schedule[0] == 1
    assert all(b > a for a, b in zip(schedule, schedule[1:], strict=False))
    assert set(schedule[:-1]) <= set(QUIZ_RANK_SCHEDULE)


@pytest.mark.parametrize("round_number", [0, 1, 7, 40])
def test_four_shuffled_answers_one_of_them_right(round_number):
    name = quiz_photo(round_number, NAMES)
    offered = choices_for(round_number, name, NAMES)
    assert len(offered) == len(set(offered)) == QUIZ_CHOICES and answer_of(name) in offered
    assert offered == choices_for(round_number, name, NAMES)  # every phone sees the same four
    positions = {choices_for(r, quiz_photo(r, NAMES), NAMES).index(answer_of(quiz_photo(r, NAMES)))
                 for r in range(40)}
    assert len(positions) == QUIZ_CHOICES  # the right answer is not always in the same place


def test_typed_answers_are_matched_loosely():
    assert is_right("chelsea", "  The CAT! ") and is_right("chelsea", "kitten")
    assert is_right("coffee", "espresso")
    assert not is_right("chelsea", "a dog") and not is_right("chelsea", "")


def test_the_round_starts_at_rank_one_and_shows_numpys_rank_one_picture(images):
    at = _quiz()
    answer = quiz_photo(0, NAMES)
    assert at.session_state["quiz_answer"] == answer
    assert _shown_rank(at) == 1
    shown, expected = _decoded(images[-1]), _numpy_rank_r(answer, 1)
    assert shown.shape == expected.shape  # the pictures are shown at full size
    assert np.abs(shown - expected).mean() < 2 / 255  # JPEG quality 90 of the same picture
    assert answer not in " ".join(m.value for m in at.markdown).lower()  # the name stays hidden
    labels = [b.label for b in _answer_buttons(at)]
    assert labels == choices_for(0, answer, NAMES)
    assert at.query_params == {}


def test_next_rank_walks_the_schedule_and_stops_at_the_end(images):
    at = _quiz()
    answer = at.session_state["quiz_answer"]
    schedule = quiz_schedule(min(sources.load_quiz_picture(answer).pixels.shape[1:]))
    for step in range(1, 4):
        at.button(key="quiz_next").click().run()
        assert not at.exception
        assert _shown_rank(at) == schedule[step]
        assert at.query_params == {"step": str(step)}
    assert np.abs(_decoded(images[-1]) - _numpy_rank_r(answer, schedule[3])).mean() < 2 / 255
    at.session_state["quiz_step"] = len(schedule) - 1
    at.run()
    assert _shown_rank(at) == schedule[-1]
    assert at.button(key="quiz_next").disabled


def test_a_wrong_answer_keeps_going_and_the_right_one_reveals_and_scores(images):
    at = _quiz()
    answer = at.session_state["quiz_answer"]
    wrong = next(b for b in _answer_buttons(at) if b.label != answer_of(answer))
    wrong.click().run()
    assert not at.exception
    assert len(at.warning) == 1 and not at.success and not at.session_state["quiz_revealed"]

    sent_before = len(images)
    next(b for b in _answer_buttons(at) if b.label == answer_of(answer)).click().run()
    assert not at.exception
    assert len(at.success) == 1 and "rank 1" in at.success[0].value
    assert f"“{answer}”" in at.info[0].value
    original = _decoded(images[sent_before:][-1])  # the reveal shows the original after the rank-1 image
    expected = sources.load_quiz_picture(answer).pixels.double().numpy().transpose(1, 2, 0)
    expected = np.repeat(expected, 3, axis=2) if expected.shape[2] == 1 else expected
    assert np.abs(original - expected).mean() < 2 / 255
    assert all(b.disabled for b in _answer_buttons(at))
    assert at.metric[0].label == "Your score" and at.metric[0].value == "1 of 1"


def test_a_typed_answer_counts_and_is_shown_as_plain_text():
    round_number = _round_of("chelsea")
    at = _quiz({"round": str(round_number)})
    at.text_input(key="quiz_typed").input("<b>a dog</b>")
    at.button(key="quiz_guess_typed").click().run()
    assert not at.exception and not at.session_state["quiz_revealed"]
    assert any(t.value == "Your guess: <b>a dog</b>" for t in at.text)  # st.text: never markup
    at.text_input(key="quiz_typed").input("The Cat")
    at.button(key="quiz_guess_typed").click().run()
    assert at.session_state["quiz_revealed"] and "a cat" in at.success[0].value


def test_reveal_new_round_and_the_score():
    at = _quiz()
    first = at.session_state["quiz_answer"]
    at.button(key="quiz_reveal").click().run()
    assert f"“{first}”" in at.info[0].value and not at.success
    assert at.metric[0].value == "0 of 1"
    at.button(key="quiz_new").click().run()
    assert not at.exception
    assert at.session_state["quiz_answer"] == quiz_photo(1, NAMES) != first
    assert _shown_rank(at) == 1 and not at.info
    assert at.query_params == {"round": "1"}
    right = next(b for b in _answer_buttons(at) if b.label == answer_of(quiz_photo(1, NAMES)))
    right.click().run()
    assert at.metric[0].value == "1 of 2"


def test_a_link_reopens_the_round_and_step():
    at = _quiz({"round": "7", "step": "4"})
    answer = quiz_photo(7, NAMES)
    assert at.session_state["quiz_answer"] == answer
    schedule = quiz_schedule(min(sources.load_quiz_picture(answer).pixels.shape[1:]))
    assert _shown_rank(at) == schedule[min(4, len(schedule) - 1)]
    assert not at.info


def test_a_bad_link_starts_round_zero_with_a_notice():
    at = _quiz({"round": "many", "step": "999"})
    notice = at.info[0].value
    assert "many" in notice and "999" in notice
    assert at.session_state["quiz_answer"] == quiz_photo(0, NAMES)
    assert _shown_rank(at) == 1


def test_the_room_answers_what_is_it_from_its_phones(tmp_path, monkeypatch):
    monkeypatch.setenv("LOWRANK_POLL_DB", str(tmp_path / "polls.sqlite3"))
    # AppTest runs a switched-to page alone: the sidebar's presenter toggle is not drawn, so its state is
    # dropped after each run and set again before the next.
    presenter = _quiz({"round": "3"}, present=True)
    presenter.session_state["present"] = True
    presenter.button(key="quiz_poll_open").click().run()
    assert not presenter.exception
    poll_id, room = presenter.query_params["poll"], presenter.query_params["room"]
    name = quiz_photo(3, NAMES)
    voter = _quiz({"round": "3", "poll": poll_id, "room": room})
    assert not _answer_buttons(voter)  # the poll's form instead of the quiz's own answers
    assert voter.radio(key="quiz_vote_choice").options == choices_for(3, name, NAMES)
    voter.radio(key="quiz_vote_choice").set_value(answer_of(name))
    voter.button(key="quiz_vote").click().run()
    assert not voter.exception and voter.success
    typed = _quiz({"round": "3", "poll": poll_id, "room": room})
    typed.text_input(key="quiz_vote_typed").input(next(iter(ANSWERS[name][1])))  # another word for it
    typed.button(key="quiz_vote").click().run()
    assert typed.success
    stranger = _quiz({"round": "3", "poll": poll_id})  # the link without its room code
    stranger.radio(key="quiz_vote_choice").set_value(answer_of(name))
    stranger.button(key="quiz_vote").click().run()
    assert stranger.error and "room code" in stranger.error[0].value
    counts = SqlitePollStore(tmp_path / "polls.sqlite3").tally(poll_id).counts
    assert counts[answer_of(name)] == 2 and sum(counts.values()) == 2
    presenter.session_state["present"] = True
    presenter.run()
    histogram = next(c for c in presenter.get("plotly_chart") if "What is it?" in c.proto.spec)
    assert "It was" not in histogram.proto.spec  # the answer stays hidden until the reveal
    presenter.session_state["present"] = True
    presenter.button(key="quiz_reveal").click().run()
    histogram = next(c for c in presenter.get("plotly_chart") if "What is it?" in c.proto.spec)
    assert "It was" in histogram.proto.spec
