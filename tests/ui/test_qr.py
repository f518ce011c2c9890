"""The share box's QR code: it reads back (zxing-cpp, an independent decoder) as exactly the link."""

import io

import pytest
import zxingcpp
from PIL import Image

from ui.limits import QR_PIXELS, QR_PRESENTER_PIXELS
from ui.share.qr import qr_png


@pytest.mark.parametrize("pixels", [QR_PIXELS, QR_PRESENTER_PIXELS])
@pytest.mark.parametrize("link", ["http://127.0.0.1:8501/", "https://room.example/image?sample=chelsea&mode=ycbcr"
                                  "&rank=40&chroma=6&dtype=float32&view=swipe&poll=0123456789ab&room=123456"])
def test_the_code_reads_back_as_the_link(link, pixels):
    data = qr_png(link, pixels=pixels)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        assert pixels * 0.6 <= image.width == image.height <= pixels
        found = zxingcpp.read_barcodes(image.convert("L"))
    assert [code.text for code in found] == [link]
