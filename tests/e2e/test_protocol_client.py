"""The load test's protocol client (benchmarks/streamlit_client.py) against a real `streamlit run` server.

benchmarks/load.py measures the slider under load with this client instead of chromium pages; this test
checks the steps it relies on (open /image, choose Upload, upload, move the slider, see the new image), so
that a Streamlit upgrade that changes the protocol fails here rather than silently in the load figures.
"""

import asyncio
import io
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))  # benchmarks/ holds scripts, not a package
from streamlit_client import StreamlitClient  # noqa: E402


def _jpeg(height: int = 90, width: int = 120) -> bytes:
    yy, xx = np.mgrid[0:height, 0:width]
    planes = [np.sin(xx / 9.0 + c) * np.cos(yy / 7.0) for c in range(3)]
    array = np.round((np.stack(planes, axis=-1) + 1) * 127.5).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


async def _session(url: str):
    client = StreamlitClient(url, "image")
    await client.connect()
    try:
        opened = await client.rerun(timeout=120, want_image=False)
        client.set_string("image_source", "Upload")
        chosen = await client.rerun(timeout=120, want_image=False)
        await client.upload("image_upload", "gradient.jpg", _jpeg(), "image/jpeg")
        first = await client.rerun(timeout=120)
        value, low, high = client.slider_value("image_rank")
        moves = []
        for target in (value + 1, value + 2, value + 1, low):
            client.set_slider("image_rank", target)
            moves.append((target, await client.rerun(timeout=60)))
        return client.session_id, opened, chosen, first, (value, low, high), moves
    finally:
        await client.close()


def test_the_load_test_client_uploads_and_moves_the_slider(app_url):
    # its own thread and event loop: Playwright's sync API may already run a loop in this one
    with ThreadPoolExecutor(max_workers=1) as pool:
        outcome = pool.submit(asyncio.run, _session(app_url)).result(timeout=600)
    session_id, opened, chosen, first, (value, low, high), moves = outcome
    assert session_id
    for run in (opened, chosen, first):
        assert run.errors == []
        assert run.finished_seconds is not None and run.finished_seconds > 0
    assert first.image_url.startswith("/media/")
    assert first.image_caption.startswith(f"Rank {int(value)} ")
    assert first.image_seconds > 0
    assert (low, high) == (1, 90)  # the rank slider of a 90×120 image
    urls = [first.image_url]
    for target, run in moves:
        assert run.errors == []
        assert run.image_caption.startswith(f"Rank {int(target)} "), run.image_caption
        assert run.image_url not in urls[-1:]
        assert run.image_seconds > 0
        urls.append(run.image_url)
