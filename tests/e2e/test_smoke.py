"""The app starts under `streamlit run` and its first page renders in chromium."""

from playwright.sync_api import Page, expect

from tests.e2e.conftest import expect_no_error, wait_idle


def test_home_page_renders(page: Page, app_url: str):
    page.goto(app_url)
    expect(page.get_by_test_id("stSidebarNavLink").first).to_be_visible(timeout=60_000)
    wait_idle(page)
    expect_no_error(page)
    expect(page.get_by_text("Computing on")).to_be_visible()
