"""What the presenter's keys move on the server: the callback acts on the browser's key (here put in place
of the component's trigger) within the bounds the page registered, and a slide deck's buttons step it."""

from streamlit.testing.v1 import AppTest

SCRIPT = """
import streamlit as st
from ui.presenter import keys

st.session_state.setdefault("rank", 5)
event = st.session_state.pop("fake_key", None)
if event is not None:  # what the browser's trigger would deliver before the run
    original, keys.last_key = keys.last_key, lambda: event
    try:
        keys.on_key()
    finally:
        keys.last_key = original
keys.forget_targets()
keys.rank_keys("rank", 1, 6)
slide = keys.slide_deck("slide", 3)
st.write(f"rank {st.session_state['rank']} slide {slide} present {st.session_state.get('present', False)}")
"""


def _shown(at: AppTest) -> str:
    return at.markdown[-1].value


def _press(at: AppTest, action: str, value: int) -> str:
    at.session_state["fake_key"] = (action, value)
    at.run()
    assert not at.exception
    return _shown(at)


def test_keys_move_the_rank_the_slides_and_the_view_within_their_bounds():
    at = AppTest.from_string(SCRIPT).run()
    assert _shown(at) == "rank 5 slide 1 present False"
    assert _press(at, "rank", 1) == "rank 6 slide 1 present False"
    assert _press(at, "rank", 1) == "rank 6 slide 1 present False"  # the page's largest rank
    assert _press(at, "rank", -1) == "rank 5 slide 1 present False"
    assert _press(at, "step", 1) == "rank 5 slide 2 present False"
    assert _press(at, "goto", 9) == "rank 5 slide 3 present False"  # the last slide
    assert _press(at, "step", -1) == "rank 5 slide 2 present False"
    assert _press(at, "present", 1) == "rank 5 slide 2 present True"
    assert _press(at, "present", 1) == "rank 5 slide 2 present False"


def test_the_deck_has_buttons_for_a_mouse():
    at = AppTest.from_string(SCRIPT).run()
    assert at.button(key="slide_previous").disabled
    at.button(key="slide_next").click().run()
    assert _shown(at) == "rank 5 slide 2 present False"
    at.button(key="slide_next").click().run()
    assert at.button(key="slide_next").disabled and _shown(at).endswith("slide 3 present False")
