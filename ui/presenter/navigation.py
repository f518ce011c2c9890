"""Changing page without leaving the presenter view: previous/next page and a compact page menu.

The sidebar (hidden while presenting) passes the app's pages and the one running; ``presenter_bar`` draws a
row at the top of the page. Every link carries its page's last query string (``ui.links.page_query``), so
a page opened from here, or in a new tab, shows the view it had.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from ui.links import page_query
from ui.presenter.view import PRESENT_KEY, is_presenting

__all__ = ["neighbours", "presenter_bar"]


def neighbours(pages: Sequence, current) -> tuple[object | None, object | None]:
    """The pages before and after ``current`` in ``pages`` (None at either end, or when it is not there)."""
    paths = [page.url_path for page in pages]
    if current is None or current.url_path not in paths:
        return None, None
    index = paths.index(current.url_path)
    return (pages[index - 1] if index > 0 else None), (pages[index + 1] if index + 1 < len(pages) else None)


def _leave() -> None:
    """Callback of the button that leaves the presenter view."""
    st.session_state[PRESENT_KEY] = False


def presenter_bar(pages: Sequence, current) -> None:
    """In the presenter view: ◀ previous page, a menu of every page, next page ▶, and a way out."""
    if not is_presenting():
        return
    previous, following = neighbours(pages, current)
    with st.container(horizontal=True, key="presenter_bar", vertical_alignment="center", gap="small"):
        if previous is not None:
            st.page_link(previous, label=f"◀ {previous.title}", query_params=page_query(previous.url_path))
        with st.popover("Pages", icon=":material/menu:", key="presenter_pages"):
            for page in pages:
                st.page_link(page, label=page.title, icon=page.icon or None,
                             query_params=page_query(page.url_path),
                             disabled=current is not None and page.url_path == current.url_path)
        if following is not None:
            st.page_link(following, label=f"{following.title} ▶", query_params=page_query(following.url_path))
        st.button("Leave the presenter view", key="present_leave", on_click=_leave, icon="↩️", type="tertiary",
                  help="Or press P. Keys: ← → sections, ↑ ↓ rank, ? all keys.")
