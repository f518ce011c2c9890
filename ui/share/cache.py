"""The share family's only cache: QR pictures of links (segno takes about 60 ms to choose a code's mask, and
the share box is drawn on every rerun)."""

from __future__ import annotations

import streamlit as st

from ui.limits import CACHE_ENTRIES
from ui.share.qr import qr_png

__all__ = ["qr_picture"]


@st.cache_data(max_entries=CACHE_ENTRIES["qr_png"], show_spinner=False)
def qr_picture(link: str, pixels: int) -> bytes:
    """``qr_png(link, pixels=pixels)``, once per link and size."""
    return qr_png(link, pixels=pixels)
