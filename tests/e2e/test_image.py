"""Real browser: upload a photograph to the image page, move the rank scrubber, see the picture change,
download the reconstruction."""

import io
import re

from PIL import Image
from playwright.sync_api import Page, expect

from lowrank_core import sources
from tests.e2e.conftest import expect_no_error, screenshot, wait_idle
from tests.e2e.scrubber import canvas_signature


def _open_image_page(page: Page, app_url: str) -> None:
    """Open /image. The root is loaded first: a fresh server answers a deep link before app.py has run
    st.navigation once, and then serves pages/image.py on its own (no wide layout, no shared sidebar)."""
    page.goto(app_url)
    expect(page.get_by_test_id("stSidebarNavLink").first).to_be_visible(timeout=60_000)
    wait_idle(page)
    page.goto(f"{app_url}/image")
    expect(page.get_by_role("heading", name="Image compression", exact=True)).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("stMetricValue").first).to_be_visible(timeout=120_000)  # the first run is done
    wait_idle(page)


def test_upload_move_slider_download(page: Page, app_url: str):
    _open_image_page(page, app_url)
    source = page.get_by_test_id("stRadio").first
    source.get_by_text("Upload", exact=True).click()
    expect(source.get_by_role("radio", name="Upload")).to_be_checked()
    uploader = page.get_by_test_id("stFileUploaderDropzoneInput")
    expect(uploader).to_have_count(1, timeout=60_000)
    uploader.set_input_files(files=[{"name": "rocket.jpg", "mimeType": "image/jpeg",
                                     "buffer": sources.sample_bytes("rocket")}])
    expect(page.get_by_text("File: rocket.jpg")).to_be_visible(timeout=60_000)
    wait_idle(page)
    expect_no_error(page)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)

    scrubber = page.locator(".lrs-root")
    expect(scrubber).to_have_attribute("data-status", "ready", timeout=60_000)
    expect(scrubber).to_have_attribute("data-cap", "427")  # the photo's full rank: 427 × 640
    wait_idle(page)
    before = canvas_signature(page)
    slider = page.get_by_role("slider", name="Rank r")
    expect(slider).to_have_value("30")
    slider.focus()
    for _ in range(3):
        slider.press("ArrowRight")
    expect(slider).to_have_value("33")
    expect(scrubber).to_have_attribute("data-drawn-rank", "33,33,33")
    assert canvas_signature(page) != before
    expect(page).to_have_url(re.compile(r"[?&]rank=33(&|$)"), timeout=30_000)  # settled: one rerun
    wait_idle(page)
    expect_no_error(page)

    with page.expect_download() as download_info:
        page.get_by_test_id("stDownloadButton").filter(has_text="Reconstruction (PNG)").click()
    download = download_info.value
    assert download.suggested_filename == "image_33.png"
    with Image.open(download.path()) as image:
        assert image.format == "PNG" and image.size == (640, 427)
    with Image.open(io.BytesIO(sources.sample_bytes("rocket"))) as original:
        assert image.size == original.size

    page.set_viewport_size({"width": 1400, "height": 4600})  # the app scrolls inside a container
    page.wait_for_timeout(500)
    screenshot(page, "image")
