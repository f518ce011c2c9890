"""A QR code on screen: the share box's, and the presenter view's large one."""

from __future__ import annotations

import streamlit as st

from ui.limits import QR_PIXELS, QR_PRESENTER_PIXELS
from ui.share.cache import qr_picture

__all__ = ["qr_code"]


def qr_code(link: str, *, large: bool = False, caption: str | None = None) -> None:
    """Draw ``link`` as a QR code: ``QR_PIXELS`` wide, or ``QR_PRESENTER_PIXELS`` for a projector."""
    pixels = QR_PRESENTER_PIXELS if large else QR_PIXELS
    st.image(qr_picture(link, pixels), width=pixels, caption=caption, output_format="PNG")
