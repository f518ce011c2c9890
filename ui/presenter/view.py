"""The presenter view: a projector layout (larger numbers, text and charts, no sidebar) that a link can open.

``is_presenting`` is what every page asks; the sidebar draws ``presenter_toggle`` and calls
``sync_present_param``; ``presenter_css`` puts the constant CSS on the page (the phone rules always, the
projector rules while presenting); ``presenter_figure`` enlarges a chart's text.

The CSS targets Streamlit 1.67's DOM: a metric's value is a markdown paragraph inside ``stMetricValue`` (so
the rule that enlarges paragraphs must not reach it: the value rules are more specific); the slider is
react-aria's, a thumb ``div`` holding a visually hidden ``input[type=range]``, so the handle is the ``div``
that has that input; pictures the page marks with a ``presenter_pictures`` container are sized to the
column's width and at most the viewport's height (``--presenter-picture-height``; letterboxed when the
height is the limit).
"""

from __future__ import annotations

import streamlit as st

from ui.links import PRESENT_KEY, UrlField
from ui.style import PRESENTER_FONT_SIZE

__all__ = [
    "PRESENT_KEY",
    "PRESENTER_CSS",
    "PHONE_CSS",
    "PICTURES_KEY",
    "is_presenting",
    "presenter_toggle",
    "sync_present_param",
    "toggle_presenting",
    "presenter_css",
    "presenter_figure",
    "presenter_pictures",
]

_PRESENT_SEEN = "_presenter_present_seen"
PICTURES_KEY = "presenter_pictures"  # the container whose pictures fit the screen's height

# On every page: nothing runs off a narrow screen, and chart text shrinks there so titles do not collide.
PHONE_CSS = """<style>
[data-testid="stImage"], [data-testid="stImageContainer"] { max-width: 100% !important; }
[data-testid="stImage"] img { max-width: 100% !important; height: auto !important; }
@media (max-width: 640px) {  /* chart text small enough that three panels' titles fit side by side */
  .js-plotly-plot text[class$="title"] { font-size: 11px !important; }
  .js-plotly-plot .annotation-text { font-size: 9px !important; }
  .js-plotly-plot g[class$="tick"] text, .js-plotly-plot .legendtext,
  .js-plotly-plot .cbtitle text, .js-plotly-plot .cbaxis text { font-size: 9px !important; }
}
</style>"""

PRESENTER_CSS = """<style>
:root { --presenter-picture-height: calc(100vh - 27rem); }
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stExpandSidebarButton"], [data-testid="stSidebarNav"], [data-testid="stHeader"],
[data-testid="stToolbar"] { display: none !important; }
[data-testid="stMainBlockContainer"] { max-width: 100% !important; padding: 0.5rem 2.5rem 2rem !important; }
@media (max-width: 640px) {
  [data-testid="stMainBlockContainer"] { padding: 0.5rem 0.8rem 2rem !important; }
  [class*="_sweep_row"] { display: none !important; }
  .st-key-presenter_pictures [data-testid="stHorizontalBlock"] > [data-testid="stColumn"]:first-child {
    display: none !important; }  /* a phone shows the reconstruction alone, as large as it can */
  .st-key-presenter_bar p { font-size: 1rem !important; }
}
.st-key-presenter_bar { row-gap: 0 !important; }
[data-testid="stMain"] { margin-left: 0 !important; }
h1 { font-size: 2.6rem !important; padding-top: 0.2rem !important; padding-bottom: 0.3rem !important; }
h2, h3 { font-size: 2.0rem !important; }
@media (max-width: 640px) { h1 { font-size: 1.9rem !important; } h2, h3 { font-size: 1.5rem !important; } }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li,
[data-testid="stCaptionContainer"], [data-testid="stWidgetLabel"] p { font-size: 1.35rem !important; }
[data-testid="stMetricValue"], [data-testid="stMetricValue"] [data-testid="stMarkdownContainer"] p {
  font-size: 3.4rem !important; line-height: 1.15 !important; }
[data-testid="stMetricLabel"] [data-testid="stMarkdownContainer"] p { font-size: 1.45rem !important; }
[data-testid="stMetricLabel"] *, [data-testid="stButton"] button p {
  white-space: normal !important; overflow-wrap: anywhere; }
@media (max-width: 1500px) {
  [data-testid="stMetricValue"], [data-testid="stMetricValue"] [data-testid="stMarkdownContainer"] p {
    font-size: 2.9rem !important; }
}
@media (max-width: 640px) {
  [data-testid="stMetricValue"], [data-testid="stMetricValue"] [data-testid="stMarkdownContainer"] p {
    font-size: 3rem !important; }
}
[data-testid="stSlider"] div:has(> div > input[type="range"]) {
  width: 2.2rem !important; height: 2.2rem !important; }
[data-testid="stSliderThumbValue"] { margin-top: -1.1rem !important; }
[data-testid="stSliderThumbValue"] [data-testid="stMarkdownContainer"] p { font-size: 1.5rem !important; }
[data-testid="stSliderTickBar"] [data-testid="stMarkdownContainer"] p { font-size: 1.1rem !important; }
[data-testid="stSlider"] [data-testid="stWidgetLabel"] { margin-bottom: 1.1rem !important; }
[data-testid="stNumberInputField"], [data-baseweb="select"] div { font-size: 1.3rem !important; }
[data-testid="stCode"] code { font-size: 1.15rem !important; }
.st-key-presenter_pictures [data-testid="stHorizontalBlock"] { flex-wrap: nowrap !important; }
.st-key-presenter_pictures [data-testid="stColumn"] { min-width: 0 !important; }
.st-key-presenter_pictures [data-testid="stFullScreenFrame"] > div,
.st-key-presenter_pictures [data-testid="stImage"],
.st-key-presenter_pictures [data-testid="stImageContainer"] {
  width: 100% !important; max-width: 100% !important; min-width: 0 !important; }
.st-key-presenter_pictures [data-testid="stImage"] img {
  width: 100% !important; height: auto !important; max-height: var(--presenter-picture-height) !important;
  object-fit: contain; }
.st-key-presenter_pictures [data-testid="stImageCaption"] { font-size: 1.2rem !important; }
</style>"""


def is_presenting() -> bool:
    """True while the presenter view is on (the sidebar toggle, ``?present=1`` or the key P)."""
    return bool(st.session_state.get(PRESENT_KEY, False))


def toggle_presenting() -> None:
    """Turn the presenter view on or off (a callback: it runs before the toggle is drawn)."""
    st.session_state[PRESENT_KEY] = not is_presenting()


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
                               "a projector. Also opens with ?present=1 in the address, or with the key P."))


def sync_present_param() -> None:
    """Keep ``present=1`` in the address exactly while the presenter view is on (for every page)."""
    presenting = is_presenting()
    if presenting and st.query_params.get(PRESENT_KEY) != "1":
        st.query_params[PRESENT_KEY] = "1"
    elif not presenting and PRESENT_KEY in st.query_params:
        del st.query_params[PRESENT_KEY]
    st.session_state[_PRESENT_SEEN] = "1" if presenting else None


def presenter_css() -> None:
    """The page's constant CSS: the phone rules always, the projector rules in the presenter view."""
    st.html(PHONE_CSS + (PRESENTER_CSS if is_presenting() else ""))


def presenter_pictures():
    """The container for a page's main pictures: in the presenter view they fit the screen's height."""
    return st.container(key=PICTURES_KEY)


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
