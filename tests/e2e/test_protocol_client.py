"""The load test's protocol client (benchmarks/streamlit_client.py) against a real `streamlit run` server.

benchmarks/load.py measures the image page under load with this client instead of chromium pages; this test
checks the steps it relies on (open /image, choose Upload, upload, report the rank scrubber ready, settle
ranks as its JavaScript does, the payload sent once and then referenced, the numbers following), so that a
Streamlit upgrade that changes the protocol fails here rather than silently in the load figures.
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


def _run(coroutine):
    """Run a coroutine in its own thread and event loop: Playwright's sync API may hold one in this thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=600)


async def _session(url: str):
    client = StreamlitClient(url, "image")
    await client.connect()
    try:
        opened = await client.rerun(timeout=120, want_image=False)
        client.set_string("image_source", "Upload")
        chosen = await client.rerun(timeout=120, want_image=False)
        await client.upload("image_upload", "gradient.jpg", _jpeg(), "image/jpeg")
        first = await client.rerun(timeout=120, want_image=False)
        data = client.component_data("image_scrub")
        payload_bytes = len(client.elements[client.widget_id("image_scrub_payload")].bytes)
        client.report_ready("image_scrub")  # as the component's JavaScript does once it has drawn
        ready = await client.rerun(timeout=60, want_image=False)
        moves = []
        for target in (31, 32, 31, 1):
            client.settle("image_scrub", target)
            moves.append((target, await client.rerun(timeout=60, want_image=False),
                          client.component_data("image_scrub")))
        return client.session_id, opened, chosen, first, data, payload_bytes, ready, moves
    finally:
        await client.close()


def test_the_load_test_client_uploads_and_moves_the_rank_scrubber(app_url):
    session_id, opened, chosen, first, data, payload_bytes, ready, moves = _run(_session(app_url))
    assert session_id
    for run in (opened, chosen, first, ready):
        assert run.errors == []
        assert run.finished_seconds is not None and run.finished_seconds > 0
    assert (data["min_rank"], data["max_rank"], data["command"]) == (1, 90, {"rank": 30, "nonce": 0})
    assert first.bytes_received > payload_bytes > 50_000  # the payload arrives once...
    assert ready.references >= 1 and ready.bytes_received < payload_bytes  # ...then as a reference
    psnr = {30: first.metrics["PSNR"]}
    for target, run, shown in moves:
        assert run.errors == [] and run.image_url is None  # the browser draws: no picture from the server
        assert run.references >= 1 and run.bytes_received < payload_bytes
        assert shown["payload"] == data["payload"] and shown["command"] == data["command"]  # not commanded
        psnr[target] = run.metrics["PSNR"]
    assert len({psnr[31], psnr[32], psnr[1]}) == 3 and psnr[1] < psnr[30]  # the numbers follow the rank


async def _settings_around_an_upload(url: str):
    client = StreamlitClient(url, "image")
    await client.connect()
    try:
        await client.rerun(timeout=120, want_image=False)
        client.set_string("image_mode", "YCbCr (luma and chroma ranks, as JPEG)")
        before = await client.rerun(timeout=120, want_image=False)
        client.set_string("image_source", "Upload")
        waiting = await client.rerun(timeout=120, want_image=False)
        assert not any(key.endswith("-image_dtype") for key in client.elements)  # not drawn while waiting
        await client.upload("image_upload", "gradient.jpg", _jpeg(), "image/jpeg")
        after = await client.rerun(timeout=120, want_image=False)
        shown = {key: client.elements[client.widget_id(key)] for key in ("image_dtype", "image_mode")}
        return before, waiting, after, shown
    finally:
        await client.close()


def _chosen(radio) -> str:
    """The option a radio shows: the value the script set, or its default."""
    return radio.raw_value if radio.set_value else radio.options[radio.default]


def test_settings_survive_the_wait_for_an_upload(app_url):
    """The page stops while it waits for the file, so the settings are not drawn for one run; they came back
    as the first option (float32, RGB) instead of the default float16 and the chosen YCbCr."""
    before, waiting, after, shown = _run(_settings_around_an_upload(app_url))
    for run in (before, waiting, after):
        assert run.errors == []
    assert _chosen(shown["image_dtype"]) == "float16 (2 B)"
    assert _chosen(shown["image_mode"]) == "YCbCr (luma and chroma ranks, as JPEG)"
