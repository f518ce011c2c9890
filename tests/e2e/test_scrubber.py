"""The rank scrubber in chromium: canvas pixels against lowrank_core, input, settling, views, bytes.

The test app (tests/e2e/apps/scrubber_app.py) mounts the component on a shipped sample through
``lowrank_core.scrub``; these tests read what the canvas shows and compare it with the core's own
reconstruction at the same rank, mode and precision (at most one grey level apart on >= 99.9 % of pixels),
and the matrix mode's heatmaps with ``Factorization.reconstruct`` colour-mapped by the app's scale.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from playwright.sync_api import Page, expect

from lowrank_core import factorize, sources
from lowrank_core.image import fit_size, from_color_space, prepare_codec, resize, to_uint8
from tests.conftest import ARTIFACTS
from tests.e2e.conftest import ServerDidNotStart, screenshot, streamlit_server, wait_idle
from tests.e2e.scrubber import (
    as_hwc,
    assert_close,
    canvas_pixels,
    canvas_signature,
    drawn_ranks,
    type_rank,
)
from ui.stills import colour_map

APP = "tests/e2e/apps/scrubber_app.py"
SAMPLE = "chelsea"  # 300 × 451 RGB: every rank (300) fits the default budget


@pytest.fixture(scope="module")
def scrub_url():
    try:
        with streamlit_server(ARTIFACTS / "scrubber-server.log", script=APP) as url:
            yield url
    except ServerDidNotStart as err:
        pytest.fail(str(err), pytrace=False)


@pytest.fixture(scope="module")
def pixels() -> torch.Tensor:
    return sources.load_sample(SAMPLE).pixels


_codecs: dict = {}


def codec_of(pixels, mode):
    if mode not in _codecs:
        _codecs[mode] = prepare_codec(pixels, mode)
    return _codecs[mode]


# ------------------------------------------------------------------------------------------- helpers


def open_app(page: Page, url: str, query: str) -> None:
    page.goto(f"{url}/?{query}")
    expect(page.locator(".lrs-root")).to_have_attribute("data-status", "ready", timeout=60_000)
    expect(page.get_by_text("status: ready")).to_be_visible(timeout=60_000)  # its one rerun has come
    wait_idle(page)


def settled_text(page: Page) -> str:
    return page.get_by_text(re.compile(r"^settled rank: \d+$")).inner_text()


# ======================================================================================== pixels


@pytest.mark.parametrize("dtype", ["float16", "int8"])
@pytest.mark.parametrize("mode", ["rgb", "luminance", "ycbcr"])
def test_canvas_matches_the_core(page: Page, scrub_url: str, pixels, mode: str, dtype: str):
    codec = codec_of(pixels, mode)
    open_app(page, scrub_url, f"sample={SAMPLE}&mode={mode}&dtype={dtype}&rank=1")
    cap = int(page.locator(".lrs-root").get_attribute("data-cap"))
    assert cap == codec.max_rank == 300  # a small sample goes whole
    for rank in (1, 7, 50, cap):
        type_rank(page, rank)
        assert drawn_ranks(page) == ",".join([str(rank)] * codec.channels)
        want = as_hwc(to_uint8(codec.reconstruct(rank, dtype=dtype)))
        assert_close(canvas_pixels(page), want, f"{mode} {dtype} rank {rank}")
    screenshot(page, f"scrubber-{mode}-{dtype}")


@pytest.mark.parametrize("dtype", ["float16", "int8"])
def test_canvas_matches_the_core_at_a_smaller_display(page: Page, scrub_url: str, pixels, dtype: str):
    codec = codec_of(pixels, "ycbcr")
    size = fit_size(codec.height, codec.width, 200)  # int8 travels at the source size and is resized in JS
    open_app(page, scrub_url, f"sample={SAMPLE}&mode=ycbcr&dtype={dtype}&side=200&rank=1")
    for rank in (1, 7, 50, 300):
        type_rank(page, rank)
        if rank == 1:  # torch mis-resizes a single column: the oracle resizes the full-size image instead
            channels = resize(codec.channels_at(rank, dtype=dtype), size)
            want = to_uint8(from_color_space(channels, "ycbcr").clamp(0, 1))
        else:
            want = to_uint8(codec.reconstruct(rank, dtype=dtype, size=size))
        assert_close(canvas_pixels(page), as_hwc(want), f"ycbcr {dtype} {size} rank {rank}")


def test_luma_slider_with_chroma_fixed(page: Page, scrub_url: str, pixels):
    codec = codec_of(pixels, "ycbcr")
    open_app(page, scrub_url, f"sample={SAMPLE}&mode=ycbcr&dtype=float16&group=0&rank=5")
    type_rank(page, 40)
    assert drawn_ranks(page) == "40,3,3"
    assert_close(canvas_pixels(page), as_hwc(to_uint8(codec.reconstruct((40, 3), dtype="float16"))),
                 "luma 40, chroma 3")


def test_error_and_swipe_views(page: Page, scrub_url: str, pixels):
    codec = codec_of(pixels, "rgb")
    open_app(page, scrub_url, f"sample={SAMPLE}&mode=rgb&dtype=float16&rank=20")
    original = to_uint8(pixels)  # the display is the full size: the original is the image itself
    shown = to_uint8(codec.reconstruct(20, dtype="float16"))
    page.get_by_role("button", name="Error ×8").click()
    expect(page.locator(".lrs-root")).to_have_attribute("data-view", "error")
    error = (original.int() - shown.int()).abs().mul(8).clamp(max=255).to(torch.uint8)
    got = canvas_pixels(page)
    difference = np.abs(got.astype(int) - as_hwc(error).astype(int))
    assert float((difference > 8).mean()) <= 0.001  # a one-level difference shows as 8 here
    page.get_by_role("button", name="Swipe").click()
    expect(page.locator(".lrs-root")).to_have_attribute("data-view", "swipe")
    got = canvas_pixels(page)
    half = round(0.5 * codec.width)
    assert np.array_equal(got[:, :half], as_hwc(original)[:, :half])
    assert_close(got[:, half:], as_hwc(shown)[:, half:], "swipe, right half")
    box = page.locator(".lrs-stage").bounding_box()
    page.mouse.click(box["x"] + 0.25 * box["width"], box["y"] + box["height"] / 2)  # move the split
    quarter = round(0.25 * codec.width)
    got = canvas_pixels(page)
    assert abs(int(np.argmax(np.any(got != as_hwc(original), axis=(0, 2)))) - quarter) <= 3
    screenshot(page, "scrubber-swipe")


# ========================================================================================= input


def test_drag_redraws_before_release_and_settles_in_python(page: Page, scrub_url: str):
    open_app(page, scrub_url, f"sample={SAMPLE}&mode=rgb&dtype=float16&rank=10")
    reruns = page.get_by_text(re.compile(r"^reruns: \d+$")).inner_text()
    box = page.locator("input.lrs-range").bounding_box()
    y = box["y"] + box["height"] / 2
    start_x = box["x"] + box["width"] * 10 / 299  # rank 10 on a 1..300 slider
    page.mouse.move(start_x, y)
    page.mouse.down()
    signatures = [canvas_signature(page)]
    for step in range(1, 6):
        page.mouse.move(start_x + step * box["width"] * 0.05, y, steps=2)
        signatures.append(canvas_signature(page))
    assert len(set(signatures)) >= 4, "the canvas did not follow the drag"
    assert page.get_by_text(re.compile(r"^reruns: \d+$")).inner_text() == reruns  # no rerun while dragging
    held = int(page.locator("input.lrs-range").input_value())
    assert held > 40
    assert settled_text(page) == "settled rank: 10"
    page.mouse.up()
    expect(page.get_by_text(f"settled rank: {held}")).to_be_visible()
    wait_idle(page)


def test_keyboard_and_aria(page: Page, scrub_url: str):
    open_app(page, scrub_url, f"sample={SAMPLE}&mode=luminance&dtype=int8&rank=30")
    slider = page.locator("input.lrs-range")
    expect(page.locator("label.lrs-label")).to_have_text("Rank r")
    expect(slider).to_have_attribute("aria-valuetext", "rank 30 of 300")
    slider.focus()
    for key, value in [("ArrowRight", 31), ("ArrowUp", 32), ("ArrowLeft", 31), ("ArrowDown", 30),
                       ("PageUp", 60), ("PageDown", 30), ("End", 300), ("Home", 1)]:
        slider.press(key)
        expect(slider).to_have_value(str(value))
        expect(page.locator(".lrs-root")).to_have_attribute("data-drawn-rank", str(value))
    expect(slider).to_have_attribute("aria-valuetext", "rank 1 of 300")
    expect(page.get_by_text("settled rank: 1")).to_be_visible()


def test_typed_number_is_clamped_and_rounded(page: Page, scrub_url: str):
    open_app(page, scrub_url, f"sample={SAMPLE}&mode=rgb&dtype=float16&rank=30")
    box = page.locator("input.lrs-number")
    box.fill("33.6")
    box.press("Enter")
    expect(page.locator("input.lrs-range")).to_have_value("34")
    expect(page.get_by_text("settled rank: 34")).to_be_visible()
    wait_idle(page)
    box.fill("9999")
    box.press("Enter")
    expect(page.locator("input.lrs-range")).to_have_value("300")


def test_page_sets_the_rank(page: Page, scrub_url: str, pixels):
    open_app(page, scrub_url, f"sample={SAMPLE}&mode=rgb&dtype=float16&rank=30")
    page.get_by_role("button", name="Ask for rank 12").click()
    expect(page.locator("input.lrs-range")).to_have_value("12")
    expect(page.get_by_text("settled rank: 12")).to_be_visible()
    want = as_hwc(to_uint8(codec_of(pixels, "rgb").reconstruct(12, dtype="float16")))
    assert_close(canvas_pixels(page), want, "rank 12 asked by the page")


def test_ranks_above_available_say_so(page: Page, scrub_url: str):
    open_app(page, scrub_url, f"sample={SAMPLE}&mode=rgb&dtype=float16&rank=10&available=20")
    slider = page.locator("input.lrs-range")
    slider.focus()
    slider.press("End")
    expect(slider).to_have_value("300")  # the range is the full rank from the start
    expect(page.locator(".lrs-overlay")).to_have_text("exact SVD in progress (showing rank 20)")
    assert drawn_ranks(page) == "20,20,20"
    slider.press("Home")
    expect(page.locator(".lrs-overlay")).to_be_hidden()


def test_play_moves_the_handle_and_the_picture(page: Page, scrub_url: str):
    open_app(page, scrub_url, f"sample={SAMPLE}&mode=rgb&dtype=float16&rank=40")
    page.locator("button.lrs-play").click()
    expect(page.locator(".lrs-root")).to_have_attribute("data-playing", "true")
    seen = set()
    while page.locator(".lrs-root").get_attribute("data-playing") == "true" and len(seen) < 200:
        seen.add(page.locator("input.lrs-range").input_value())
        page.wait_for_timeout(50)
    assert len(seen) >= 5 and min(int(v) for v in seen) < 20
    expect(page.locator("input.lrs-range")).to_have_value("40")  # it sweeps up to where it was
    expect(page.locator(".lrs-root")).to_have_attribute("data-drawn-rank", "40,40,40")


def test_the_page_starts_the_sweep(page: Page, scrub_url: str):
    open_app(page, scrub_url, f"sample={SAMPLE}&mode=rgb&dtype=float16&rank=25")
    page.get_by_role("button", name="Play", exact=True).click()  # the app's button: play=True for one run
    expect(page.locator(".lrs-root")).to_have_attribute("data-playing", "true")
    expect(page.locator(".lrs-root")).not_to_have_attribute("data-playing", "true", timeout=15_000)
    expect(page.locator("input.lrs-range")).to_have_value("25")
    wait_idle(page)
    page.reload()  # a new page for the same session: the old play request is not replayed
    expect(page.locator(".lrs-root")).to_have_attribute("data-status", "ready", timeout=60_000)
    page.wait_for_timeout(500)
    expect(page.locator(".lrs-root")).not_to_have_attribute("data-playing", "true")


def test_without_canvas_the_page_is_told(page: Page, scrub_url: str):
    page.add_init_script("HTMLCanvasElement.prototype.getContext = function () { return null; };")
    page.goto(f"{scrub_url}/?sample={SAMPLE}&mode=rgb")
    expect(page.locator(".lrs-message")).to_contain_text("cannot draw in this browser", timeout=60_000)
    expect(page.get_by_text("status: failed")).to_be_visible()


# ======================================================================================== matrix


def test_matrix_heatmaps_exact_colours(page: Page, scrub_url: str):
    generator = torch.Generator().manual_seed(0)  # as the test app makes it
    W = torch.rand(15, 4, generator=generator) @ torch.rand(4, 15, generator=generator)
    W = W + 0.05 * torch.randn(15, 15, generator=generator)
    f = factorize(W)
    limit = float(W.abs().max())
    open_app(page, scrub_url, "kind=matrix&rank=0")
    assert np.array_equal(canvas_pixels(page, 0), colour_map(W.double().numpy(), limit))
    for rank in (0, 1, 4, 15):
        type_rank(page, rank)
        low_rank = f.reconstruct(rank).double().numpy()
        for index, values in ((1, low_rank), (2, W.double().numpy() - low_rank)):
            got, want = canvas_pixels(page, index), colour_map(values, limit)
            position = np.clip((values / limit + 1) / 2, 0, 1) * 256
            clear = np.abs(position - np.floor(position) - 0.5) > 1e-4  # not on a rounding boundary
            assert np.array_equal(got[clear], want[clear]), (rank, index)
            assert clear.mean() > 0.99
    expect(page.locator("figcaption.lrs-title").nth(1)).to_have_text("W_r (r = 15)")
    screenshot(page, "scrubber-matrix")


# ========================================================================================= bytes


def test_payload_crosses_once(page: Page, scrub_url: str):
    frames: list[int] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(len(payload))))
    open_app(page, scrub_url, f"sample={SAMPLE}&mode=rgb&dtype=float16&rank=30")
    payload_bytes = int(page.get_by_text(re.compile(r"^payload bytes: \d+$")).inner_text().split(": ")[1])
    assert sum(frames) > payload_bytes  # the first load carries the blob
    slider = page.locator("input.lrs-range")
    for rank in (31, 32, 33):
        frames.clear()
        slider.focus()
        slider.press("ArrowRight")
        expect(page.get_by_text(f"settled rank: {rank}")).to_be_visible()
        wait_idle(page)
        page.wait_for_timeout(300)
        assert sum(frames) < 20_000, f"a settled-rank rerun received {sum(frames)} bytes"
