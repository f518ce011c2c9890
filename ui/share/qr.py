"""A link as a QR code (segno, computed here: nothing is fetched), so a room opens the view on its phones.

Pure (no Streamlit): ``qr_png``; ``ui.share.views.qr_code`` draws it through the cache."""

from __future__ import annotations

import io

import numpy as np
import segno
from PIL import Image

__all__ = ["qr_png"]

_QUIET_ZONE = 4  # modules of white around the code, as the standard asks


def qr_png(text: str, *, pixels: int) -> bytes:
    """A PNG of ``text`` as a QR code about ``pixels`` wide (whole pixels per module, a 4-module quiet zone).

    segno chooses the code (error correction level M: 15 % of it may be lost to a projector's glare or a
    phone held askew; about 50 ms here, hence ``ui.share.cache``); Pillow writes the picture from segno's
    module matrix.
    """
    code = segno.make(str(text), error="m", micro=False)
    modules = np.pad(np.array(code.matrix, dtype=np.uint8), _QUIET_ZONE)  # (n, n), 1 = dark
    scale = max(2, int(pixels) // modules.shape[0])
    picture = np.where(np.kron(modules, np.ones((scale, scale), dtype=np.uint8)) > 0, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(picture, mode="L").save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()

