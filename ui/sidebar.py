"""The sidebar every page shares: which device computes, and where the source and the data come from."""

import streamlit as st
import torch

from lowrank_core import choose_device

__all__ = ["device_label", "render_sidebar"]


def device_label() -> str:
    """'CPU (N threads)' or 'GPU: <name>', for the device ``choose_device()`` picks."""
    device = choose_device()
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    return f"CPU ({torch.get_num_threads()} threads)"


def render_sidebar() -> None:
    """Device, source and licence notes at the bottom of the sidebar."""
    with st.sidebar:
        st.divider()
        st.caption(f"Computing on **{device_label()}** with torch {torch.__version__}.")
        st.page_link("pages/about.py", label="Source, licences and how it works", icon="ℹ️")
