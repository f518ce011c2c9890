"""State that survives page switches, in chromium: a photo uploaded on the image page, its view and its rank
are all there after a visit to two other pages through the sidebar, and so is the matrix page's rank; the
address comes back with each page's own query string."""

import re

import numpy as np
from PIL import Image
from playwright.sync_api import Page, expect

from tests.conftest import ARTIFACTS
from tests.e2e.conftest import expect_no_error, wait_idle


def _nav(page: Page, title: str, heading: str) -> None:
    """Click a page in the sidebar's navigation and wait for its heading."""
    page.get_by_test_id("stSidebarNavLink").filter(has_text=title).click()
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=90_000)
    wait_idle(page)


def _slide_to(page: Page, value: int) -> None:
    """Move the first slider to ``value`` with the keyboard, one rerun per step."""
    slider = page.get_by_test_id("stSlider").first.get_by_role("slider")
    while int(slider.input_value()) != value:
        current = int(slider.input_value())
        slider.focus()
        slider.press("ArrowRight" if value > current else "ArrowLeft")
        expect(slider).to_have_value(str(current + (1 if value > current else -1)), timeout=30_000)
        wait_idle(page)


def test_an_uploaded_photo_its_view_and_rank_survive_two_other_pages(page: Page, app_url: str):
    rng = np.random.default_rng(7)
    photo = (np.linspace(0, 255, 96)[None, :, None] * np.ones((72, 1, 3))
             + rng.integers(0, 60, (72, 96, 3))).clip(0, 255).astype(np.uint8)  # (H, W, 3): rank > 26
    path = ARTIFACTS / "state_photo.png"
    ARTIFACTS.mkdir(exist_ok=True)
    Image.fromarray(photo).save(path)

    page.goto(f"{app_url}/matrix")
    expect(page.get_by_test_id("stSlider").first).to_be_visible(timeout=90_000)
    wait_idle(page)
    _slide_to(page, 2)
    expect(page).to_have_url(re.compile(r"/matrix\?rank=2$"), timeout=30_000)

    _nav(page, "Image compression", "Image compression")
    page.get_by_test_id("stRadio").filter(has_text="Image source").get_by_text("Upload").click()
    wait_idle(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
    expect(page.get_by_text("96×72 pixels")).to_be_visible(timeout=60_000)
    wait_idle(page)
    page.get_by_test_id("stRadio").filter(has_text="View").get_by_text("Swipe").click()
    expect(page).to_have_url(re.compile(r"view=swipe"), timeout=30_000)
    wait_idle(page)
    _slide_to(page, 26)
    expect(page).to_have_url(re.compile(r"rank=26"), timeout=30_000)
    wait_idle(page)
    psnr_card = page.get_by_test_id("stMetric").filter(has_text="PSNR").get_by_test_id("stMetricValue")
    psnr = psnr_card.inner_text()
    image_address = page.url

    _nav(page, "Layers and LoRA", "Layers and LoRA: why a low-rank weight is enough")
    _nav(page, "From the notebook", "From the notebook")
    _nav(page, "Image compression", "Image compression")

    expect(page.get_by_text("File: state_photo.png")).to_be_visible(timeout=60_000)  # the same photo
    expect(page.get_by_text("96×72 pixels")).to_be_visible()
    expect(page.get_by_text("The image uploaded before is kept for this session")).to_be_visible()
    expect(page.get_by_role("radio", name="Swipe")).to_be_checked()  # the same view
    expect(page.get_by_test_id("stSlider").first.get_by_role("slider")).to_have_value("26")  # the same rank
    expect(psnr_card).to_have_text(psnr)
    expect(page.locator("iframe")).to_have_count(1)  # the swipe comparison
    wait_idle(page)
    assert page.url == image_address  # the address comes back with the page's own query string
    expect(page.get_by_test_id("stAlertContentInfo").filter(has_text="cannot travel")).to_have_count(0)

    _nav(page, "Matrix explorer", "Matrix explorer")
    expect(page.get_by_test_id("stSlider").first.get_by_role("slider")).to_have_value("2")
    expect(page).to_have_url(re.compile(r"/matrix\?rank=2$"), timeout=30_000)
    expect_no_error(page)
    page.screenshot(path=str(ARTIFACTS / "state_across_pages.png"))
