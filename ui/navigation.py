"""Deep links on a fresh server: make the first request run through app.py's ``st.navigation``.

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

__all__ = ["ensure_navigation"]


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
