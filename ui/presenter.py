"""The presenter view: a projector layout (larger text and charts, no sidebar) that a link can open.

``is_presenting`` is what every page asks; the sidebar draws ``presenter_toggle`` and calls
``sync_present_param`` and ``presenter_layout``; ``presenter_figure`` enlarges a chart's text.
"""

from __future__ import annotations

import streamlit as st

from ui.links import PRESENT_KEY, UrlField
from ui.style import PRESENTER_FONT_SIZE

__all__ = [
    "PRESENT_KEY",
    "PRESENTER_CSS",
    "is_presenting",
    "presenter_toggle",
    "sync_present_param",
    "presenter_layout",
    "presenter_figure",
]

_PRESENT_SEEN = "_presenter_present_seen"

PRESENTER_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stExpandSidebarButton"], [data-testid="stSidebarNav"], [data-testid="stHeader"],
[data-testid="stToolbar"] { display: none !important; }
[data-testid="stMainBlockContainer"] { max-width: 100% !important; padding: 0.8rem 2.5rem 2rem !important; }
[data-testid="stMain"] { margin-left: 0 !important; }
h1 { font-size: 2.6rem !important; padding-top: 0.2rem !important; }
h2, h3 { font-size: 2.0rem !important; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li,
[data-testid="stCaptionContainer"], [data-testid="stWidgetLabel"] p { font-size: 1.35rem !important; }
[data-testid="stMetricValue"] { font-size: 2.8rem !important; }
[data-testid="stMetricLabel"] p { font-size: 1.3rem !important; }
[data-testid="stSlider"] [role="slider"] { width: 1.6rem !important; height: 1.6rem !important; }
[data-testid="stSliderThumbValue"] { font-size: 1.4rem !important; }
[data-testid="stSlider"] [data-testid="stWidgetLabel"] { margin-bottom: 0.9rem !important; }
[data-testid="stNumberInputField"], [data-baseweb="select"] div { font-size: 1.3rem !important; }
[data-testid="stCode"] code { font-size: 1.15rem !important; }
</style>"""


def is_presenting() -> bool:
    """True while the presenter view is on (the sidebar toggle or ``?present=1``)."""
    return bool(st.session_state.get(PRESENT_KEY, False))


def _leave_presenter_view() -> None:
    """Callback of the button that leaves the presenter view."""
    st.session_state[PRESENT_KEY] = False


def presenter_toggle() -> bool:
    """The presenter toggle (draw it inside the sidebar); follows ``present=`` when a link sets it.

    ``present`` applies when its value in the address changes from what this session last saw or wrote;
    a page switch that drops it leaves the view as it is. Returns whether the presenter view is on.
    """
    raw = st.query_params.get(PRESENT_KEY)
    if raw != st.session_state.get(_PRESENT_SEEN):
        st.session_state[_PRESENT_SEEN] = raw
        if raw is not None:
            value, _ = UrlField(PRESENT_KEY, "bool", False).parse(raw)
            st.session_state[PRESENT_KEY] = bool(value)
    st.session_state.setdefault(PRESENT_KEY, False)
    return bool(st.toggle("Presenter view", key=PRESENT_KEY,
                          help="Hides the sidebar and the secondary numbers and enlarges text and charts for "
                               "a projector. Also opens with ?present=1 in the address."))


def sync_present_param() -> None:
    """Keep ``present=1`` in the address exactly while the presenter view is on (for every page)."""
    presenting = is_presenting()
    if presenting and st.query_params.get(PRESENT_KEY) != "1":
        st.query_params[PRESENT_KEY] = "1"
    elif not presenting and PRESENT_KEY in st.query_params:
        del st.query_params[PRESENT_KEY]
    st.session_state[_PRESENT_SEEN] = "1" if presenting else None


def presenter_layout() -> None:
    """In the presenter view: the constant CSS and a button to leave it (at the top of the page)."""
    if not is_presenting():
        return
    st.html(PRESENTER_CSS)
    st.button("Leave the presenter view", key="present_leave", on_click=_leave_presenter_view, icon="↩️",
              type="tertiary")


def presenter_figure(figure, *, height: int | None = None):
    """Enlarge a plotly figure's text (ticks, titles, legend, annotations) and height in the presenter view.

    Returns the figure unchanged outside the presenter view. Streamlit's chart theme sets some font sizes
    itself, so every text element gets an explicit size here.
    """
    if not is_presenting():
        return figure
    size = PRESENTER_FONT_SIZE
    height = int(height) if height is not None else int((figure.layout.height or 400) * 1.25)
    figure.update_layout(font={"size": size}, legend={"font": {"size": size}},
                         title={"font": {"size": size + 4}}, height=height)
    figure.update_xaxes(tickfont={"size": size - 2}, title={"font": {"size": size}})
    figure.update_yaxes(tickfont={"size": size - 2}, title={"font": {"size": size}})
    figure.update_annotations(font={"size": size + 2})
    figure.update_coloraxes(colorbar={"tickfont": {"size": size - 2}})
    return figure
