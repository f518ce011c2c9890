"""The image page's room poll under AppTest: the presenter view's room section opens a poll, a phone's page
votes the rank it shows, a second try at once is refused, a link without the room code is refused, and the
presenter's histogram holds what the database holds (read with sqlite3)."""

import sqlite3

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import APP
from tests.pages.scrubber import settle


@pytest.fixture
def database(tmp_path, monkeypatch):
    path = tmp_path / "polls.sqlite3"
    monkeypatch.setenv("LOWRANK_POLL_DB", str(path))
    return path


def _image(params: dict[str, str], *, present: bool = False) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/image.py")
    at.session_state["present"] = present  # AppTest runs the page alone: the sidebar's toggle is not drawn
    at.query_params.update(params)
    at.run()
    assert not at.exception
    return at


def test_a_phone_votes_the_rank_it_shows(database):
    presenter = _image({"sample": "chelsea", "rank": "20"}, present=True)
    assert [h.value for h in presenter.header] == ["The room"]
    presenter.session_state["present"] = True
    presenter.button(key="image_poll_open").click().run()
    poll, room = presenter.query_params["poll"], presenter.query_params["room"]
    assert len(room) == 6 and room.isdigit()

    phone = _image({"sample": "chelsea", "rank": "20", "poll": poll, "room": room})
    assert phone.button(key="image_vote").label == "Vote: rank 20 is good enough"
    settle(phone, "image_scrub", 24)  # the phone moves its rank scrubber
    assert phone.button(key="image_vote").label == "Vote: rank 24 is good enough"
    phone.button(key="image_vote").click().run()
    assert phone.success and phone.text[-1].value == "24"
    settle(phone, "image_scrub", 25)
    phone.button(key="image_vote").click().run()  # at once: the rate limit
    assert phone.error and "try again" in phone.error[0].value

    stranger = _image({"sample": "chelsea", "rank": "20", "poll": poll})
    stranger.button(key="image_vote").click().run()
    assert stranger.error and "room code" in stranger.error[0].value

    with sqlite3.connect(database) as connection:
        assert connection.execute(f"SELECT answer FROM votes_{poll}").fetchall() == [("24",)]
    presenter.session_state["present"] = True
    presenter.run()
    assert [m.value for m in presenter.metric if m.label == "votes"] == ["1"]
    chart = next(c for c in presenter.get("plotly_chart") if "At which rank" in c.proto.spec)
    assert '"x":[24]' in chart.proto.spec.replace(" ", "") and '"y":[1]' in chart.proto.spec.replace(" ", "")

    presenter.session_state["present"] = True
    presenter.button(key="image_poll_close").click().run()
    assert "poll" not in presenter.query_params
    late = _image({"sample": "chelsea", "rank": "20", "poll": poll, "room": room})
    late.button(key="image_vote").click().run()
    assert late.error and "closed" in late.error[0].value


def test_no_room_section_outside_the_presenter_view(database):
    at = _image({"sample": "chelsea"})
    assert "The room" not in [h.value for h in at.header]
    assert not [b for b in at.button if b.key == "image_poll_open"]
