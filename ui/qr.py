"""A link as a QR code (segno, computed here: nothing is fetched), so a room opens the view on its phones."""

from __future__ import annotations

import io

import segno
import streamlit as st

from ui.limits import CACHE_ENTRIES, QR_PIXELS, QR_PRESENTER_PIXELS

__all__ = ["qr_png", "qr_code"]


def qr_png(text: str, *, pixels: int) -> bytes:
    """A PNG of ``text`` as a QR code about ``pixels`` wide (whole pixels per module, a 4-module quiet zone).

    Error correction level M (15 % of the code may be lost: a projector's glare, a phone held askew).
    """
    code = segno.make(str(text), error="m", micro=False)
    side, _ = code.symbol_size(scale=1, border=4)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=max(2, int(pixels) // side), border=4)
    return buffer.getvalue()


@st.cache_data(max_entries=CACHE_ENTRIES["qr_png"], show_spinner=False)
def _cached_png(text: str, pixels: int) -> bytes:
    """``qr_png`` for a link drawn on every rerun."""
    return qr_png(text, pixels=pixels)


def qr_code(link: str, *, large: bool = False, caption: str | None = None) -> None:
    """Draw ``link`` as a QR code: ``QR_PIXELS`` wide, or ``QR_PRESENTER_PIXELS`` for a projector."""
    pixels = QR_PRESENTER_PIXELS if large else QR_PIXELS
    st.image(_cached_png(link, pixels), width=pixels, caption=caption, output_format="PNG")
