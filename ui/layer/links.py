"""The Layers page's address: the open section and the layer lab's weight, batch and inputs."""

from __future__ import annotations

import streamlit as st

from ui.limits import LAB_MAX_SIDE, MAX_SEED
from ui.links import UrlField, encode_params, parse_params, rank_field

__all__ = [
    "LAYER_SECTIONS",
    "SECTION_LABELS",
    "layer_fields",
    "layer_link_params",
    "apply_layer_link",
    "linked_layer",
    "apply_linked_rank",
    "keep_section",
]

SECTION_LABELS = {"lab": "Layer lab", "compress": "Compress a trained network", "lora": "LoRA fine-tuning"}
_LINK_KEYS = {"src": "layer_source", "m": "layer_out", "n": "layer_in", "k": "layer_k", "seed": "layer_seed",
              "batch": "layer_batch", "xseed": "layer_input_seed"}
_PENDING = "layer_link_pending"
_KEPT_SECTION = "_layer_section_kept"  # the tabs' state is not kept by Streamlit across a page switch


LAYER_SECTIONS = ("lab", "compress", "lora")


def layer_fields(max_side: int) -> list[UrlField]:
    """The layer page's address: the open section and the layer lab's weight, batch and input seed."""
    return [
        UrlField("section", "choice", "lab", choices=LAYER_SECTIONS, label="section"),
        UrlField("src", "choice", "random", choices=("random", "low_rank", "trained", "upload"),
                 label="weight source"),
        UrlField("m", "int", 256, 2, max_side, label="out features m"),
        UrlField("n", "int", 256, 2, max_side, label="in features n"),
        UrlField("k", "int", 8, 1, max_side, label="inner size k"),
        UrlField("seed", "int", 0, 0, MAX_SEED, label="seed"),
        UrlField("batch", "int", 64, 1, 256, label="inputs in the batch"),
        UrlField("xseed", "int", 0, 0, MAX_SEED, label="seed of the inputs"),
    ]


def layer_link_params(*, max_side: int, section: str, src: str = "random", m: int = 256, n: int = 256,
                      k: int = 8, seed: int = 0, layer: str = "", rank: int | None = None,
                      default_rank: int = 32, max_rank: int = 1, batch: int = 64,
                      xseed: int = 0) -> dict[str, str]:
    """The query parameters of a layer-page view (defaults left out; the lab's only when it is open)."""
    fields = layer_fields(max_side)
    if section != "lab":
        return encode_params(fields[:1], {"section": section})
    values = {"section": section, "src": src, "batch": batch, "xseed": xseed}
    if src in ("random", "low_rank"):
        values.update(m=m, n=n, seed=seed)
        if src == "low_rank":
            values["k"] = k
    out = encode_params(fields, values)
    if src == "trained" and layer:
        out["layer"] = str(layer)
    if rank is not None:
        out.update(encode_params([rank_field(max(max_rank, 1), default_rank, low=1)], {"rank": rank}))
    return out


def apply_layer_link(params) -> list[str]:
    """Put what an opened link asks for into the page's widget state; the rank and layer wait for W."""
    parsed = parse_params(layer_fields(LAB_MAX_SIDE), params)
    for name, value in parsed.values.items():
        if name == "section":
            st.session_state["layer_section"] = SECTION_LABELS[value]
        else:
            st.session_state[_LINK_KEYS[name]] = value
    st.session_state[_PENDING] = {name: params[name] for name in ("rank", "layer") if name in params}
    notices = list(parsed.notices)
    if parsed.values.get("src") == "upload":
        notices.append("This link was made from an uploaded weight, which cannot travel in a link: upload "
                       "the same file here and the link's rank applies to it.")
    return notices


def linked_layer(labels: dict[str, str]) -> list[str]:
    """A link's trained layer into the layer picker's state, if this network has it; returns a notice."""
    layer = st.session_state.get(_PENDING, {}).pop("layer", None)
    if layer is None:
        return []
    if layer in labels:
        st.session_state["layer_trained_layer"] = layer
        return []
    return [f"The link asks for a trained layer “{layer[:20]}” this network does not have; using the first."]


def apply_linked_rank(max_rank: int, default: int) -> list[str]:
    """A link's rank, checked against this weight, into the lab's slider state; returns a notice."""
    rank = st.session_state.pop(_PENDING, {}).get("rank")
    if rank is None or max_rank <= 1:
        return []
    value, notice = rank_field(max_rank, default, low=1).parse(rank)
    st.session_state["layer_rank"] = int(value)
    return [notice] if notice else []


def keep_section(open_section: str | None) -> None:
    """Remember the open section (after the tabs are drawn), or give it back to the tabs before they are
    drawn (``None``) when a page switch dropped their state."""
    if open_section is not None:
        st.session_state[_KEPT_SECTION] = SECTION_LABELS[open_section]
    elif "layer_section" not in st.session_state and _KEPT_SECTION in st.session_state:
        st.session_state["layer_section"] = st.session_state[_KEPT_SECTION]
