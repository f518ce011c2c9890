"""The Layers and LoRA page in chromium: move the rank, train the network, look at every section."""

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import expect_no_error, open_page, screenshot, wait_idle


def metric_text(page: Page, label: str) -> str:
    """The value of the metric whose label contains ``label``."""
    metric = page.get_by_test_id("stMetric").filter(has_text=label)
    return metric.get_by_test_id("stMetricValue").inner_text()


def test_layer_page_rank_training_and_lora(page: Page, app_url: str):
    page.set_viewport_size({"width": 1400, "height": 2600})  # tall: the screenshots show whole sections
    open_page(page, app_url, "layer", re.compile("Layers and LoRA"))

    # Layer lab: move the rank and the numbers follow.
    slider = page.get_by_test_id("stSlider").filter(has_text="rank r").get_by_role("slider")
    expect(slider).to_have_value("32")
    bound_before = metric_text(page, "bound σ")
    slider.focus()
    for _ in range(4):
        slider.press("ArrowLeft")
    expect(slider).to_have_value("28")
    wait_idle(page)
    expect(page.get_by_test_id("stMetric").filter(has_text="bound σ").get_by_test_id("stMetricValue")) \
        .not_to_have_text(bound_before)
    expect(page.locator('[data-testid="stPlotlyChart"] svg.main-svg').first).to_be_visible()
    expect_no_error(page)
    assert float(metric_text(page, "worst")) <= 1.0
    screenshot(page, "layer-lab")

    # Compress a trained network: the MLP trains on first use (progress bar), then the charts appear.
    page.get_by_role("tab", name="Compress a trained network").click()
    dense_accuracy = page.get_by_test_id("stMetric").filter(has_text="test accuracy (dense)")
    expect(dense_accuracy).to_be_visible(timeout=90_000)
    wait_idle(page, timeout=90_000)
    expect_no_error(page)
    accuracy = float(metric_text(page, "test accuracy (dense)").rstrip(" %"))
    assert accuracy >= 95.0
    charts = page.locator('[data-testid="stPlotlyChart"]')
    expect(charts).to_have_count(3)
    expect(charts.nth(1).locator("svg.main-svg").first).to_be_visible()
    screenshot(page, "layer")

    # LoRA: fine-tunes train, the table and the charts show.
    page.get_by_role("tab", name="LoRA fine-tuning").click()
    expect(page.get_by_text("Each adapter: A (r × in)")).to_be_visible(timeout=90_000)
    wait_idle(page, timeout=90_000)
    expect_no_error(page)
    expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(2)
    screenshot(page, "layer-lora")
