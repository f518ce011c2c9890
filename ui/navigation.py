"""Deep links: make the first request of a fresh server run through app.py's ``st.navigation``, and keep a
page's old address working (``old_address``).

Streamlit 1.67 treats an app with a ``pages/`` folder as an old-style (version 1) multipage app until some
run has called ``st.navigation``. A link that opens ``/matrix`` as the very first request of a freshly
started server is then run without app.py: no sidebar, no wide layout, the folder's file names as the
navigation. The project's layout keeps the ``pages/`` folder (its top-level names are part of the brief), so
each page starts with ``ensure_navigation()``: it clears that flag once and reruns, which makes app.py run,
register the real pages and run this one again. It touches one Streamlit internal
(``PagesManager.uses_pages_directory``), guarded: a Streamlit without it is left alone. A browser test
(tests/e2e) opens a deep link on a fresh server to keep this true.
"""

from __future__ import annotations

import streamlit as st

__all__ = ["ensure_navigation", "old_address"]


def ensure_navigation() -> None:
    """Rerun through app.py's st.navigation when Streamlit ran this page as an old-style "pages/" page.

    It happens once per server process. Under AppTest (which sets the flag anew before every run and runs a
    switched-to page on its own) nothing is done.
    """
    try:
        from streamlit import config
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without the flag: nothing to fix
        return
    if config.get_option("global.appTest"):  # AppTest resets the flag before every run: a rerun would loop
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def old_address(url_path: str, target: st.Page) -> st.Page:
    """A hidden page at ``/url_path`` that opens ``target`` with the same query parameters.

    The tour is the default page, which Streamlit serves at the app's root; a request for its own
    ``url_path`` (``/tour``, the address in README and in links handed out before) was answered with "Page
    not found" when the browser's first request raced the page list. Registered as a page of its own, the
    old address is always found, and it moves the browser to the root, link parameters and all.
    """
    def redirect() -> None:
        st.switch_page(target, query_params=st.query_params.to_dict())

    return st.Page(redirect, title=target.title, icon=target.icon, url_path=url_path, visibility="hidden")
