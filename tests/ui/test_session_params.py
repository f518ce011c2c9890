"""The address's session fields (ui.links): ``present`` and a room poll's ``poll``/``room`` stay in every
page's address, are never taken for a page's link, and each page's last query string is remembered."""

from streamlit.testing.v1 import AppTest

SCRIPT = """
import streamlit as st
from ui.links import incoming_params, page_query, poll_params, set_current_page, set_poll_params, sync_url

set_current_page(st.session_state.get("page", "image"))
st.write(f"poll {poll_params()}")
st.write(f"incoming {incoming_params()}")
if st.session_state.pop("close", False):
    set_poll_params(None)
sync_url(st.session_state.get("own", {}))
st.write(f"memory {page_query('image')}")
"""


def _lines(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def test_a_voters_link_keeps_its_poll_on_every_rerun_and_page():
    at = AppTest.from_string(SCRIPT)
    at.query_params.update({"sample": "chelsea", "poll": "0123456789ab", "room": "123456"})
    at.run()
    assert _lines(at)[:2] == ["poll {'poll': '0123456789ab', 'room': '123456'}",
                              "incoming {'sample': 'chelsea'}"]
    assert at.query_params == {"poll": "0123456789ab", "room": "123456"}  # own fields: none were given
    at.session_state["own"] = {"sample": "chelsea", "rank": "20"}
    at.run()
    assert at.query_params == {"sample": "chelsea", "rank": "20", "poll": "0123456789ab", "room": "123456"}
    assert _lines(at)[1] == "incoming None" and _lines(at)[2] == "memory {'sample': 'chelsea', 'rank': '20'}"
    at.session_state["page"] = "matrix"
    at.session_state["own"] = {}
    at.query_params.clear()  # a page reached from the navigation: no query string
    at.run()
    assert _lines(at)[1] == "incoming None"  # an empty address is never a link
    assert at.query_params == {"poll": "0123456789ab", "room": "123456"}
    assert _lines(at)[2] == "memory {'sample': 'chelsea', 'rank': '20'}"  # the image page's, kept


def test_a_closed_poll_leaves_the_address():
    at = AppTest.from_string(SCRIPT)
    at.query_params.update({"poll": "0123456789ab", "room": "123456"})
    at.run()
    at.session_state["close"] = True
    at.run()
    assert at.query_params == {}
    at.run()
    assert _lines(at)[0] == "poll {}"  # not adopted again from the address it just left
