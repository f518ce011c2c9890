"""The rank scrubber: every rank drawn in the browser from display factors sent once.

``rank_scrubber(payload, key=..., rank=...)`` mounts two elements of one custom component (v2), registered
once from ``scrubber.js`` and ``scrubber.css`` beside this file (no build step, nothing fetched):

1. a carrier whose data is the payload blob (``lowrank_core.scrub.pack``). Its element is byte-identical on
   every rerun, so Streamlit (1.67) sends it once: a ForwardMsg of at least ``global.minCachedMessageSize``
   (10 kB) is hashed, the browser keeps it and lists its hash in each rerun request
   (``ClientState.cached_message_hashes``), and ``ScriptRunContext.enqueue`` then sends only a reference
   (``ref_hash``) to it. Measured by ``tests/e2e/test_scrubber.py`` and ``benchmarks/scrub.py``.
2. the scrubber, whose data is small JSON (the payload's id, the range, labels, commands). It too stays
   byte-identical while the page only echoes the rank back, so a rerun after a settled rank sends two
   references (its element also carries scrubber.js, about 40 kB, which a changed element sends again).

The browser reports the rank once it settles (release, or a short idle after keys or a typed number) as
the component state ``settled``; Python sees it on the rerun that report starts. The page asks for a rank
by passing a ``rank`` different from the one this function returned last time (a "controlled" widget): a
rule picker, a link or a reset moves the handle and the picture; passing back what it returned moves
nothing. The view works the same way: a new ``view`` is a command, and a view the user picks on the
component's buttons comes back (one rerun per click) as ``ScrubberResult.view``. ``status`` says whether the
browser's script runs and can draw ("ready", reported as soon as it runs, with an id of that mount: a new
scrubber is commanded to the rank shown last), cannot ("failed": the component
shows a message and the page should show its server picture), or has not said yet ("pending").
``ui.scrubbing`` turns that into the page's choice between this component and the server path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from lowrank_core.errors import LowRankError
from lowrank_core.scrub import read_header

__all__ = ["COMPONENT_NAME", "VIEWS", "ScrubberResult", "rank_scrubber", "scrubber_data", "browser_state"]

COMPONENT_NAME = "low_rank_explorer.rank_scrubber"
VIEWS = ("reconstruction", "swipe", "error", "original")
_HERE = Path(__file__).parent
_component = st.components.v2.component(
    COMPONENT_NAME,
    js=(_HERE / "scrubber.js").read_text(encoding="utf-8"),
    css=(_HERE / "scrubber.css").read_text(encoding="utf-8"),
)


@dataclass(frozen=True)
class ScrubberResult:
    """What a mounted scrubber says.

    Attributes
    ----------
    rank : int
        The rank to show now: the browser's settled rank, or the one the page just asked for.
    ranks : tuple of int
        The rank of every group (YCbCr: luma, chroma), with the slider's group at ``rank``.
    status : {"pending", "ready", "failed"}
        "ready" once the component's JavaScript runs with a 2-D canvas (it then draws, or reports "failed"
        for a payload it cannot read); "pending" before, or when its JavaScript never ran.
    message : str
        Why it failed ("" otherwise).
    view : str
        The view shown: the one the user picked on the component, or the one the page asked for.
    """

    rank: int
    ranks: tuple[int, ...]
    status: str
    message: str
    view: str = "reconstruction"


def _memo_key(key: str) -> str:
    """Session-state key of this scrubber's bookkeeping (the command sent and the value returned)."""
    return f"_rank_scrubber_{key}"


def browser_state(key: str) -> dict:
    """The component state the browser of the scrubber ``key`` sent last (empty before it has sent any):
    "settled", "status" ({"state": "ready" | "failed", "message": ...}) and "view"."""
    try:
        value = st.session_state[key]
    except (KeyError, AttributeError):
        return {}
    return dict(value) if isinstance(value, dict) else {}


def scrubber_data(header, *, command: dict, label: str, min_rank: int, max_rank: int, available: int | None,
                  group: int | None, ranks: tuple[int, ...] | None, view_command: dict,
                  views: tuple[str, ...],
                  unavailable_text: str, beyond_text: str, valuetext: str, play: int, play_seconds: float,
                  spectrum: bool, spectrum_label: str, disabled: bool, max_height: int | None,
                  fit_viewport: bool, min_height: int, pixelated: bool) -> dict:
    """The scrubber's JSON data (everything but the blob): deterministic, so that an echo rerun is a ref."""
    return {
        "payload": header.payload_id, "kind": header.kind, "height": header.height, "width": header.width,
        "label": label, "valuetext": valuetext, "min_rank": min_rank, "max_rank": max_rank,
        "available": available, "group": group, "ranks": list(ranks) if ranks is not None else None,
        "view_command": view_command, "views": list(views), "unavailable_text": unavailable_text,
        "beyond_text": beyond_text, "command": command, "play": play, "play_seconds": play_seconds,
        "spectrum": spectrum, "spectrum_label": spectrum_label, "disabled": disabled,
        "max_height": max_height,
        "fit_viewport": fit_viewport, "min_height": min_height, "pixelated": pixelated,
    }


def _whole(value, name: str) -> int:
    """A whole number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise LowRankError(f"{name} must be a whole number; got {value!r}")
    return int(value)


def rank_scrubber(payload: bytes, *, key: str, rank: int, label: str = "Rank r", min_rank: int = 1,
                  max_rank: int | None = None, available: int | None = None, group: int | None = None,
                  ranks: tuple[int, ...] | None = None, view: str | None = None,
                  views: tuple[str, ...] = VIEWS, unavailable_text: str = "exact SVD in progress",
                  beyond_text: str = "the browser holds no more ranks", valuetext: str = "rank",
                  play: bool = False, play_seconds: float = 4.0, spectrum: bool = False,
                  spectrum_label: str = "", disabled: bool = False, max_height: int | None = None,
                  fit_viewport: bool = False, min_height: int = 160,
                  pixelated: bool = False) -> ScrubberResult:
    """Mount the rank scrubber on a payload and return the rank to show.

    Parameters
    ----------
    payload : bytes
        ``lowrank_core.scrub.pack(...)`` of an image's or a matrix's display factors. Cache it per
        (image, mode, precision, display size, cap): it is sent to the browser once, then referenced.
    key : str
        Widget key (the page's prefix, e.g. "image_scrub"); also keys the bookkeeping in session state.
    rank : int
        The rank the page wants shown. Pass back what this function returned last time to leave the
        browser alone; a different value moves the handle and the picture there.
    label : str
        The slider's visible label.
    min_rank, max_rank : int
        The slider's range; ``max_rank`` defaults to the payload's full rank min(H, W), so the range does
        not change when an exact SVD replaces a randomized preview.
    available : int, optional
        Ranks drawable now (a preview's cap while the exact SVD runs); above it, and above the blob's cap,
        the picture stays at the last drawable rank under a note (``unavailable_text`` while the server
        holds fewer ranks than the image has, ``beyond_text`` otherwise).
    group, ranks : optional
        YCbCr: ``group`` 0 (luma) or 1 (chroma) is what the slider moves; ``ranks`` holds every group's rank
        (the other group's is drawn fixed). Default: the slider moves every group together.
    view, views : str or None, tuple of str
        The view to show ("reconstruction", "swipe", "error", "original") and the buttons offered. Like
        ``rank``: pass back the ``view`` returned last time to leave the browser alone; another value
        switches it. None (the default) leaves the view to the buttons (the first of ``views`` at first).
        The buttons switch it at once and report it (``ScrubberResult.view``, one rerun a click).
    valuetext : str
        ``aria-valuetext`` reads "<valuetext> 30 of 512".
    play : bool
        True on the rerun where the page's "play" was pressed: the handle and the picture sweep from
        rank 1 up to the current rank (or the drawable top) in ``play_seconds``; the component also has
        its own play button.
    spectrum : bool
        Draw a strip of the singular values under the slider, the kept ones in the kept colour.
    spectrum_label : str
        A line under the strip; "{kept}" in it becomes the number of kept values.
    disabled : bool
        Lock the control (a rank rule is active).
    max_height : int, optional
        Largest CSS height of the picture in pixels (keep picture and slider in one viewport).
    fit_viewport : bool
        Keep the picture small enough that it, the slider and the strip under it fit the browser window
        below the picture's top (measured in the browser, again on resize), and at least ``min_height``
        pixels high.
    pixelated : bool
        Enlarge the picture with square pixels (a small image) instead of smoothing it.

    Returns
    -------
    ScrubberResult
        ``rank`` to show, ``ranks`` per group, ``status`` ("pending", "ready", "failed") and ``message``.
    """
    header = read_header(payload)
    rank = _whole(rank, "rank")
    min_rank = _whole(min_rank, "min_rank")
    max_rank = header.full_rank if max_rank is None else _whole(max_rank, "max_rank")
    if not 0 <= min_rank <= max_rank:
        raise LowRankError(f"the scrubber's range must satisfy 0 <= min_rank <= max_rank; got {min_rank}, "
                           f"{max_rank}")
    if (view is not None and view not in VIEWS) or any(v not in VIEWS for v in views):
        raise LowRankError(f"views must be among {VIEWS}; got {view!r} and {views!r}")
    if group is not None and not 0 <= group < header.groups:
        raise LowRankError(f"group must be None or 0..{header.groups - 1}; got {group!r}")
    if ranks is not None and len(ranks) != header.groups:
        raise LowRankError(f"ranks must hold one rank per group ({header.groups}); got {ranks!r}")
    rank = min(max(rank, min_rank), max_rank)

    memo = st.session_state.get(_memo_key(key))
    if memo is None:
        first_view = view or (views[0] if views else "reconstruction")
        memo = {"nonce": 0, "rank": rank, "returned": rank, "play": 0, "view_nonce": 0, "view": first_view,
                "view_returned": first_view}
    if rank != memo["returned"]:  # the page asks for a rank: command the browser
        memo = {**memo, "nonce": memo["nonce"] + 1, "rank": rank, "returned": rank}
    if view is not None and view != memo["view_returned"]:  # the page asks for a view
        memo = {**memo, "view_nonce": memo["view_nonce"] + 1, "view": view, "view_returned": view}
    state = browser_state(key)
    instance = state["status"].get("instance") if isinstance(state.get("status"), dict) else None
    if instance is not None and instance != memo.get("instance"):
        # a new scrubber (the page stopped before mounting it, e.g. while an upload was awaited, or the page
        # was left and opened again) starts from the command: command what the page showed last
        if (memo["returned"], memo["view_returned"]) != (memo["rank"], memo["view"]):
            memo = {**memo, "nonce": memo["nonce"] + 1, "rank": memo["returned"],
                    "view_nonce": memo["view_nonce"] + 1, "view": memo["view_returned"]}
        memo = {**memo, "instance": instance}
    if play:
        memo = {**memo, "play": memo["play"] + 1}
    settled = state.get("settled") if isinstance(state.get("settled"), dict) else None
    status = state.get("status") if isinstance(state.get("status"), dict) else {}
    picked = state.get("view") if isinstance(state.get("view"), dict) else None
    # With no report from the browser (a scrubber mounted again after the page was left: Streamlit dropped its
    # component state) the picture is still the one shown last; with a report, the page's command stands
    # until the browser has seen it.
    shown = memo["returned"] if settled is None else memo["rank"]
    if settled is not None and settled.get("seen") == memo["nonce"] and isinstance(settled.get("rank"), int):
        shown = min(max(int(settled["rank"]), min_rank), max_rank)  # the browser moved since the command
    shown_view = memo["view_returned"] if picked is None else memo["view"]
    if picked is not None and picked.get("seen") == memo["view_nonce"] and picked.get("view") in views:
        shown_view = picked["view"]  # the user picked a view since the page's last command
    memo = {**memo, "returned": shown, "view_returned": shown_view}
    st.session_state[_memo_key(key)] = memo

    status_name = status.get("state") if status.get("state") in ("ready", "failed") else "pending"
    group_ranks = [shown] * header.groups if ranks is None or group is None else list(ranks)
    fixed = None  # the ranks drawn fixed (the slider's group: null), so that a settled rank changes nothing
    if group is not None and ranks is not None:
        group_ranks[group] = shown
        fixed = tuple(None if g == group else r for g, r in enumerate(group_ranks))
    data = scrubber_data(
        header, command={"rank": memo["rank"], "nonce": memo["nonce"]}, label=label, min_rank=min_rank,
        max_rank=max_rank, available=available, group=group, ranks=fixed,
        view_command={"view": memo["view"], "nonce": memo["view_nonce"]}, views=tuple(views),
        unavailable_text=unavailable_text, beyond_text=beyond_text, valuetext=valuetext, play=memo["play"],
        play_seconds=float(play_seconds), spectrum=bool(spectrum), spectrum_label=spectrum_label,
        disabled=bool(disabled), max_height=max_height, fit_viewport=bool(fit_viewport),
        min_height=int(min_height), pixelated=bool(pixelated),
    )
    json.dumps(data)  # fail here, not in the browser, on a value JSON cannot carry
    with st.container(gap=None):
        _component(key=f"{key}_payload", data=bytes(payload))
        _component(key=key, data=data)
    return ScrubberResult(shown, tuple(group_ranks), status_name, str(status.get("message", "")), shown_view)
