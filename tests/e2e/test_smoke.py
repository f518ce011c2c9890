"""The app starts under `streamlit run` and its first page renders in chromium."""

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ARTIFACTS
from tests.e2e.conftest import ServerDidNotStart, expect_no_error, streamlit_server, wait_idle


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
    for path in ("", "matrix", "image", "layer", "checkpoint", "quiz", "about"):
        page.goto(f"{app_url}/{path}")
        expect(page.get_by_test_id("stSidebarNavLink").first).to_be_visible(timeout=60_000)
        wait_idle(page)
        expect_no_error(page)
    page.wait_for_timeout(500)  # a favicon is requested after the first paint
    assert outside == []


def test_a_deep_link_is_the_first_request_of_a_fresh_server(page: Page):
    """/matrix opened before any other page: the app's own navigation and titles, not the pages/ folder's.

    Streamlit runs a deep link on a fresh server as an old-style multipage app until app.py has called
    st.navigation once; ui/navigation.py reruns it through app.py. Without that, the sidebar lists the
    file names (about, image, layer, ...) and the page runs without app.py's sidebar and wide layout.
    """
    try:
        with streamlit_server(ARTIFACTS / "fresh-server.log") as url:
            page.goto(f"{url}/matrix?rank=3")
            expect(page.get_by_role("heading", name="Matrix explorer")).to_be_visible(timeout=60_000)
            wait_idle(page)
            expect_no_error(page)
            links = page.get_by_test_id("stSidebarNavLink")
            expect(links.filter(has_text="Matrix explorer")).to_have_count(1)
            expect(links.filter(has_text="From the notebook")).to_have_count(1)
            expect(page.get_by_text("Computing on")).to_be_visible()  # app.py's shared sidebar ran
            assert "rank=3" in page.url  # the link's own query survives the rerun through app.py
    except ServerDidNotStart as err:
        pytest.fail(str(err), pytrace=False)
