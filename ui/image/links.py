"""The image page's address: its query fields, a link read into the widgets' state, a view written back.

Pure: ``parse_image_link`` / ``image_rank_fields`` / ``image_link_params`` / ``tiles_link_params``.
Streamlit: ``apply_image_link`` (the link's settings, at the start of a run), ``apply_linked_ranks`` (its
ranks and byte budget, once the image is known) and ``apply_linked_tile_budget`` (the tiles mode's budget).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import streamlit as st

from lowrank_core import sources
from lowrank_core.image import ImageCodec
from lowrank_core.image.tiles import TILE_SIDES
from ui.image.inputs import budget_bounds, default_ranks
from ui.limits import TARGET_PSNR_RANGE
from ui.links import ParsedParams, UrlField, encode_params, parse_params

__all__ = [
    "LINK_UPLOAD_NOTICE",
    "DEFAULT_TILE_SIDE",
    "DEFAULT_TILE_PSNR",
    "parse_image_link",
    "image_rank_fields",
    "image_link_params",
    "tiles_link_params",
    "apply_image_link",
    "apply_linked_ranks",
    "apply_linked_tile_budget",
]

DEFAULT_TILE_SIDE = 16  # the tiles mode starts here (its widgets' defaults; a link leaves them out)
DEFAULT_TILE_PSNR = 32.0  # dB


def _image_view_fields() -> list[UrlField]:
    """Source kind, sample, colour mode, precision, rule (with its target) and view of the image page."""
    return [
        UrlField("src", "choice", "sample", choices=("sample", "upload", "camera"), label="image source"),
        UrlField("sample", "choice", "astronaut", choices=tuple(sources.sample_names()), label="sample"),
        UrlField("mode", "choice", "rgb", choices=("rgb", "luminance", "ycbcr"), label="colour mode"),
        UrlField("dtype", "choice", "float16", choices=("float32", "float16", "int8"), label="precision"),
        UrlField("rule", "choice", "slider", choices=("slider", "energy", "psnr", "bytes"),
                 label="rank rule"),
        UrlField("energy", "float", 99.0, 1.0, 100.0, label="energy target (%)"),
        UrlField("psnr", "float", 30.0, 5.0, 90.0, label="target PSNR (dB)"),
        UrlField("view", "choice", "side", choices=("side", "swipe", "error", "original"), label="view"),
        UrlField("codec", "choice", "svd", choices=("svd", "tiles"), label="codec"),
        UrlField("tile", "choice", str(DEFAULT_TILE_SIDE), choices=tuple(map(str, TILE_SIDES)),
                 label="tile side"),
        UrlField("trule", "choice", "bytes", choices=("bytes", "psnr"), label="rule of the tiles"),
        UrlField("tpsnr", "float", DEFAULT_TILE_PSNR, *TARGET_PSNR_RANGE,
                 label="target PSNR of the tiles (dB)"),
    ]


def _tile_budget_field(*, top_kb: float, default_kb: float) -> UrlField:
    """The tiles mode's byte budget (KB of the whole tile file), bounded by the image's raw size."""
    return UrlField("tbudget", "float", float(default_kb), 0.1, float(top_kb),
                    label="byte budget of the tiles (KB)")


def parse_image_link(params: Mapping[str, str]) -> ParsedParams:
    """What an image-page link asks for, except the ranks and the byte budget (they need the image)."""
    return parse_params(_image_view_fields(), params)


def image_rank_fields(max_rank: int, *, budget_top_kb: float, budget_default_kb: float) -> list[UrlField]:
    """The image's rank (1..max_rank), chroma rank (0..max_rank) and byte budget (KB), once it is known."""
    default_rank, default_chroma = default_ranks(max_rank)
    return [UrlField("rank", "int", int(default_rank), 1, int(max_rank), label="rank"),
            UrlField("chroma", "int", int(default_chroma), 0, int(max_rank), label="chroma rank"),
            UrlField("budget", "float", float(budget_default_kb), 0.1, float(budget_top_kb),
                     label="byte budget (KB)")]


def image_link_params(*, src: str, sample: str, mode: str, dtype: str, rule: str, ranks: Sequence[int],
                      energy: float, psnr: float, budget_kb: float, view: str, max_rank: int,
                      raw_bytes: int) -> dict[str, str]:
    """The query parameters of an image-page view (defaults left out).

    The ranks are written for the slider rule only (a rule computes them), the chroma rank only in YCbCr
    mode, each rule's target only with its rule. An upload or a photo cannot travel: ``src`` says so.
    ``max_rank`` and ``raw_bytes`` (the image's) set the defaults of the ranks and the byte budget.
    """
    top, default_kb = budget_bounds(raw_bytes)
    rank_fields = image_rank_fields(max_rank, budget_top_kb=top, budget_default_kb=default_kb)
    values = _image_values(src, sample, mode=mode, dtype=dtype, rule=rule, view=view)
    if rule == "slider":
        values["rank"] = int(ranks[0])
        if mode == "ycbcr" and len(ranks) > 1:
            values["chroma"] = int(ranks[1])
    elif rule == "energy":
        values["energy"] = energy
    elif rule == "psnr":
        values["psnr"] = psnr
    else:
        values["budget"] = budget_kb
    order = ("src", "sample", "mode", "dtype", "rule", "rank", "chroma", "energy", "psnr", "budget", "view")
    return _encode_in_order(rank_fields, values, order)


def _image_values(src: str, sample: str, **values) -> dict:
    """The values of a view's fields: the sample's name only when the image is a sample."""
    return {"src": src, **({"sample": sample} if src == "sample" else {}), **values}


def _encode_in_order(extra_fields: list[UrlField], values: dict, order: tuple[str, ...]) -> dict[str, str]:
    """``values`` encoded in ``order`` with the view's fields and ``extra_fields`` (defaults left out)."""
    fields = {f.name: f for f in [*_image_view_fields(), *extra_fields]}
    return encode_params([fields[name] for name in order], values)


def tiles_link_params(*, src: str, sample: str, mode: str, dtype: str, tile_side: int, rule: str,
                      budget_kb: float, psnr: float, raw_bytes: int) -> dict[str, str]:
    """The query parameters of a tiles-mode view (defaults left out): the image, its colour mode and
    precision, ``codec=tiles``, the tile side and the rule with its target (KB or dB)."""
    top, default_kb = budget_bounds(raw_bytes)
    target = {"tbudget": budget_kb} if rule == "bytes" else {"tpsnr": psnr}
    values = _image_values(src, sample, mode=mode, dtype=dtype, codec="tiles", tile=str(tile_side),
                           trule=rule, **target)
    order = ("src", "sample", "mode", "dtype", "codec", "tile", "trule", "tbudget", "tpsnr")
    return _encode_in_order([_tile_budget_field(top_kb=top, default_kb=default_kb)], values, order)


LINK_UPLOAD_NOTICE = ("This link was made from an uploaded image or a photo, which cannot travel in a link: "
                      "choose the same image here and the link's colour mode, rule and rank apply to it.")


def apply_image_link(params) -> list[str]:
    """Put what an opened link asks for into the image page's widget state; return the notices.

    The ranks and the byte budget are kept as the link's text in ``image_link_ranks`` until the image is
    known (its size bounds them): ``apply_linked_ranks``.
    """
    parsed = parse_image_link(params)
    values, notices = parsed.values, list(parsed.notices)
    state = st.session_state
    names = {"src": "image_source", "sample": "image_sample", "mode": "image_mode", "dtype": "image_dtype",
             "rule": "image_rule", "energy": "image_energy", "psnr": "image_psnr", "view": "image_view",
             "codec": "image_codec", "trule": "image_tiles_rule", "tpsnr": "image_tiles_psnr"}
    for name, key in names.items():
        if name in values:
            state[key] = values[name]
    if "tile" in values:
        state["image_tile_side"] = int(values["tile"])
    state["image_link_ranks"] = {name: params[name] for name in ("rank", "chroma", "budget", "tbudget")
                                 if name in params}
    if values.get("src", "sample") != "sample":
        notices.append(LINK_UPLOAD_NOTICE)
    return notices


def apply_linked_ranks(codec: ImageCodec, raw_bytes: int) -> list[str]:
    """Check the link's ranks and byte budget against this image and put them into the rank control's state.

    Ranks go up to the image's full rank min(H, W), the rank scrubber's range, even while a randomized
    preview holds fewer (the scrubber says so until the exact SVD is there).
    """
    linked = st.session_state.pop("image_link_ranks", None)
    if not linked:
        return []
    top, default_kb = budget_bounds(raw_bytes)
    fields = image_rank_fields(min(codec.height, codec.width), budget_top_kb=top,
                               budget_default_kb=default_kb)
    parsed = parse_params(fields, linked)
    keys = {"rank": "image_rank", "chroma": "image_chroma_rank", "budget": "image_budget_kb"}
    for name, value in parsed.values.items():
        st.session_state[keys[name]] = value
    return list(parsed.notices)


def apply_linked_tile_budget(raw_bytes: int) -> list[str]:
    """Check a link's tiles budget (KB) against this image and put it into the budget input's state."""
    linked = st.session_state.get("image_link_ranks") or {}
    if "tbudget" not in linked:
        return []
    text = linked.pop("tbudget")
    top, default_kb = budget_bounds(raw_bytes)
    parsed = parse_params([_tile_budget_field(top_kb=top, default_kb=default_kb)], {"tbudget": text})
    st.session_state["image_tiles_budget_kb"] = parsed.values["tbudget"]
    return list(parsed.notices)
