"""The rank scrubber's Python side under AppTest (no browser): it mounts, returns plain values, keeps its
data byte-identical on an echo rerun, and turns a page-side rank change into a command."""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lowrank_core import scrub
from lowrank_core.errors import LowRankError

APP = str(Path(__file__).resolve().parent / "e2e" / "apps" / "scrubber_app.py")


def scrubber_elements(at: AppTest) -> list:
    """The two mounts (carrier, scrubber) as their BidiComponent protos."""
    return [node.proto for node in at.get("bidi_component")]


def test_the_test_app_mounts_the_scrubber():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["sample"] = "chelsea"
    at.run()
    assert not at.exception
    carrier, scrubber = scrubber_elements(at)
    assert carrier.WhichOneof("data") == "bytes"
    header = scrub.read_header(carrier.bytes)
    data = json.loads(scrubber.json)
    assert data["payload"] == header.payload_id and data["max_rank"] == header.full_rank == 300
    assert data["command"] == {"rank": 10, "nonce": 0}
    assert any(m.value == "settled rank: 10" for m in at.markdown)
    assert any(m.value == "status: pending" for m in at.markdown)  # no browser here


def test_an_echo_rerun_sends_identical_data_and_a_page_command_a_new_nonce():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["sample"] = "chelsea"
    at.run()
    first = [p.SerializeToString() for p in scrubber_elements(at)]
    at.run()  # the page passes back what it got: nothing changes
    assert [p.SerializeToString() for p in scrubber_elements(at)] == first
    at.button(key="ask").click().run()  # the page asks for rank 12
    data = json.loads(scrubber_elements(at)[1].json)
    assert data["command"] == {"rank": 12, "nonce": 1}
    assert any(m.value == "settled rank: 12" for m in at.markdown)
    assert scrubber_elements(at)[0].SerializeToString() == first[0]  # the blob is the same message


def test_rejects_bytes_that_are_not_a_payload(monkeypatch):
    from streamlit import config

    # the shipped config redacts unexpected errors ("none"); this test reads the one it provokes
    monkeypatch.setattr(config, "get_option", lambda key, real=config.get_option: (
        "full" if key == "client.showErrorDetails" else real(key)))
    at = AppTest.from_string(
        "from ui.components.scrubber import rank_scrubber\nrank_scrubber(b'nope', key='s', rank=1)")
    at.run()
    assert at.exception and "not a scrubber payload" in at.exception[0].message


@pytest.mark.parametrize("kwargs, message", [({"view": "sideways"}, "views"), ({"group": 3}, "group"),
                                             ({"min_rank": 5, "max_rank": 2}, "min_rank")])
def test_rejects_bad_options(kwargs, message):
    from ui.components import scrubber

    payload = scrub.pack(scrub.matrix_scrub_factors(*_tiny_matrix(), colours=_grey_table()))
    with pytest.raises(LowRankError, match=message):
        scrubber.rank_scrubber(payload, key="s", rank=1, **kwargs)


def _tiny_matrix():
    import torch

    from lowrank_core import factorize

    W = torch.arange(12.0).reshape(3, 4)
    return W, factorize(W)


def _grey_table():
    import numpy as np

    return np.repeat(np.arange(0, 256, 32, dtype=np.uint8)[:, None], 3, axis=1)


def test_a_remounted_scrubber_is_commanded_to_the_rank_shown_last():
    """The page stopped before mounting it (an upload awaited) and its browser state went with it: the new
    scrubber starts from the command, which must be the rank the page showed, not the first one."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["sample"] = "chelsea"
    at.run()
    settled = {"rank": 25, "ranks": [25], "seen": 0}
    at.session_state["scrub"] = {"status": {"state": "ready", "instance": "first"}, "settled": settled}
    at.run()
    assert any(m.value == "settled rank: 25" for m in at.markdown)
    elements = [p.SerializeToString() for p in scrubber_elements(at)]
    assert json.loads(scrubber_elements(at)[1].json)["command"] == {"rank": 10, "nonce": 0}  # not sent back
    at.run()
    assert [p.SerializeToString() for p in scrubber_elements(at)] == elements  # echoes: nothing re-sent
    # a new scrubber reports (its old state kept or not, as Streamlit decides): it must start at 25, not 10
    at.session_state["scrub"] = {"status": {"state": "ready", "instance": "second"}, "settled": settled}
    at.run()
    assert json.loads(scrubber_elements(at)[1].json)["command"] == {"rank": 25, "nonce": 1}
    assert any(m.value == "settled rank: 25" for m in at.markdown)


def test_a_scrubber_whose_browser_state_was_dropped_keeps_the_rank_and_view_shown_last():
    """Leaving the page drops the component's state; coming back, the first run (before the new scrubber
    reports) must still return the rank and view the person left, and the new scrubber is commanded there."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["sample"] = "chelsea"
    at.run()
    at.session_state["scrub"] = {"status": {"state": "ready", "instance": "first"},
                                 "settled": {"rank": 25, "ranks": [25], "seen": 0},
                                 "view": {"view": "swipe", "seen": 0}}
    at.run()
    assert any(m.value == "settled rank: 25" for m in at.markdown)
    del at.session_state["scrub"]  # the page was left: Streamlit forgot the component's state
    at.run()
    assert any(m.value == "settled rank: 25" for m in at.markdown)  # not the last command's 10
    at.session_state["scrub"] = {"status": {"state": "ready", "instance": "second"}}
    at.run()
    data = json.loads(scrubber_elements(at)[1].json)
    assert data["command"] == {"rank": 25, "nonce": 1}
    assert data["view_command"] == {"view": "swipe", "nonce": 1}
    assert any(m.value == "settled rank: 25" for m in at.markdown)
