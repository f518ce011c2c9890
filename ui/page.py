"""What every page starts and ends with: the header (navigation fix, title, a link's notices) and the
footer (the sweep's GIF, charts as PNG, the share box and the HTML summary)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import streamlit as st

from ui.exports import chart_png_exports, html_summary_button
from ui.links import PRESENT_KEY, incoming_params, notice_box, poll_params, share_box
from ui.navigation import ensure_navigation
from ui.presenter import is_presenting
from ui.sweep import gif_export

__all__ = ["PageStart", "page_start", "settings_area", "settings_beside", "page_footer"]


@dataclass
class PageStart:
    """What the header found: whether the presenter view is on, and the notices shown at the top.

    ``add`` appends notices found later in the run (a link's rank checked against the matrix) and redraws
    the box in its place at the top of the page.
    """

    present: bool
    notices: list[str]
    slot: object = field(repr=False)

    def add(self, notices: list[str]) -> None:
        """Append notices and redraw the box (nothing is drawn when there are none)."""
        if notices:
            self.notices += list(notices)
            self.show()

    def show(self) -> None:
        """Draw the notice box in its slot."""
        with self.slot.container():
            notice_box(self.notices)


def page_start(title: str, *, intro: str | None = None, caption: str | None = None,
               apply_link: Callable[[dict], list[str]] | None = None,
               carried_notices_key: str | None = None) -> PageStart:
    """The top of a page: the deep-link fix, the title, an intro (always) or a caption (not when presenting),
    the box of a link's notices, and the link's settings applied through ``apply_link`` when one was opened.

    ``carried_notices_key`` names a session-state list of notices a previous run left for this one (before
    an ``st.rerun``).
    """
    ensure_navigation()  # a link opened first on a fresh server: run through app.py
    poll_params()  # a room poll named in the address (a voter's QR link) is kept before the page writes it
    present = is_presenting()
    st.title(title)
    if intro:
        st.markdown(intro)
    if caption and not present:
        st.caption(caption)
    start = PageStart(present, list(st.session_state.pop(carried_notices_key, []) if carried_notices_key
                                    else []), st.empty())
    incoming = incoming_params()
    if incoming and apply_link is not None:
        start.notices += apply_link(incoming)
        st.session_state[_HELD_NOTICES] = {"page": title, "address": None, "notices": start.notices}
    else:
        start.notices += _held_notices(title)
    start.show()
    return start


_HELD_NOTICES = "_page_link_notices"


def _held_notices(title: str) -> list[str]:
    """A link's notices on the reruns after the one that opened it, while the address stays the one the page
    wrote then: a rerun the person did not ask for (the rank scrubber's "ready") must not wipe them."""
    held = st.session_state.get(_HELD_NOTICES)
    address = {k: v for k, v in st.query_params.to_dict().items() if k != PRESENT_KEY}
    if held is None or held["page"] != title or held["address"] not in (None, address):
        st.session_state.pop(_HELD_NOTICES, None)
        return []
    held["address"] = address
    return list(held["notices"])


def settings_area(present: bool, *, heading: str, collapsed: str, subheader: bool = False):
    """Where a page's settings go: under a heading, or collapsed into an expander in the presenter view."""
    if present:
        return st.expander(collapsed, expanded=False)
    (st.subheader if subheader else st.header)(heading)
    return st.container()


def settings_beside(present: bool, *, collapsed: str, widths: tuple[float, float] = (1.0, 2.6)):
    """(settings, stage): the settings in a column beside the page's picture, or collapsed into an expander
    above it in the presenter view, so that the picture and its rank control are on screen together."""
    if present:
        return st.expander(collapsed, expanded=False), st.container()
    settings, stage = st.columns(list(widths), gap="large")
    return settings, stage


def page_footer(prefix: str, link_params: Mapping[str, str], *, charts: Mapping[str, object],
                make_summary: Callable[[str], str], share_note: str | None = None,
                gif: Mapping | None = None, path: str | None = None) -> None:
    """The end of a page: the sweep's GIF (``gif``: the arguments of ``ui.sweep.gif_export``), charts as
    PNG, the share box and the HTML summary (``make_summary(link)``, built only when downloaded).

    ``path`` is the page's address (default: ``prefix``; "" for the default page at the app's root).
    """
    if gif is not None:
        gif_export(prefix, **gif)
    st.subheader("Charts as PNG")
    chart_png_exports(charts, prefix=prefix)
    st.subheader("Share this view")
    link = share_box(prefix, prefix if path is None else path, link_params, note=share_note)
    html_summary_button(lambda: make_summary(link), prefix=prefix, file_name=f"{prefix}_summary.html")
