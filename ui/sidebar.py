"""The sidebar every page shares: the presenter toggle, which device computes, and where the source is."""

import streamlit as st
import torch

from lowrank_core import choose_device
from ui.presenter import presenter_layout, presenter_toggle, sync_present_param

__all__ = ["device_label", "render_sidebar"]


def device_label() -> str:
    """'CPU (N threads)' or 'GPU: <name>', for the device ``choose_device()`` picks."""
    device = choose_device()
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    return f"CPU ({torch.get_num_threads()} threads)"


def render_sidebar() -> None:
    """Presenter toggle at the top; device, source and licence notes at the bottom of the sidebar.

    In the presenter view the sidebar is hidden by CSS (still drawn, so the toggle keeps its state) and a
    button at the top of the page leads back.
    """
    with st.sidebar:
        presenter_toggle()
        st.divider()
        st.caption(f"Computing on **{device_label()}** with torch {torch.__version__}.")
        st.page_link("pages/about.py", label="Source, licences and how it works", icon=":material/info:")
    sync_present_param()
    presenter_layout()
