"""Reading the rank scrubber in chromium: what its canvas shows, its rank, and the comparison with the core
(at most one grey level apart on >= 99.9 % of pixels). Shared by the component's own tests
(``test_scrubber.py``, on its test app) and the pages' (``test_image_scrubber.py``, ``test_tour_matrix.py``).
"""

from __future__ import annotations

import base64

import numpy as np
import torch
from playwright.sync_api import Page, expect

__all__ = ["READ_CANVAS", "canvas_pixels", "type_rank", "drawn_ranks", "as_hwc", "assert_close",
           "canvas_signature"]

READ_CANVAS = """(canvas) => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let text = '';
  for (let i = 0; i < data.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, data.subarray(i, i + 0x8000));
  }
  return [canvas.width, canvas.height, btoa(text)];
}"""


def canvas_pixels(page: Page, index: int = 0) -> np.ndarray:
    """What a scrubber canvas shows: (h, w, 3) uint8."""
    width, height, data = page.locator("canvas.lrs-canvas").nth(index).evaluate(READ_CANVAS)
    rgba = np.frombuffer(base64.b64decode(data), dtype=np.uint8).reshape(height, width, 4)
    assert (rgba[..., 3] == 255).all()
    return rgba[..., :3]


def type_rank(page: Page, rank: int) -> None:
    """Type a rank into the scrubber's number box and wait until the canvas shows it."""
    box = page.locator("input.lrs-number")
    box.fill(str(rank))
    box.press("Enter")
    expect(page.locator(".lrs-root")).to_have_attribute("data-rank", str(rank))


def drawn_ranks(page: Page) -> str:
    """The ranks of every channel the canvas shows now ("30,30,30")."""
    return page.locator(".lrs-root").get_attribute("data-drawn-rank")


def as_hwc(image: torch.Tensor) -> np.ndarray:
    """(C, h, w) uint8 -> (h, w, 3), grey repeated."""
    array = image.permute(1, 2, 0).numpy()
    return np.repeat(array, 3, axis=2) if array.shape[2] == 1 else array


def assert_close(shown: np.ndarray, want: np.ndarray, what: str) -> None:
    """At most one grey level apart on >= 99.9 % of the pixels."""
    assert shown.shape == want.shape, what
    difference = np.abs(shown.astype(int) - want.astype(int))
    share = float((difference > 1).mean())
    assert share <= 0.001, f"{what}: {share:.4%} of pixels more than 1 level apart (max {difference.max()})"


def canvas_signature(page: Page) -> str:
    """A cheap hash of what the (first) canvas shows: it changes when the picture does."""
    return page.locator("canvas.lrs-canvas").first.evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let s = 0; for (let i = 0; i < d.length; i += 97) s = (s * 31 + d[i]) | 0; return String(s); }")
