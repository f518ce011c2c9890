"""The checkpoint page's address: the source, the picked weight, the budget share and the exported allocation.

An uploaded file cannot travel in a link: a link made from one asks for the file, and its weight applies once
the same file is uploaded again.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from lowrank_core.allocation import ALLOCATIONS
from ui.checkpoint.inputs import DEFAULT_FRACTION, SOURCES
from ui.links import UrlField, encode_params, parse_params
from ui.text import shorten

__all__ = ["checkpoint_fields", "checkpoint_link_params", "apply_checkpoint_link", "linked_weight"]

_LINK_KEYS = {"src": "checkpoint_source", "budget": "checkpoint_budget", "alloc": "checkpoint_allocation"}
_PENDING = "checkpoint_link_weight"


def checkpoint_fields() -> list[UrlField]:
    """The page's address fields (the weight, a free name, is added by ``checkpoint_link_params``)."""
    return [
        UrlField("src", "choice", "example", choices=tuple(SOURCES), label="checkpoint source"),
        UrlField("budget", "float", DEFAULT_FRACTION, 0.01, 1.0, label="budget share"),
        UrlField("alloc", "choice", ALLOCATIONS[0], choices=ALLOCATIONS, label="allocation"),
    ]


def checkpoint_link_params(*, src: str, weight: str | None = None, budget: float | None = None,
                           alloc: str = ALLOCATIONS[0], first_weight: str | None = None) -> dict[str, str]:
    """The query parameters of a view (defaults left out; the weight unless it is the file's first)."""
    values = {"src": src, "alloc": alloc}
    if budget is not None:
        values["budget"] = round(float(budget), 2)
    out = encode_params(checkpoint_fields(), values)
    if weight and weight != first_weight:
        out["weight"] = weight
    return out


def apply_checkpoint_link(params) -> list[str]:
    """Put what an opened link asks for into the widgets' state; the weight waits for the file's names."""
    parsed = parse_params(checkpoint_fields(), params)
    for name, value in parsed.values.items():
        st.session_state[_LINK_KEYS[name]] = value
    if "budget" in parsed.values:
        st.session_state["checkpoint_budget_kind"] = "fraction"
    st.session_state[_PENDING] = params.get("weight")
    notices = list(parsed.notices)
    if parsed.values.get("src") == "upload":
        notices.append("This link was made from an uploaded checkpoint, which cannot travel in a link: "
                       "upload the same file here and the link's weight applies to it.")
    return notices


def linked_weight(names: Sequence[str], *, key: str = "checkpoint_weight") -> list[str]:
    """A link's weight into the picker's state, if this file has it; returns a notice otherwise."""
    weight = st.session_state.pop(_PENDING, None)
    if not weight:
        return []
    if weight in names:
        st.session_state[key] = weight
        return []
    return [f"The link asks for a weight “{shorten(str(weight))}” this checkpoint does not have; showing "
            "the first."]
