"""Real browser: switch the image page to tiles, set a byte budget, see the ranks heatmap over the picture and
the tile SVD's curve join the rate–distortion chart."""

import re
import time

from playwright.sync_api import Page, expect

from tests.e2e.conftest import expect_no_error, screenshot, wait_idle

BUDGET_LABEL = "Byte budget (KB of the whole tile file, at float16)"


def test_tiles_mode_with_a_budget_shows_the_heatmap_and_the_tile_curve(page: Page, app_url: str):
    page.goto(app_url)  # the root first: a fresh server must have run st.navigation once before /image
    expect(page.get_by_test_id("stSidebarNavLink").first).to_be_visible(timeout=60_000)
    wait_idle(page)
    page.goto(f"{app_url}/image")
    expect(page.get_by_test_id("stMetricValue").first).to_be_visible(timeout=120_000)
    wait_idle(page)

    codec = page.get_by_test_id("stRadio").filter(has_text="Codec")
    codec.get_by_text("Tiles (a rank per tile", exact=False).click()
    expect(page.get_by_role("heading", name="Tiles and their budget")).to_be_visible(timeout=60_000)
    wait_idle(page)
    budget = page.get_by_label(BUDGET_LABEL)
    budget.fill("40")
    budget.press("Enter")
    expect(budget).to_have_value("40.0", timeout=30_000)
    expect(page).to_have_url(re.compile(r"codec=tiles.*tbudget=40"), timeout=60_000)  # after the rerun
    wait_idle(page)
    expect_no_error(page)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)

    card = page.get_by_test_id("stMetric").filter(has_text="Tile file (float16)")
    size = int(re.sub(r"\D", "", card.get_by_test_id("stMetricValue").inner_text()))
    assert 30_000 < size <= 40_000  # the budget, spent
    heatmap = page.get_by_test_id("stPlotlyChart").filter(has_text="Rank of each 16×16 tile of R")
    expect(heatmap.locator("svg.main-svg").first).to_be_visible(timeout=30_000)
    sources = [(image.get_attribute("href") or "")[:15] for image in heatmap.locator("image").all()]
    assert sources == ["data:image/jpeg", "data:image/png;"]  # the picture, then the heatmap over it
    expect(page.get_by_test_id("stImage").filter(has_text="16×16 tiles:")).to_have_count(1)

    chart = page.get_by_test_id("stPlotlyChart").filter(has_text="PSNR (dB) against size")
    deadline = time.monotonic() + 180
    while not chart.filter(has_text="tile SVD, 16×16 tiles").count():  # background jobs: refresh until done
        assert time.monotonic() < deadline, "the tile curve did not join the chart in 3 minutes"
        for label in ("Show the curves if they are ready", "Show the tile curve if it is ready"):
            button = page.get_by_role("button", name=label)
            if button.count():
                button.click()
                wait_idle(page)
        page.wait_for_timeout(2000)
    expect(chart.locator("svg.main-svg").first).to_be_visible()
    expect(page.get_by_text("Against JPEG, the tile SVD (16×16 tiles)")).to_be_visible()
    expect_no_error(page)

    page.set_viewport_size({"width": 1400, "height": 5200})  # the app scrolls inside a container
    page.wait_for_timeout(500)
    screenshot(page, "image_tiles")
