"""State that survives page switches, in chromium: a photo uploaded on the image page, its view and its rank
are all there after a visit to two other pages through the sidebar, and so is the matrix page's rank; the
address comes back with each page's own query string."""

import re

import numpy as np
from PIL import Image
from playwright.sync_api import Page, expect

from tests.conftest import ARTIFACTS
from tests.e2e.conftest import expect_no_error, wait_idle
from tests.e2e.scrubber import type_rank


def _nav(page: Page, title: str, heading: str) -> None:
    """Click a page in the sidebar's navigation and wait for its heading."""
    page.get_by_test_id("stSidebarNavLink").filter(has_text=title).click()
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=90_000)
    wait_idle(page)


def _scrub_to(page: Page, value: int) -> None:
    """Type ``value`` into the rank scrubber and wait for the rerun its settled rank starts."""
    expect(page.locator(".lrs-root")).to_have_attribute("data-status", "ready", timeout=90_000)
    type_rank(page, value)
    wait_idle(page)


def test_an_uploaded_photo_its_view_and_rank_survive_two_other_pages(page: Page, app_url: str):
    rng = np.random.default_rng(7)
    photo = (np.linspace(0, 255, 96)[None, :, None] * np.ones((72, 1, 3))
             + rng.integers(0, 60, (72, 96, 3))).clip(0, 255).astype(np.uint8)  # (H, W, 3): rank > 26
    path = ARTIFACTS / "state_photo.png"
    ARTIFACTS.mkdir(exist_ok=True)
    Image.fromarray(photo).save(path)

    page.goto(f"{app_url}/matrix")
    _scrub_to(page, 2)
    expect(page).to_have_url(re.compile(r"/matrix\?rank=2$"), timeout=30_000)

    _nav(page, "Image compression", "Image compression")
    page.get_by_test_id("stRadio").filter(has_text="Image source").get_by_text("Upload").click()
    wait_idle(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
    expect(page.get_by_text("96×72 pixels")).to_be_visible(timeout=60_000)
    wait_idle(page)
    swipe = page.locator("button.lrs-view[data-view=swipe]")  # the scrubber's view buttons
    expect(swipe).to_be_visible(timeout=60_000)
    swipe.click()
    expect(page).to_have_url(re.compile(r"view=swipe"), timeout=30_000)
    wait_idle(page)
    _scrub_to(page, 26)
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
    expect(page.locator(".lrs-root")).to_have_attribute("data-status", "ready", timeout=60_000)
    expect(swipe).to_have_attribute("aria-pressed", "true")  # the same view
    expect(page.locator("input.lrs-range")).to_have_value("26")  # the same rank
    expect(psnr_card).to_have_text(psnr)
    wait_idle(page)
    assert page.url == image_address  # the address comes back with the page's own query string
    expect(page.get_by_test_id("stAlertContentInfo").filter(has_text="cannot travel")).to_have_count(0)

    _nav(page, "Matrix explorer", "Matrix explorer")
    expect(page.locator("input.lrs-range")).to_have_value("2", timeout=60_000)
    expect(page).to_have_url(re.compile(r"/matrix\?rank=2$"), timeout=30_000)
    expect_no_error(page)
    page.screenshot(path=str(ARTIFACTS / "state_across_pages.png"))
