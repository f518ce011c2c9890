"""The rank scrubber on the real image page, in chromium: what the canvas shows against lowrank_core at the
same rank, colour mode and precision; a drag redraws before the mouse is released and the settled rank
reaches the numbers and the address; the picture, its rank control and the spectrum strip share one screen
at 1440×900 and 1920×1080, normal and presenter; the sweep moves the handle and the picture; and when the
scrubber cannot run (no canvas, its script blocked) the page draws on the server and says so."""

from __future__ import annotations

import re

import pytest
import torch
from playwright.sync_api import Page, expect
from skimage.metrics import peak_signal_noise_ratio

from lowrank_core import sources
from lowrank_core.image import prepare_codec, to_uint8
from tests.conftest import ARTIFACTS
from tests.e2e.conftest import expect_no_error, screenshot, wait_idle
from tests.e2e.scrubber import as_hwc, assert_close, canvas_pixels, canvas_signature, drawn_ranks, type_rank
from ui import limits

SAMPLE = "chelsea"  # 451 × 300 RGB: shown at its own size, every rank (300) in the payload
ROOT = ".lrs-root"


@pytest.fixture(scope="module")
def pixels() -> torch.Tensor:
    return sources.load_sample(SAMPLE).pixels


_codecs: dict = {}


def codec_of(pixels: torch.Tensor, mode: str):
    if mode not in _codecs:
        _codecs[mode] = prepare_codec(pixels, mode)
    return _codecs[mode]


def open_image_page(page: Page, app_url: str, query: str = "") -> None:
    """/image with a query, the scrubber ready and its one "ready" rerun over. The root is loaded first: a
    fresh server answers a deep link before app.py has run st.navigation once."""
    page.goto(app_url)
    expect(page.get_by_test_id("stSidebarNavLink").first).to_be_visible(timeout=60_000)
    wait_idle(page)
    page.goto(f"{app_url}/image{'?' + query if query else ''}")
    expect(page.locator(ROOT)).to_have_attribute("data-status", "ready", timeout=120_000)
    wait_idle(page)
    page.wait_for_timeout(600)  # the rerun that "ready" starts
    wait_idle(page)


def _metric(page: Page, label: str):
    card = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True))
    return card.get_by_test_id("stMetricValue")


# ======================================================================================== pixels


@pytest.mark.parametrize("dtype", ["float16", "int8"])
@pytest.mark.parametrize("mode", ["rgb", "luminance", "ycbcr"])
def test_the_canvas_shows_the_cores_reconstruction(page: Page, app_url: str, pixels, mode: str, dtype: str):
    codec = codec_of(pixels, mode)
    open_image_page(page, app_url, f"sample={SAMPLE}&mode={mode}&dtype={dtype}&rank=1&chroma=10")
    cap = int(page.locator(ROOT).get_attribute("data-cap"))
    assert cap == codec.max_rank == 300
    slider = page.locator("input.lrs-range")
    expect(slider).to_have_attribute("aria-valuetext", re.compile(r"rank 1 of 300$"))
    for rank in (1, 7, 50, cap):
        type_rank(page, rank)
        setting = (rank, 10) if mode == "ycbcr" else rank
        want = as_hwc(to_uint8(codec.reconstruct(setting, dtype=dtype)))
        assert_close(canvas_pixels(page), want, f"{mode} {dtype} rank {setting}")
    if mode == "ycbcr":  # the chroma rank, with the luma at the cap (settled first: 250 ms of quiet)
        expect(page).to_have_url(re.compile(rf"[?&]rank={cap}(&|$)"), timeout=30_000)
        wait_idle(page)
        page.get_by_test_id("stButtonGroup").get_by_text("Chroma rank (Cb, Cr)").click()
        expect(page.locator("label.lrs-label")).to_have_text("Chroma rank (Cb, Cr)", timeout=30_000)
        expect(slider).to_have_value("10")
        wait_idle(page)
        for rank in (1, 7, 50, cap):
            type_rank(page, rank)
            assert drawn_ranks(page) == f"{cap},{rank},{rank}"
            want = as_hwc(to_uint8(codec.reconstruct((cap, rank), dtype=dtype)))
            assert_close(canvas_pixels(page), want, f"ycbcr {dtype} rank {(cap, rank)}")
    expect_no_error(page)
    screenshot(page, f"image-scrubber-{mode}-{dtype}")


# ========================================================================================= input


def test_a_drag_redraws_before_release_and_the_settled_rank_reaches_the_numbers_and_the_link(
        page: Page, app_url: str, pixels):
    open_image_page(page, app_url, f"sample={SAMPLE}&rank=10")
    psnr_before = _metric(page, "PSNR").inner_text()
    url_before = page.url
    slider = page.locator("input.lrs-range")
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    start_x = box["x"] + box["width"] * 9 / 299  # rank 10 on a 1..300 slider
    page.mouse.move(start_x, y)
    page.mouse.down()
    signatures, states = [canvas_signature(page)], set()
    for step in range(1, 7):
        page.mouse.move(start_x + step * box["width"] * 0.04, y, steps=2)
        signatures.append(canvas_signature(page))
        states.add(page.locator('[data-testid="stApp"]').get_attribute("data-test-script-state"))
    held = int(slider.input_value())
    assert held > 40
    assert len(set(signatures)) >= 5, "the picture did not follow the drag"
    assert page.locator(ROOT).get_attribute("data-drawn-rank") == f"{held},{held},{held}"
    assert states <= {"notRunning"}, states  # nothing reran while the handle moved
    assert page.url == url_before and _metric(page, "PSNR").inner_text() == psnr_before
    page.mouse.up()
    expect(page).to_have_url(re.compile(rf"[?&]rank={held}(&|$)"), timeout=30_000)
    codec = codec_of(pixels, "rgb")
    shown = to_uint8(codec.reconstruct(held, dtype="float16")).double().numpy() / 255
    expected = peak_signal_noise_ratio(pixels.double().numpy(), shown, data_range=1)
    expect(_metric(page, "PSNR")).to_have_text(f"{expected:.2f} dB", timeout=30_000)
    wait_idle(page)
    assert page.url.count("rank=") == 1
    expect_no_error(page)


def test_keys_and_the_accessible_name(page: Page, app_url: str):
    open_image_page(page, app_url, f"sample={SAMPLE}&rank=30")
    slider = page.get_by_role("slider", name="Rank r")  # the <input type=range> and its <label>
    expect(slider).to_have_attribute("aria-valuetext", "rank 30 of 300")
    slider.focus()
    for key, value in [("ArrowRight", 31), ("PageUp", 61), ("End", 300), ("Home", 1)]:
        slider.press(key)
        expect(slider).to_have_value(str(value))
        expect(page.locator(ROOT)).to_have_attribute("data-drawn-rank", f"{value},{value},{value}")
    expect(slider).to_have_attribute("aria-valuetext", "rank 1 of 300")
    expect(page).to_have_url(re.compile(r"[?&]rank=1(&|$)"), timeout=30_000)


def test_the_sweep_moves_the_handle_and_the_picture(page: Page, app_url: str):
    open_image_page(page, app_url, f"sample={SAMPLE}&rank=5")
    field = page.get_by_test_id("stNumberInput").filter(has_text="Sweep from rank 1 to").locator("input")
    field.fill("40")
    field.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="▶ Play the sweep").click()
    expect(page.locator(ROOT)).to_have_attribute("data-playing", "true", timeout=30_000)
    seen, pictures = set(), set()
    while page.locator(ROOT).get_attribute("data-playing") == "true" and len(seen) < 300:
        seen.add(int(page.locator("input.lrs-range").input_value()))
        pictures.add(canvas_signature(page))
        page.wait_for_timeout(40)
    assert len(seen) >= 5 and min(seen) < 15, seen
    assert len(pictures) >= 5
    expect(page.locator("input.lrs-range")).to_have_value("40")
    expect(page.locator(ROOT)).to_have_attribute("data-drawn-rank", "40,40,40")
    expect(page).to_have_url(re.compile(r"[?&]rank=40(&|$)"), timeout=30_000)


# ======================================================================================== layout


@pytest.mark.parametrize("present", [False, True], ids=["normal", "presenter"])
@pytest.mark.parametrize("size", [(1440, 900), (1920, 1080)], ids=["1440x900", "1920x1080"])
@pytest.mark.parametrize("sample", ["astronaut", "coffee"])  # square (the tallest picture) and landscape
def test_picture_rank_control_and_spectrum_share_one_screen(page: Page, app_url: str, size, present, sample):
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    open_image_page(page, app_url, f"sample={sample}" + ("&present=1" if present else ""))
    page.wait_for_timeout(800)  # the picture is sized in the browser after layout
    parts = {"picture": page.locator("canvas.lrs-canvas"), "rank control": page.locator("input.lrs-range"),
             "spectrum": page.locator("canvas.lrs-spectrum"),
             "kept marker": page.locator(".lrs-spectrum-note")}
    for name, part in parts.items():
        box = part.bounding_box()
        assert box is not None, name
        inside = box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width and \
            box["y"] + box["height"] <= height
        assert inside, f"{name} at {box} is not inside {width}×{height}"
    assert parts["picture"].bounding_box()["height"] >= 0.4 * height  # and the picture is not a stamp
    expect(page.locator(".lrs-spectrum-note")).to_contain_text("the 30 kept")
    if present:
        expect(page.get_by_test_id("stSidebar")).to_be_hidden()
    ARTIFACTS.mkdir(exist_ok=True)
    name = f"image-viewport-{sample}-{width}{'-presenter' if present else ''}.png"
    page.screenshot(path=str(ARTIFACTS / name))


# ====================================================================================== fallback


def test_without_a_canvas_the_server_draws_and_says_so(page: Page, app_url: str):
    page.add_init_script("HTMLCanvasElement.prototype.getContext = function () { return null; };")
    page.goto(app_url)
    wait_idle(page)
    page.goto(f"{app_url}/image?sample={SAMPLE}&rank=20")
    notice = page.get_by_test_id("stAlertContentWarning").filter(has_text="comes from the server")
    expect(notice).to_contain_text("cannot draw in this browser (this browser has no 2-D canvas)",
                                   timeout=60_000)
    _server_path_moves(page, 20)


def test_with_the_scrubber_script_blocked_the_server_draws_after_the_deadline(page: Page, app_url: str):
    page.add_init_script("""(() => {
      const create = URL.createObjectURL;
      URL.createObjectURL = function (blob) {  // the component's module is imported from a blob: URL
        if (blob && blob.type === 'text/javascript') return 'blob:' + location.origin + '/blocked';
        return create.apply(this, arguments);
      };
    })();""")
    page.goto(app_url)
    wait_idle(page)
    page.goto(f"{app_url}/image?sample={SAMPLE}&rank=20")
    notice = page.get_by_test_id("stAlertContentWarning").filter(has_text="comes from the server")
    wait = (limits.SCRUBBER_READY_SECONDS + 3 * limits.SCRUBBER_POLL_SECONDS + 30) * 1000
    expect(notice).to_contain_text(f"did not start within {limits.SCRUBBER_READY_SECONDS:g} s",
                                   timeout=wait)
    _server_path_moves(page, 20)


def _server_path_moves(page: Page, rank: int) -> None:
    """The server path: its slider at the rank, its picture, and a key press that brings a new picture."""
    wait_idle(page)
    slider = page.get_by_test_id("stSlider").filter(has_text="Rank r").get_by_role("slider")
    expect(slider).to_have_value(str(rank))
    shown = page.get_by_test_id("stImage").filter(has_text=re.compile(r"^Rank \d+ \(")).locator("img")
    expect(shown).to_be_visible()
    before = shown.get_attribute("src")
    slider.focus()
    slider.press("ArrowRight")
    expect(page.get_by_test_id("stImageCaption").filter(has_text=f"Rank {rank + 1} (")).to_be_visible(
        timeout=30_000)
    assert shown.get_attribute("src") != before
    expect(page).to_have_url(re.compile(rf"[?&]rank={rank + 1}(&|$)"), timeout=30_000)
    expect_no_error(page)
    screenshot(page, "image-server-path")
