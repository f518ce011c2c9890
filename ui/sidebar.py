"""The sidebar every page shares: the presenter toggle, which device computes, and where the source is; and
what every page gets before it runs (the presenter view's CSS and navigation bar, the presenter's keys)."""

from collections.abc import Sequence

import streamlit as st
import torch

from lowrank_core import choose_device
from ui.links import set_current_page
from ui.presenter import presenter_css, presenter_toggle, sync_present_param
from ui.presenter.keys import forget_targets, presenter_keys
from ui.presenter.navigation import presenter_bar

__all__ = ["device_label", "render_sidebar"]


def device_label() -> str:
    """'CPU (N threads)' or 'GPU: <name>', for the device ``choose_device()`` picks."""
    device = choose_device()
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    return f"CPU ({torch.get_num_threads()} threads)"


def render_sidebar(pages: Sequence = (), current=None) -> None:
    """Presenter toggle at the top; device, source and licence notes at the bottom of the sidebar; then, at
    the top of the page, the presenter view's CSS and its bar (previous/next page, a page menu, a way out).

    ``pages`` are the app's ``st.Page`` objects in menu order and ``current`` the one running. In the
    presenter view the sidebar is hidden by CSS (still drawn, so the toggle keeps its state). The keyboard
    (P, ←/→, ↑/↓, ?) is mounted here, so it works on every page.
    """
    forget_targets()
    if current is not None:
        set_current_page(current.url_path)
    with st.sidebar:
        presenter_toggle()
        st.divider()
        st.caption(f"Computing on **{device_label()}** with torch {torch.__version__}.")
        st.page_link("pages/about.py", label="Source, licences and how it works", icon=":material/info:")
        st.caption("Keys: ← → sections · ↑ ↓ rank · P presenter view · ? all keys")
        presenter_keys()
    sync_present_param()
    presenter_css()
    presenter_bar(pages, current)
