"""The app starts under `streamlit run` and its first page renders in chromium."""

from playwright.sync_api import Page, expect

from tests.e2e.conftest import expect_no_error, wait_idle


def test_home_page_renders(page: Page, app_url: str):
    page.goto(app_url)
    expect(page.get_by_test_id("stSidebarNavLink").first).to_be_visible(timeout=60_000)
    wait_idle(page)
    expect_no_error(page)
    expect(page.get_by_text("Computing on")).to_be_visible()


def test_nothing_is_fetched_from_outside_the_server(page: Page, app_url: str):
    """Every page loads with requests to the app's own server only (no favicon, font or script elsewhere)."""
    outside = []
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith((app_url, "data:", "blob:", "about:")) else None)
    for path in ("", "matrix", "image", "layer", "quiz", "about"):
        page.goto(f"{app_url}/{path}")
        expect(page.get_by_test_id("stSidebarNavLink").first).to_be_visible(timeout=60_000)
        wait_idle(page)
        expect_no_error(page)
    page.wait_for_timeout(500)  # a favicon is requested after the first paint
    assert outside == []
