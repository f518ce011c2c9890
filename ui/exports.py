"""What a view exports: charts as PNG (plotly + kaleido), a one-page HTML summary, arrays as .npy / .csv.

``figure_png`` / ``kaleido_problem`` and ``summary_html`` are pure; ``chart_png_exports`` and
``html_summary_button`` draw the controls.
"""

from __future__ import annotations

import html
import importlib.util
import io
import re
import shutil
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import streamlit as st

from ui.admission import admitted
from ui.export_pool import export_pool
from ui.stills import png_data_url

__all__ = [
    "ExportUnavailable",
    "kaleido_problem",
    "figure_png",
    "summary_html",
    "npy_bytes",
    "csv_maker",
    "chart_png_exports",
    "html_summary_button",
]


class ExportUnavailable(RuntimeError):
    """Static chart export cannot run here (kaleido or a Chromium browser is missing, or it failed)."""


def _chromium_path() -> str | None:
    """The Chromium/Chrome kaleido would use (choreographer's own search, else the usual names on PATH)."""
    try:
        from choreographer.browsers.chromium import Chromium

        found = Chromium.find_browser(skip_local=False)
        if found:
            return str(found)
    except Exception:  # noqa: BLE001 - best effort: choreographer's API is not ours
        pass
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def kaleido_problem() -> str | None:
    """Why plotly's static PNG export cannot run here (None when kaleido and a Chromium are present)."""
    if importlib.util.find_spec("kaleido") is None:
        return "the kaleido package is not installed"
    if _chromium_path() is None:
        return "no Chromium or Chrome browser was found on the server"
    return None


def figure_png(figure, *, width: int = 1400, height: int | None = None, scale: float = 1.0) -> bytes:
    """A plotly figure as PNG bytes through kaleido, in the server's one export browser (``ui.export_pool``).

    The first export starts the browser (a few seconds); later ones reuse it. Exports run one at a time: a
    caller in a session waits in the export gate's line with its place shown (``ui.admission``). Raises
    ``ExportUnavailable`` with the reason when kaleido or Chromium is missing or the export fails.
    """
    problem = kaleido_problem()
    if problem:
        raise ExportUnavailable(problem)
    height = int(height or figure.layout.height or 500)
    try:
        with admitted("export", what="your chart"):
            return export_pool().render(figure.to_dict(), width=int(width), height=height, scale=scale)
    except Exception as err:  # noqa: BLE001 - kaleido raises many kinds; the page shows the fallback
        raise ExportUnavailable(f"the export failed ({type(err).__name__}: {err})") from err


_SUMMARY_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #111; }
h1 { font-size: 1.8rem; margin-bottom: 0.2rem; }
.pictures { display: flex; flex-wrap: wrap; gap: 1.5rem; margin: 1rem 0; }
figure { margin: 0; } figcaption { text-align: center; font-size: 0.95rem; color: #333; }
figure img { max-width: 420px; image-rendering: pixelated; border: 1px solid #ddd; }
table { border-collapse: collapse; margin: 1rem 0; } td, th { padding: 0.3rem 0.9rem; text-align: left; }
tr:nth-child(even) { background: #f3f5f9; } td.value { font-variant-numeric: tabular-nums; font-weight: 600; }
.link { font-family: ui-monospace, monospace; word-break: break-all; background: #f3f5f9; padding: 0.5rem; }
.notes { color: #444; font-size: 0.95rem; }
"""


def summary_html(*, title: str, link: str, numbers: Sequence[tuple[str, str]],
                 pictures: Sequence[tuple[str, bytes]] = (), notes: Sequence[str] = (),
                 link_complete: bool = True) -> str:
    """A self-contained one-page HTML summary of a view.

    Parameters
    ----------
    title : str
    link : str
        The address that reopens the view (only a path and query string when ``link_complete`` is False).
    numbers : sequence of (label, value)
        The page's metrics, as the page shows them.
    pictures : sequence of (caption, PNG bytes)
        Embedded as data URLs.
    notes : sequence of str
        Plain sentences (the settings, the source).

    Every string is escaped with ``html.escape``: nothing the user typed can become markup.
    """
    esc = html.escape
    rows = "\n".join(f'<tr><th scope="row">{esc(label)}</th><td class="value">{esc(value)}</td></tr>'
                     for label, value in numbers)
    figures = "\n".join(
        f'<figure><img alt="{esc(caption)}" src="{png_data_url(data)}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>" for caption, data in pictures)
    note_items = "\n".join(f"<li>{esc(note)}</li>" for note in notes)
    if link_complete:
        link_html = f'<p class="link"><a href="{esc(link, quote=True)}">{esc(link)}</a></p>'
    else:
        link_html = (f'<p class="link">{esc(link)}</p><p class="notes">Append this to the app\'s address to '
                     "reopen the view.</p>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(title)}</title><style>{_SUMMARY_STYLE}</style></head><body>\n"
        f"<h1>{esc(title)}</h1>\n<p class=\"notes\">Made by Low-Rank Explorer.</p>\n"
        f'<div class="pictures">\n{figures}\n</div>\n'
        f'<table class="numbers"><tbody>\n{rows}\n</tbody></table>\n'
        f'<ul class="notes">\n{note_items}\n</ul>\n'
        f"<h2>Reopen this view</h2>\n{link_html}\n</body></html>\n"
    )


def npy_bytes(array: np.ndarray) -> bytes:
    """``np.save`` of a float32 copy into memory, without pickle."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


def csv_maker(array: np.ndarray) -> Callable[[], bytes]:
    """A callable that formats the array as CSV only when the download is clicked (formatting is slow)."""
    def make() -> bytes:
        buffer = io.StringIO()
        np.savetxt(buffer, array, delimiter=",", fmt="%.9g")
        return buffer.getvalue().encode()
    return make


# ====================================================================================== Streamlit parts


def _slug(text: str) -> str:
    """A file-name-safe version of a chart's label."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "chart"


def chart_png_exports(charts: Mapping[str, object], *, prefix: str) -> None:
    """Pick a chart, press "Make PNG", download it: plotly's static export through kaleido, on demand.

    Without kaleido or Chromium (or when the export fails) a caption points to each chart's own toolbar
    button "Download plot as PNG" instead.
    """
    fallback = ("Each chart's own toolbar also downloads it as PNG: hover over the chart and press the "
                "camera button (“Download plot as PNG”).")
    problem = kaleido_problem()
    if problem:
        st.caption(f"Server-side PNG export needs kaleido and Chromium ({problem}). {fallback}")
        return
    if not charts:
        return
    names = list(charts)
    columns = st.columns([3, 1], vertical_alignment="bottom")
    with columns[0]:
        name = st.selectbox("Chart to export as PNG", names, key=f"{prefix}_png_chart",
                            persist_state="session")
    with columns[1]:
        make = st.button("Make PNG", key=f"{prefix}_png_make", help="Renders on the server (a few seconds).")
    if make and name in charts:
        try:
            with st.spinner("Rendering the PNG (a few seconds)…"):
                data = figure_png(charts[name])
        except ExportUnavailable as err:
            st.warning(f"The PNG could not be made: {err}. {fallback}")
            return
        st.download_button(f"Download {name}.png", data, file_name=f"{_slug(name)}.png", mime="image/png",
                           on_click="ignore", key=f"{prefix}_png_download", icon="🖼️")
    st.caption(f"Renders with kaleido on the server, one chart at a time for everyone, about 1–10 s a chart. "
               f"{fallback}")


def html_summary_button(make: Callable[[], str], *, prefix: str, file_name: str) -> None:
    """A download button whose HTML summary is built only when it is clicked."""
    st.download_button("Summary of this view (HTML)", lambda: make().encode("utf-8"), file_name=file_name,
                       mime="text/html", on_click="ignore", key=f"{prefix}_summary_html", icon="📄",
                       help="One page with the pictures, the numbers and the link that reopens this view.")
