"""Workshop mode in chromium: links that reopen a view, bad links, the presenter view at 1920×1080, the
rank sweep, and the exports (GIF, chart PNG, HTML summary) opened and read back."""

import re
from html.parser import HTMLParser

from PIL import Image
from playwright.sync_api import Page, expect

from lowrank_core.sources import QUIZ_NAMES
from tests.conftest import ARTIFACTS
from tests.e2e.conftest import expect_no_error, screenshot, wait_idle
from ui.quiz import quiz_photo
from ui.quiz.pictures import choices_for

MATRIX_NUMBERS = ("numerical rank", "rank kept", "energy kept", "relative Frobenius error",
                  "relative spectral error", "break-even rank", "parameters, dense", "parameters, factored",
                  "dense / factored")


def _metric(page: Page, label: str):
    """The value element of the metric card whose label is exactly ``label``."""
    card = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True))
    return card.get_by_test_id("stMetricValue")


def _number_input(page: Page, label: str):
    return page.get_by_test_id("stNumberInput").filter(has_text=label).locator("input")


def _set_number(page: Page, label: str, value: int, shown: str | None = None) -> None:
    """Type a number into the input labelled ``label``; ``shown`` is how the input then displays it."""
    field = _number_input(page, label)
    field.fill(str(value))
    field.press("Enter")
    expect(field).to_have_value(shown or str(value))
    wait_idle(page)


def _slide_to(page: Page, value: int) -> None:
    """Move the page's (only) rank scrubber to ``value`` with the keyboard: the browser draws every step,
    and the rank settles (one rerun) after the last."""
    expect(page.locator(".lrs-root")).to_have_attribute("data-status", "ready", timeout=60_000)
    slider = page.locator("input.lrs-range")
    slider.focus()
    current = int(slider.input_value())
    while current != value:
        key = "ArrowRight" if value > current else "ArrowLeft"
        current += 1 if value > current else -1
        slider.press(key)
        expect(slider).to_have_value(str(current))
    wait_idle(page)


def _open(page: Page, url: str, metric: str, value: str | None = None) -> None:
    page.goto(url)
    if value is None:
        expect(_metric(page, metric)).to_be_visible(timeout=60_000)
    else:
        expect(_metric(page, metric)).to_have_text(value, timeout=60_000)
    wait_idle(page)


def test_a_matrix_view_comes_back_from_its_address(page: Page, app_url: str):
    _open(page, f"{app_url}/matrix", "rank kept", "4")
    page.get_by_test_id("stSelectbox").filter(has_text="Generator").click()
    page.get_by_role("option", name="Random Gaussian (full rank)").click()
    expect(_metric(page, "parameters, dense")).to_have_text("2,500", timeout=30_000)
    wait_idle(page)
    _set_number(page, "Seed", 7)
    _slide_to(page, 47)  # from the numerical rank 50, three steps down
    expect(_metric(page, "rank kept")).to_have_text("47", timeout=30_000)
    wait_idle(page)
    page.get_by_text("Logarithmic singular values").click()
    wait_idle(page)
    expect(page).to_have_url(re.compile(r"log=0"))
    link = page.url
    for part in ("/matrix?", "gen=random-full-rank", "seed=7", "rank=47", "log=0"):
        assert part in link
    expect(page.get_by_test_id("stCode").filter(has_text="seed=7")).to_have_text(link)  # the share box
    numbers = {label: _metric(page, label).inner_text() for label in MATRIX_NUMBERS}

    again = page.context.new_page()  # a new browser tab: a new session, only the link in common
    _open(again, link, "rank kept", "47")
    expect(again.get_by_role("combobox", name="Generator")).to_have_value("Random Gaussian (full rank)")
    expect(_number_input(again, "Seed")).to_have_value("7")
    expect(again.locator("input.lrs-range")).to_have_value("47")
    expect(again.get_by_role("switch", name="Logarithmic singular values")).not_to_be_checked()
    assert {label: _metric(again, label).inner_text() for label in MATRIX_NUMBERS} == numbers
    expect(again.locator("figcaption.lrs-title").nth(1)).to_have_text("W_r (r = 47)")
    expect(again.get_by_test_id("stAlertContentInfo")).to_have_count(0)  # no complaint about the link
    expect_no_error(again)
    assert again.url == link

    # a rule travels too: the energy rule and its target
    again.get_by_test_id("stButtonGroup").filter(has_text="Energy %").get_by_text("Energy %").click()
    expect(_number_input(again, "Energy to keep")).to_be_visible(timeout=30_000)
    wait_idle(again)
    _set_number(again, "Energy to keep", 50, "50.000")
    expect(again).to_have_url(re.compile(r"rule=energy.*energy=50"))
    rank_by_rule = _metric(again, "rank kept").inner_text()
    third = page.context.new_page()
    _open(third, again.url, "rank kept", rank_by_rule)
    expect(_number_input(third, "Energy to keep")).to_have_value("50.000")
    expect(third.locator("input.lrs-range")).to_be_disabled()  # the rule holds the rank
    screenshot(third, "workshop_matrix_link")
    again.close()
    third.close()


def test_a_tour_view_comes_back_from_its_address(page: Page, app_url: str):
    _open(page, app_url, "rank of W", "4")
    _set_number(page, "m (rows)", 20)
    _set_number(page, "n (columns)", 12)
    _set_number(page, "k (inner size)", 5)
    _set_number(page, "seed", 9)
    expect(_metric(page, "rank of W")).to_have_text("5", timeout=30_000)
    _slide_to(page, 3)
    expect(_metric(page, "largest |z − z_lr| at rank 3")).to_be_visible(timeout=30_000)
    wait_idle(page)
    link = page.url
    assert re.search(r"/\?m=20&n=12&k=5&seed=9&rank=3$", link), link
    difference = _metric(page, "largest |z − z_lr| at rank 3").inner_text()

    again = page.context.new_page()
    _open(again, link, "largest |z − z_lr| at rank 3", difference)
    for label, value in (("m (rows)", "20"), ("n (columns)", "12"), ("k (inner size)", "5"), ("seed", "9")):
        expect(_number_input(again, label)).to_have_value(value)
    expect(again.locator("input.lrs-range")).to_have_value("3")
    expect(_metric(again, "rank of W")).to_have_text("5")
    expect_no_error(again)
    again.close()


def test_a_bad_link_opens_the_default_view_with_a_notice(page: Page, app_url: str):
    for query, words in (("rank=99999", ["99999", "using 4"]), ("rank=abc", ["abc", "not a whole number"])):
        _open(page, f"{app_url}/matrix?{query}", "rank kept", "4")
        notice = page.get_by_test_id("stAlertContentInfo").filter(has_text="could not be used")
        for word in words:
            expect(notice).to_contain_text(word)
        expect(page.locator("input.lrs-range")).to_have_value("4")
        expect(page).to_have_url(re.compile(r"/matrix$"))  # the bad value is gone from the address
        expect_no_error(page)
    screenshot(page, "workshop_bad_link")
    _open(page, f"{app_url}/?m=abc&k=99&rank=-2", "rank of W", "4")
    notice = page.get_by_test_id("stAlertContentInfo").filter(has_text="could not be used")
    for word in ("abc", "99", "-2"):
        expect(notice).to_contain_text(word)
    expect(_number_input(page, "m (rows)")).to_have_value("15")
    expect_no_error(page)


def _inside(box: dict, width: int, height: int) -> bool:
    return box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width and \
        box["y"] + box["height"] <= height


def test_presenter_view_at_1920_by_1080(page: Page, app_url: str):
    page.set_viewport_size({"width": 1920, "height": 1080})
    _open(page, f"{app_url}/matrix?present=1&gen=noisy-low-rank&m=120&n=120&rank=10", "rank kept", "10")
    expect(page.locator('[data-testid="stPlotlyChart"] svg.main-svg').first).to_be_visible()
    page.wait_for_timeout(800)  # plotly's layout pass
    expect(page.get_by_test_id("stSidebar")).to_be_hidden()
    expect(page.get_by_test_id("stMetric")).to_have_count(4)  # only the primary numbers
    expect(page.locator(".lrs-root")).to_have_attribute("data-status", "ready", timeout=60_000)
    slider = page.locator("input.lrs-range")
    heatmaps = page.locator(".lrs-panels")
    for element in (slider, heatmaps, page.get_by_role("heading", name="Matrix explorer")):
        assert _inside(element.bounding_box(), 1920, 1080), element  # in view without scrolling
    overflow = page.evaluate("[...document.querySelectorAll('[data-testid=stMain] *')]"
                             ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).length")
    assert overflow == 0  # nothing runs off the right edge
    font = page.evaluate("parseFloat(getComputedStyle(document.querySelector('h1')).fontSize)")
    assert font >= 40
    assert "present=1" in page.url
    page.screenshot(path=str(ARTIFACTS / "presenter_matrix.png"))  # what the projector shows

    # the sweep plays in place: the heatmap title walks through the ranks
    _set_number(page, "Sweep from rank 1 to", 6)
    page.get_by_role("button", name="▶ Play the sweep").click()
    seen = set()
    title = page.locator("figcaption.lrs-title").nth(1)
    for _ in range(300):
        seen.update(int(r) for r in re.findall(r"W_r \(r = (\d+)\)", title.inner_text()))
        if 6 in seen and page.locator(".lrs-root").get_attribute("data-playing") != "true":
            break
        page.wait_for_timeout(30)
    wait_idle(page)
    assert 6 in seen and len(seen & {1, 2, 3, 4, 5}) >= 3, seen  # the frames were on screen one by one
    expect(title).to_have_text("W_r (r = 6)")
    expect(slider).to_have_value("6")

    page.get_by_role("button", name="Leave the presenter view").click()
    expect(page.get_by_test_id("stSidebar")).to_be_visible(timeout=30_000)
    wait_idle(page)
    assert "present=1" not in page.url

    page.goto(f"{app_url}/?present=1&rank=3")  # the tour as slides: step 1 first
    expect(page.get_by_role("heading", name="1. A matrix built from two thin ones")).to_be_visible(
        timeout=60_000)
    wait_idle(page)
    expect(page.get_by_test_id("stSidebar")).to_be_hidden()
    expect(page.locator('[data-testid="stPlotlyChart"] svg.main-svg').first).to_be_visible()
    page.wait_for_timeout(800)
    page.screenshot(path=str(ARTIFACTS / "presenter_tour.png"))
    expect_no_error(page)


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells: list[str] = []
        self.links: list[str] = []
        self._open = False

    def handle_starttag(self, tag, attrs):
        if tag in ("th", "td"):
            self._open = True
            self.cells.append("")
        if tag == "a":
            self.links.append(dict(attrs)["href"])

    def handle_endtag(self, tag):
        self._open = self._open and tag not in ("th", "td")

    def handle_data(self, data):
        if self._open:
            self.cells[-1] += data


def test_exports_gif_png_and_html_summary(page: Page, app_url: str):
    _open(page, f"{app_url}/matrix?rank=3", "rank kept", "3")
    _set_number(page, "Sweep from rank 1 to", 6)
    page.get_by_role("button", name=re.compile(r"Make the GIF \(6 frames")).click()
    gif_button = page.get_by_test_id("stDownloadButton").filter(has_text="Download the sweep (GIF)")
    expect(gif_button).to_be_visible(timeout=60_000)
    wait_idle(page)
    with page.expect_download() as download:
        gif_button.click()
    with Image.open(download.value.path()) as gif:
        assert gif.format == "GIF" and gif.n_frames == 6
        assert gif.width <= 512 and gif.height <= 512

    page.get_by_test_id("stSelectbox").filter(has_text="Chart to export as PNG").click()
    page.get_by_role("option", name="Singular values").click()
    wait_idle(page)
    page.get_by_role("button", name="Make PNG").click()
    png_button = page.get_by_test_id("stDownloadButton").filter(has_text="Download Singular values.png")
    expect(png_button).to_be_visible(timeout=90_000)
    wait_idle(page)
    with page.expect_download() as download:
        png_button.click()
    with Image.open(download.value.path()) as image:
        assert image.format == "PNG" and image.width == 1400

    numbers = {label: _metric(page, label).inner_text() for label in MATRIX_NUMBERS}
    with page.expect_download() as download:
        page.get_by_test_id("stDownloadButton").filter(has_text="Summary of this view (HTML)").click()
    path = ARTIFACTS / "matrix_summary.html"
    download.value.save_as(path)
    text = path.read_text(encoding="utf-8")
    cells = _Cells()
    cells.feed(text)
    assert dict(zip(cells.cells[::2], cells.cells[1::2], strict=True)) == numbers
    assert cells.links == [page.url]
    summary = page.context.new_page()
    summary.goto(path.as_uri())
    for label, value in numbers.items():
        expect(summary.locator("tr").filter(has_text=label).first).to_contain_text(value)
    images = summary.locator("img")
    expect(images).to_have_count(4)
    assert all(summary.evaluate("[...document.images].map(i => i.complete && i.naturalWidth > 0)"))
    summary.screenshot(path=str(ARTIFACTS / "workshop_summary.png"), full_page=True)
    summary.close()
    expect_no_error(page)


def test_an_uploaded_matrix_link_says_the_file_does_not_travel(page: Page, app_url: str):
    _open(page, f"{app_url}/matrix", "rank kept", "4")
    page.get_by_test_id("stButtonGroup").first.get_by_text("Upload a file").click()
    wait_idle(page)
    csv = ARTIFACTS / "workshop_rank2.csv"
    csv.write_text("1,2,3\n2,4,6\n1,0,1\n0,1,1\n")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(csv))
    expect(_metric(page, "numerical rank")).to_have_text("2", timeout=30_000)
    wait_idle(page)
    expect(page.get_by_text("The uploaded file cannot travel in a link")).to_be_visible()
    link = page.url
    assert "src=upload" in link
    again = page.context.new_page()
    again.goto(link)
    expect(again.get_by_test_id("stAlertContentInfo").filter(has_text="cannot travel")).to_be_visible(
        timeout=60_000)
    wait_idle(again)
    expect_no_error(again)
    again.close()


def test_quiz_for_the_room(page: Page, app_url: str):
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{app_url}/quiz?present=1&round=2")
    heading = page.get_by_role("heading", name=re.compile(r"^Rank \d+ of \d+"))
    expect(heading).to_contain_text("Rank 1 of", timeout=60_000)
    wait_idle(page)
    expect(page.get_by_test_id("stSidebar")).to_be_hidden(timeout=30_000)  # the presenter view's CSS is on
    picture = page.get_by_test_id("stImage").first
    expect(picture.locator("img")).to_be_visible()
    box = picture.bounding_box()
    assert box["height"] >= 500 and _inside(box, 1920, 1080)  # big, and in view without scrolling
    offered = choices_for(2, quiz_photo(2, QUIZ_NAMES), QUIZ_NAMES)  # the round's four answers
    for name in ("Next rank ▶", "Reveal", *offered):
        assert _inside(page.get_by_role("button", name=name, exact=True).bounding_box(), 1920, 1080), name
    page.screenshot(path=str(ARTIFACTS / "presenter_quiz.png"))

    page.get_by_role("button", name="Next rank ▶").click()
    expect(heading).to_contain_text("Rank 2 of", timeout=30_000)
    wait_idle(page)
    assert "step=1" in page.url and "round=2" in page.url
    page.get_by_text("Raise the rank on its own").click()  # the rank rises without a click
    expect(heading).to_contain_text("Rank 3 of", timeout=15_000)
    page.get_by_text("Raise the rank on its own").click()
    wait_idle(page)
    page.get_by_role("button", name="Reveal").click()
    expect(page.get_by_test_id("stAlertContentInfo")).to_contain_text("It was", timeout=30_000)
    pictures = page.locator(".st-key-presenter_pictures [data-testid=stImage]")
    expect(pictures).to_have_count(2)  # the low-rank picture and the original
    wait_idle(page)
    expect_no_error(page)
    page.screenshot(path=str(ARTIFACTS / "presenter_quiz_revealed.png"))


def test_an_image_view_comes_back_from_its_address(page: Page, app_url: str):
    _open(page, f"{app_url}/image", "PSNR")
    page.get_by_test_id("stSelectbox").filter(has_text="Sample").click()
    page.get_by_role("option", name=re.compile("Chelsea the cat")).click()
    expect(page.get_by_text("451×300 pixels")).to_be_visible(timeout=30_000)
    wait_idle(page)
    page.get_by_test_id("stRadio").filter(has_text="Colour mode").get_by_text("Luminance only").click()
    expect(page).to_have_url(re.compile(r"mode=luminance"), timeout=30_000)
    wait_idle(page)
    expect(page.locator(".lrs-root")).to_have_attribute("data-status", "ready", timeout=60_000)
    slider = page.get_by_role("slider", name="Rank r")
    slider.focus()
    for _ in range(4):
        slider.press("ArrowDown")
    expect(slider).to_have_value("26")
    expect(page).to_have_url(re.compile(r"rank=26"), timeout=30_000)
    page.get_by_role("button", name="Error ×8").click()  # the scrubber's own view buttons go into the link
    expect(page).to_have_url(re.compile(r"view=error"), timeout=30_000)
    wait_idle(page)
    link = page.url
    for part in ("/image?", "sample=chelsea", "mode=luminance", "rank=26", "view=error"):
        assert part in link
    numbers = {label: _metric(page, label).inner_text() for label in ("PSNR", "SSIM", "Relative error")}

    again = page.context.new_page()
    _open(again, link, "PSNR", numbers["PSNR"])
    expect(again.get_by_role("combobox", name="Sample")).to_have_value(re.compile("Chelsea the cat"))
    expect(again.get_by_role("radio", name="Luminance only (grey, Y)")).to_be_checked()
    expect(again.get_by_role("slider", name="Rank r")).to_have_value("26")
    expect(again.locator(".lrs-root")).to_have_attribute("data-view", "error")
    assert {label: _metric(again, label).inner_text() for label in numbers} == numbers
    expect_no_error(again)
    again.close()

    _open(page, f"{app_url}/image?sample=chelsea&rank=99999", "PSNR")
    expect(page.get_by_test_id("stAlertContentInfo").filter(has_text="could not be used")).to_contain_text(
        "99999")
    expect(page.get_by_role("slider", name="Rank r")).to_have_value("30")

    page.set_viewport_size({"width": 1920, "height": 1080})
    _open(page, f"{app_url}/image?present=1&sample=coffee&rank=12", "PSNR")
    expect(page.get_by_test_id("stSidebar")).to_be_hidden()
    expect(page.locator(".lrs-root")).to_have_attribute("data-status", "ready", timeout=60_000)
    page.wait_for_timeout(800)
    for part in ("canvas.lrs-canvas", "input.lrs-range", "canvas.lrs-spectrum"):
        assert _inside(page.locator(part).bounding_box(), 1920, 1080), part
    expect(page.get_by_role("slider", name="Rank r")).to_have_value("12")
    page.screenshot(path=str(ARTIFACTS / "presenter_image.png"))
    expect_no_error(page)
