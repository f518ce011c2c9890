"""The rank scrubber under AppTest, driven as the browser drives it: read the data it was given, and answer
with the component state the browser sends (a settled rank, a picked view, "ready" or "failed"), which
starts one rerun. Shared by the AppTests of the pages that mount it."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from lowrank_core.scrub import PayloadHeader, read_header

__all__ = ["element", "data", "header", "report", "settle", "pick_view"]


def element(at: AppTest, key: str):
    """The BidiComponent proto mounted under ``key`` (the payload's carrier is ``key + "_payload"``)."""
    for node in at.get("bidi_component"):
        if node.proto.id.endswith("-" + key):
            return node.proto
    raise AssertionError(f"no component with key {key!r} on the page")


def data(at: AppTest, key: str) -> dict:
    """The scrubber's JSON data, as the browser receives it (range, command, labels, ...)."""
    return json.loads(element(at, key).json)


def header(at: AppTest, key: str) -> PayloadHeader:
    """The header of the payload the page sent to the scrubber ``key``."""
    return read_header(element(at, key + "_payload").bytes)


def _state(at: AppTest, key: str) -> dict:
    try:
        value = at.session_state[key]
    except KeyError:
        return {}
    return dict(value) if isinstance(value, dict) else {}


def report(at: AppTest, key: str, **values) -> AppTest:
    """Set component state values as ``setStateValue`` does (the others kept), and run the rerun it starts."""
    at.session_state[key] = {**_state(at, key), **values}
    return at.run()


def settle(at: AppTest, key: str, rank: int) -> AppTest:
    """The person moved the handle to ``rank`` and let go: the browser reports it (and that it is ready)."""
    shown = data(at, key)
    ranks = list(shown["ranks"]) if shown["ranks"] else [rank]
    if shown["ranks"] and shown["group"] is not None:
        ranks[shown["group"]] = rank
    return report(at, key, status={"state": "ready"},
                  settled={"rank": int(rank), "ranks": ranks, "seen": shown["command"]["nonce"]})


def pick_view(at: AppTest, key: str, view: str) -> AppTest:
    """The person clicked a view button on the scrubber."""
    return report(at, key, view={"view": view, "seen": data(at, key)["view_command"]["nonce"]})
