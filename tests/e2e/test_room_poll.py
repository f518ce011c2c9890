"""The room poll in chromium: a presenter opens a poll, three phones vote through the link they decode from
the presenter's QR code, the presenter's histogram counts them by itself, a phone without the room code is
refused, and the poll (a SQLite file) is still there after the server restarts."""

import io
import re
import sqlite3
from urllib.parse import parse_qs, urlsplit

import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.conftest import ARTIFACTS
from tests.e2e.conftest import expect_no_error, streamlit_server, wait_idle

PHONE = {"width": 390, "height": 844}
PROJECTOR = {"width": 1920, "height": 1080}


def _decode_qr(page: Page) -> str:
    """The text of the QR code the room section shows, read from its pixels."""
    picture = page.get_by_test_id("stImage").filter(has_text="Scan to open").locator("img")
    expect(picture).to_be_visible(timeout=30_000)
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(picture.screenshot())))
    assert len(found) == 1 and found[0].format == zxingcpp.BarcodeFormat.QRCode, found
    return found[0].text


def _votes(page: Page):
    card = page.get_by_test_id("stMetric").filter(has=page.get_by_test_id("stMetricLabel").get_by_text(
        "votes", exact=True))
    return card.get_by_test_id("stMetricValue")


def _histogram(page: Page) -> dict[int, int]:
    """Votes per rank as the presenter's chart holds them (plotly's own data, read in the page)."""
    # the chart is redrawn every 2 s: wait for one that plotly has drawn (data attached) and read it
    pairs = page.wait_for_function("""() => {
        const plot = [...document.querySelectorAll('.js-plotly-plot')]
            .find(p => (p.querySelector('.gtitle')?.textContent || '').startsWith('At which rank'));
        if (!plot || !plot.data || !plot.data[0]) return null;
        return plot.data[0].x.map((x, i) => [x, plot.data[0].y[i]]);
    }""", timeout=30_000).json_value()
    return {int(x): int(y) for x, y in pairs}


def _vote(browser: Browser, link: str, *, steps: int = 0) -> Page:
    """A phone opens the link, moves the rank ``steps`` up with the keyboard, and votes."""
    phone = browser.new_context(viewport=PHONE).new_page()
    phone.goto(link)
    button = phone.get_by_role("button", name=re.compile(r"^Vote: rank \d+"))
    expect(button).to_be_visible(timeout=60_000)
    wait_idle(phone)
    expect(phone.locator(".lrs-root")).to_have_attribute("data-status", "ready", timeout=60_000)
    slider = phone.locator("input.lrs-range")  # the rank scrubber: the vote is its settled rank
    for _ in range(steps):
        before = int(slider.input_value())
        slider.focus()
        slider.press("ArrowRight")
        expect(slider).to_have_value(str(before + 1), timeout=30_000)
    rank = int(slider.input_value())
    expect(button).to_have_text(f"Vote: rank {rank} is good enough", timeout=30_000)
    wait_idle(phone)
    button.click()
    expect(phone.get_by_test_id("stAlertContentSuccess")).to_contain_text("counted", timeout=30_000)
    wait_idle(phone)
    expect_no_error(phone)
    return phone


def test_the_room_votes_through_the_qr_code_and_the_poll_survives_a_restart(browser: Browser):
    database = ARTIFACTS / "polls" / "restart.sqlite3"
    database.parent.mkdir(parents=True, exist_ok=True)
    for old in database.parent.glob(f"{database.name}*"):
        old.unlink()
    env = {"LOWRANK_POLL_DB": str(database)}
    with streamlit_server(ARTIFACTS / "room_server.log", env=env) as url:
        presenter = browser.new_context(viewport=PROJECTOR).new_page()
        presenter.goto(f"{url}/image?present=1&sample=chelsea&rank=20")
        ask = presenter.get_by_role("button", name=re.compile("Ask the room"))
        expect(ask).to_be_visible(timeout=60_000)
        wait_idle(presenter)
        assert parse_qs(urlsplit(_decode_qr(presenter)).query) == {"sample": ["chelsea"], "rank": ["20"]}
        ask.click()
        expect(_votes(presenter)).to_have_text("0", timeout=30_000)
        wait_idle(presenter)

        link = _decode_qr(presenter)  # what a phone reads off the projector
        query = parse_qs(urlsplit(link).query)
        assert set(query) == {"sample", "rank", "poll", "room"} and "present" not in query
        room = query["room"][0]
        expect(presenter.get_by_text(f"Room code {room}")).to_be_visible()
        expect(presenter.get_by_test_id("stCode").filter(has_text="poll=")).to_have_text(link)
        presenter.screenshot(path=str(ARTIFACTS / "room_poll_open.png"), full_page=True)

        phones = [_vote(browser, link), _vote(browser, link), _vote(browser, link, steps=5)]
        phones[0].screenshot(path=str(ARTIFACTS / "room_poll_phone.png"), full_page=True)
        expect(_votes(presenter)).to_have_text("3", timeout=30_000)  # no click: the histogram refreshes
        histogram = presenter.get_by_test_id("stPlotlyChart").filter(has_text="At which rank")
        expect(histogram).to_have_count(1, timeout=30_000)  # one, once a refresh's stale copy has gone
        expect(histogram).to_be_visible()
        assert _histogram(presenter) == {20: 2, 25: 1}

        stranger = browser.new_context(viewport=PHONE).new_page()  # the link without its room code
        stranger.goto(link.replace(f"&room={room}", ""))
        button = stranger.get_by_role("button", name=re.compile(r"^Vote: rank"))
        expect(button).to_be_visible(timeout=60_000)
        wait_idle(stranger)
        button.click()
        expect(stranger.get_by_test_id("stAlertContentError")).to_contain_text("room code", timeout=30_000)
        presenter.wait_for_timeout(3_000)  # longer than the histogram's refresh
        expect(_votes(presenter)).to_have_text("3")
        poll_id = query["poll"][0]
        with sqlite3.connect(database) as connection:
            assert connection.execute(f"SELECT COUNT(*) FROM votes_{poll_id}").fetchone()[0] == 3
        presenter_url = presenter.url
        assert "present=1" in presenter_url and f"poll={poll_id}" in presenter_url
        for page in (*phones, stranger, presenter):
            page.context.close()

    with streamlit_server(ARTIFACTS / "room_server_again.log", env=env) as again:
        presenter = browser.new_context(viewport=PROJECTOR).new_page()
        presenter.goto(presenter_url.replace(url, again))  # the presenter reloads after the restart
        expect(_votes(presenter)).to_have_text("3", timeout=60_000)
        wait_idle(presenter)
        assert _histogram(presenter) == {20: 2, 25: 1}
        assert parse_qs(urlsplit(_decode_qr(presenter)).query)["poll"] == [poll_id]
        presenter.screenshot(path=str(ARTIFACTS / "room_poll_after_restart.png"), full_page=True)
        expect_no_error(presenter)
        presenter.context.close()
