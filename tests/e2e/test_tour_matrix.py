"""Real browser: every page opens from the sidebar; the tour's lower rank and the matrix explorer's heatmaps
answer the keyboard through the rank scrubber (its canvases against numpy on the page's colour scale), and
the matrix explorer takes an upload."""

import re

import numpy as np
from playwright.sync_api import Page, expect

from lowrank_core.sources import generate
from tests.conftest import ARTIFACTS
from tests.e2e.conftest import expect_no_error, screenshot, wait_idle
from tests.e2e.scrubber import canvas_pixels
from ui.stills import colour_map

PAGES = {  # sidebar link -> (screenshot name, URL pattern, heading to wait for)
    "From the notebook": ("tour", r"/(tour)?$", "From the notebook"),  # the default page lives at /
    "Matrix explorer": ("matrix", r"/matrix$", "Matrix explorer"),
    "Image compression": ("image", r"/image$", None),
    "Layers and LoRA": ("layer", r"/layer$", None),
}


def full_screenshot(page: Page, name: str) -> None:
    """Screenshot of the whole page: Streamlit scrolls inside stMain, so grow the viewport to its height."""
    selector = "[data-testid=stMain], [data-testid=stAppScrollToBottomContainer]"
    height = page.evaluate(f"Math.max(...[...document.querySelectorAll('{selector}')]"
                           ".map(e => e.scrollHeight), document.body.scrollHeight)")
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 50, 12_000)})
    page.wait_for_timeout(500)  # let plotly re-lay out its charts
    wait_idle(page)
    screenshot(page, name)
    page.set_viewport_size(size)


def _metric(page: Page, label: str):
    """The value element of the metric card whose label is exactly ``label``."""
    card = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True))
    return card.get_by_test_id("stMetricValue")


def test_tour_rank_slider_parts_the_outputs(page: Page, app_url: str):
    page.goto(app_url)  # the tour is the default page: Streamlit serves it at /
    expect(_metric(page, "rank of W")).to_have_text("4", timeout=60_000)
    expect(page.locator(".lrs-root")).to_have_attribute("data-status", "ready", timeout=60_000)
    wait_idle(page)
    slider = page.get_by_role("slider", name="Rank r")
    expect(slider).to_have_value("4")
    slider.focus()
    slider.press("ArrowLeft")
    expect(slider).to_have_value("3")
    expect(page.locator("figcaption.lrs-title").nth(1)).to_have_text("W_r (r = 3)")  # at once, in the browser
    expect(_metric(page, "largest |z − z_lr| at rank 3")).to_be_visible(timeout=60_000)  # after it settled
    wait_idle(page)
    assert float(_metric(page, "largest |z − z_lr| at rank 3").inner_text()) > 1e-2
    full_screenshot(page, "tour_rank3")


def test_the_tours_old_address_opens_the_tour_with_its_settings(page: Page, app_url: str):
    """Issue 12: README advertises /tour, but the default page lives at /: once the server had its page list
    (any earlier visit), /tour answered "Page not found". It must open the tour, link and all, and hand out
    the root's link."""
    page.goto(app_url)  # st.navigation has run at least once (a fresh server's first request differs)
    expect(_metric(page, "rank of W")).to_have_text("4", timeout=60_000)
    wait_idle(page)
    for _ in range(2):
        page.goto(f"{app_url}/tour?m=6&k=2&rank=1")
        expect(_metric(page, "rank of W")).to_have_text("2", timeout=60_000)
        wait_idle(page)
        page.wait_for_timeout(500)  # the dialog, when there is one, comes with the page's first run
        expect(page.get_by_text("Page not found")).to_have_count(0)
        expect(page.get_by_test_id("stNumberInputField").first).to_have_value("6")  # m from the link
        expect(_metric(page, "largest |z − z_lr| at rank 1")).to_be_visible()
        expect(page).to_have_url(re.compile(r"/\?m=6&k=2&rank=1$"))  # the address is the tour's real one
        share = page.locator(".st-key-tour_share_box").get_by_test_id("stCode")
        expect(share).to_contain_text(f"{app_url}/?m=6&k=2&rank=1")
        expect_no_error(page)


def test_matrix_slider_and_upload(page: Page, app_url: str):
    page.goto(f"{app_url}/matrix")
    kept = _metric(page, "rank kept")
    expect(kept).to_have_text("4", timeout=60_000)
    wait_idle(page)
    error_before = _metric(page, "relative Frobenius error").inner_text()
    expect(page.locator(".lrs-root")).to_have_attribute("data-status", "ready", timeout=60_000)
    title = page.locator("figcaption.lrs-title").nth(1)
    expect(title).to_have_text("W_r (r = 4)")
    expect(page.locator(".lrs-views")).to_be_hidden()  # one view: no lone view button

    slider = page.get_by_role("slider", name="Rank r")
    slider.focus()
    slider.press("ArrowLeft")
    slider.press("ArrowLeft")
    expect(title).to_have_text("W_r (r = 2)")  # the heatmaps follow the keys in the browser
    expect(kept).to_have_text("2", timeout=30_000)  # and the numbers the settled rank
    wait_idle(page)
    W = generate("notebook", m=15, n=15, k=4, seed=0).double().numpy()  # the default matrix
    U, S, Vh = np.linalg.svd(W)
    low_rank = (U[:, :2] * S[:2]) @ Vh[:2]
    limit = np.abs(W).max()  # one scale for all three, as the page says
    for index, values in ((0, W), (1, low_rank), (2, W - low_rank)):
        position = np.clip((values / limit + 1) / 2, 0, 1) * 256
        clear = np.abs(position - np.floor(position) - 0.5) > 1e-3  # not on a rounding boundary
        assert np.array_equal(canvas_pixels(page, index)[clear], colour_map(values, limit)[clear]), index
    error_after = _metric(page, "relative Frobenius error").inner_text()
    assert float(error_after) > 1e3 * float(error_before)  # rank 2 < rank 4 loses real content
    expect_no_error(page)
    full_screenshot(page, "matrix_rank2")

    # upload a 6 x 5 matrix of rank 2 as CSV
    rng = np.random.default_rng(1)
    W = rng.normal(size=(6, 2)) @ rng.normal(size=(2, 5))
    path = ARTIFACTS / "upload_rank2.csv"
    ARTIFACTS.mkdir(exist_ok=True)
    np.savetxt(path, W, delimiter=",", fmt="%.8f")
    page.get_by_test_id("stButtonGroup").first.get_by_text("Upload a file").click()
    wait_idle(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
    expect(page.get_by_text("File: upload_rank2.csv")).to_be_visible(timeout=30_000)
    expect(_metric(page, "numerical rank")).to_have_text("2", timeout=30_000)
    wait_idle(page)
    expect(_metric(page, "parameters, dense")).to_have_text("30")
    expect(page.locator("figcaption.lrs-title").nth(1)).to_have_text("W_r (r = 2)")  # the new matrix's
    expect_no_error(page)
    full_screenshot(page, "matrix_upload")

    # a bad file: an error, and the page stays usable
    bad = ARTIFACTS / "bad.csv"
    bad.write_text("1,2,3\n4,oops,6\n")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(bad))
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("not a number", timeout=30_000)
    wait_idle(page)
    expect_no_error(page)
    full_screenshot(page, "matrix_bad_upload")
    page.get_by_test_id("stButtonGroup").first.get_by_text("Generator").click()
    expect(_metric(page, "numerical rank")).to_have_text("4", timeout=30_000)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)


def test_every_page_opens_from_the_sidebar(page: Page, app_url: str):
    # Last in this file: the image and layer pages start heavy work that would slow the tests after them.
    page.goto(app_url)
    expect(page.get_by_test_id("stSidebarNavLink").first).to_be_visible(timeout=60_000)
    wait_idle(page)
    for link, (name, url, heading) in PAGES.items():
        page.get_by_test_id("stSidebarNavLink").filter(has_text=link).click()
        expect(page).to_have_url(re.compile(url), timeout=30_000)
        if heading:
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=60_000)
        wait_idle(page)
        expect_no_error(page)
        if name in ("tour", "matrix"):
            expect(page.locator('[data-testid="stPlotlyChart"] svg.main-svg').first).to_be_visible()
            expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
        full_screenshot(page, name)
