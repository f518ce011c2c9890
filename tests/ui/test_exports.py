"""ui.exports: the HTML summary and plotly's static export."""

import base64
import importlib.util
import io
from html.parser import HTMLParser

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from ui import exports
from ui.exports import ExportUnavailable, figure_png, kaleido_problem, summary_html
from ui.stills import heatmap_image, png_bytes

FLOAT32_EPS = float(np.finfo(np.float32).eps)


# ========================================================================================= HTML summary


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells, self.images, self.scripts, self.text = [], [], 0, []
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts += 1
        if tag in ("td", "th"):
            self._in_cell = True
            self.cells.append("")
        if tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_cell:
            self.cells[-1] += data


def test_summary_html_escapes_everything_and_embeds_the_pictures():
    hostile = '<script>alert("x")</script> & "quotes"'
    png = png_bytes(heatmap_image(np.eye(3)))
    page = summary_html(title=hostile, link="http://h/matrix?rank=3&gen=a%22b", numbers=[(hostile, "1.5e-3")],
                        pictures=[(hostile, png)], notes=[hostile])
    collector = _Collector()
    collector.feed(page)
    assert collector.scripts == 0 and "<script>" not in page
    assert collector.cells == [hostile, "1.5e-3"]  # the text comes back exactly, as text
    assert len(collector.images) == 1
    decoded = base64.b64decode(collector.images[0].split(",", 1)[1])
    assert decoded == png and Image.open(io.BytesIO(decoded)).size == heatmap_image(np.eye(3)).size
    assert "http://h/matrix?rank=3&amp;gen=a%22b" in page


# ========================================================================================= chart export


def test_kaleido_exports_a_chart_as_png():
    assert kaleido_problem() is None, "kaleido and Chromium are requirements of the PNG export"
    figure = go.Figure({"data": [{"type": "bar", "y": [3, 1, 2]}], "layout": {"height": 300}})
    data = figure_png(figure, width=640)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.size == (640, 300)


def test_without_kaleido_the_export_says_why(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "kaleido" else real(name, *args))
    assert "kaleido" in kaleido_problem()
    with pytest.raises(ExportUnavailable, match="kaleido"):
        figure_png(go.Figure())


def test_without_chromium_the_export_says_why(monkeypatch):
    monkeypatch.setattr(exports, "_chromium_path", lambda: None)
    assert "Chromium" in kaleido_problem()


def test_simultaneous_exports_share_one_browser(monkeypatch):
    """Six "Make PNG" presses at once used to start six Chromiums (62 processes, 1.2 GB, one PNG lost)."""
    import threading

    import kaleido

    launched = []
    real_init = kaleido.Kaleido.__init__

    def counting_init(self, *args, **kwargs):
        launched.append(kwargs)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(kaleido.Kaleido, "__init__", counting_init)
    figures = [go.Figure({"data": [{"type": "bar", "y": [i, 1, 2]}], "layout": {"height": 200 + 10 * i}})
               for i in range(4)]
    results = {}
    threads = [threading.Thread(target=lambda i=i: results.setdefault(i, figure_png(figures[i], width=320)))
               for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(launched) <= 1  # the server's one browser (opened now, or by an earlier export)
    assert all(options.get("mathjax") is False for options in launched)  # nothing fetched from a CDN
    for i in range(4):
        with Image.open(io.BytesIO(results[i])) as image:
            assert image.format == "PNG" and image.size == (320, 200 + 10 * i)
