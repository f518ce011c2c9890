"""The presenter view in chromium at a projector's 1920×1080 and 1280×720 and on a 390-px phone: metric values
larger than outside it, the picture and the rank control both in view, no two titles overlapping; the
keyboard (←/→ slides, digits, ↑/↓ rank, P, ?); page navigation without leaving the view; and the Layers page's
rank after its weight is replaced."""

import re

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ARTIFACTS
from tests.e2e.conftest import expect_no_error, wait_idle

VIEWPORTS = {"1920x1080": (1920, 1080), "1280x720": (1280, 720), "390x844": (390, 844)}

# Every visible title: headings, plotly chart and subplot titles, picture captions, metric labels.
TITLES_JS = """() => {
  const selectors = ['[data-testid=stMain] h1', '[data-testid=stMain] h2', '[data-testid=stMain] h3',
                     '.js-plotly-plot .gtitle', '.js-plotly-plot .annotation-text',
                     '[data-testid=stImageCaption]', '[data-testid=stMetricLabel]'];
  const boxes = [];
  for (const selector of selectors) {
    for (const element of document.querySelectorAll(selector)) {
      const r = element.getBoundingClientRect();
      if (r.width > 0 && r.height > 0 && element.textContent.trim())
        boxes.push({text: element.textContent.trim().slice(0, 40), x: r.x, y: r.y, w: r.width, h: r.height});
    }
  }
  return boxes;
}"""


def _overlaps(boxes: list[dict]) -> list[tuple[str, str]]:
    """Pairs of titles whose boxes intersect by more than a pixel each way."""
    found = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            dx = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
            dy = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
            if dx > 1 and dy > 1:
                found.append((a["text"], b["text"]))
    return found


def _in_view(box: dict, width: int, height: int) -> bool:
    return box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width + 0.5 and \
        box["y"] + box["height"] <= height + 0.5


def _open(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_test_id("stMetricValue").first).to_be_visible(timeout=90_000)
    wait_idle(page)
    page.wait_for_timeout(600)  # plotly's layout pass and the pictures' decode


def _metric_px(page: Page) -> float:
    return page.evaluate("parseFloat(getComputedStyle(document.querySelector("
                         "'[data-testid=stMetricValue] [data-testid=stMarkdownContainer] p')).fontSize)")


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_presenter_view_fits_the_screen(page: Page, app_url: str, size: str):
    width, height = VIEWPORTS[size]
    page.set_viewport_size({"width": width, "height": height})
    image_url = f"{app_url}/image?sample=chelsea&rank=26"
    _open(page, image_url)
    outside = _metric_px(page)
    _open(page, image_url + "&present=1")
    expect(page.get_by_test_id("stSidebar")).to_be_hidden()
    assert _metric_px(page) > outside * 1.2, (outside, _metric_px(page))

    expect(page.locator(".lrs-root")).to_have_attribute("data-status", "ready", timeout=60_000)
    page.wait_for_timeout(800)  # the scrubber sizes its picture to the window
    picture, slider = page.locator("canvas.lrs-canvas").first, page.locator("input.lrs-range")
    for part in (picture, slider, page.locator("canvas.lrs-spectrum")):  # the picture, its rank, σ's strip
        assert _in_view(part.bounding_box(), width, height), part.bounding_box()
    assert picture.bounding_box()["height"] >= min(240, 0.25 * height)  # not a thumbnail
    expect(slider).to_have_value("26")
    page.screenshot(path=str(ARTIFACTS / f"presenter_image_{size}.png"))

    overflow = page.evaluate("[...document.querySelectorAll('[data-testid=stMain] *')]"
                             ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).length")
    assert overflow == 0  # nothing runs off the right edge
    matrix_url = f"{app_url}/matrix?present=1&gen=noisy-low-rank&m=120&n=120&rank=10"
    for url in (image_url + "&present=1", matrix_url, f"{app_url}/layer?present=1"):
        _open(page, url)
        titles = page.evaluate(TITLES_JS)
        assert len(titles) >= 3
        assert _overlaps(titles) == [], url
        expect_no_error(page)
    page.screenshot(path=str(ARTIFACTS / f"presenter_layer_{size}.png"))


def test_the_keys_move_slides_and_ranks_and_toggle_the_view(page: Page, app_url: str):
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{app_url}/?present=1")
    heading = page.get_by_role("heading", name="1. A matrix built from two thin ones")
    expect(heading).to_be_visible(timeout=60_000)
    wait_idle(page)
    page.wait_for_selector("html[data-low-rank-keys=ready]", state="attached")
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("heading", name="2. Its rank")).to_be_visible(timeout=30_000)
    expect(heading).to_have_count(0)  # one step a slide
    wait_idle(page)
    page.keyboard.press("7")
    expect(page.get_by_role("heading", name="7. Below the rank, the outputs part")).to_be_visible(
        timeout=30_000)
    wait_idle(page)
    slider = page.locator("input.lrs-range")  # the rank scrubber of step 7
    expect(slider).to_have_value("4")
    page.keyboard.press("ArrowDown")
    expect(slider).to_have_value("3", timeout=30_000)
    expect(page.get_by_text("largest |z − z_lr| at rank 3")).to_be_visible()
    wait_idle(page)
    expect(page.get_by_text("Presenter notes")).to_be_visible()  # the notes' panel, folded
    page.keyboard.press("?")
    keys = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(keys).to_be_visible()
    expect(keys).to_contain_text("presenter view on / off")
    page.keyboard.press("Escape")
    expect(keys).to_be_hidden()
    page.keyboard.press("p")
    expect(page.get_by_test_id("stSidebar")).to_be_visible(timeout=30_000)
    wait_idle(page)
    assert "present=1" not in page.url and "rank=3" in page.url
    expect(page.get_by_role("heading", name="1. A matrix built from two thin ones")).to_be_visible()
    page.keyboard.press("p")
    expect(page.get_by_test_id("stSidebar")).to_be_hidden(timeout=30_000)
    wait_idle(page)
    expect_no_error(page)


def test_pages_change_inside_the_presenter_view_and_keep_their_address(page: Page, app_url: str):
    page.set_viewport_size({"width": 1280, "height": 720})
    _open(page, f"{app_url}/matrix?present=1&gen=hilbert&n=12&rank=5")
    page.get_by_role("link", name=re.compile(r"Image compression ▶")).click()
    expect(page.get_by_role("heading", name="Image compression")).to_be_visible(timeout=60_000)
    wait_idle(page)
    assert "/image" in page.url and "present=1" in page.url
    expect(page.get_by_test_id("stSidebar")).to_be_hidden()
    page.get_by_test_id("stPopover").filter(has_text="Pages").click()
    matrix_link = page.get_by_test_id("stPopoverBody").get_by_role("link", name="Matrix explorer")
    expect(matrix_link).to_have_attribute("href", re.compile(r"matrix\?gen=hilbert&n=12&rank=5$"))
    matrix_link.click()
    expect(page.locator("input.lrs-range")).to_have_value("5", timeout=60_000)
    wait_idle(page)
    assert re.search(r"/matrix\?.*gen=hilbert.*rank=5", page.url) and "present=1" in page.url
    expect_no_error(page)


def test_the_layer_rank_and_its_numbers_agree_after_a_new_weight(page: Page, app_url: str):
    first = np.random.default_rng(0).standard_normal((64, 48)).astype(np.float32)
    second = np.random.default_rng(1).standard_normal((100, 80)).astype(np.float32)
    paths = []
    for index, weight in enumerate((first, second)):
        path = ARTIFACTS / f"layer_weight_{index}.npy"
        np.save(path, weight)
        paths.append(path)
    _open(page, f"{app_url}/layer")
    page.get_by_text("Upload a weight (.npy / .pt)").click()
    wait_idle(page)
    for path, weight in zip(paths, (first, second), strict=True):
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
        expect(page.get_by_text(f"File: {path.name}")).to_be_visible(timeout=60_000)
        wait_idle(page)
        page.wait_for_timeout(1_000)
        wait_idle(page)
        slider = page.get_by_test_id("stSlider").first.get_by_role("slider")
        expect(slider).to_have_value("32")
        S = np.linalg.svd(weight.astype(np.float64), compute_uv=False)
        bound = page.get_by_test_id("stMetric").filter(has_text="bound σᵣ₊₁").get_by_test_id("stMetricValue")
        assert float(bound.inner_text()) == pytest.approx(S[32], rel=1e-3)  # σ₃₃: the numbers are rank 32
        assert "rank=" not in page.url  # 32 is the default: the address agrees
    expect_no_error(page)
