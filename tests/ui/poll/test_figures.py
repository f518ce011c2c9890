"""The presenter's histograms: the votes as bars (checked against the counts), the energy curve on its own
axis, and a voter's typed text escaped so that plotly shows it as text."""

import numpy as np

from ui.poll.figures import answer_votes_figure, rank_votes_figure


def test_rank_votes_are_bars_with_their_median_and_the_energy_curve():
    energy = np.cumsum(np.r_[0.0, np.full(10, 0.1)])  # (11,): 0 .. 1
    figure = rank_votes_figure({"2": 1, "5": 3, "9": 1}, high=10, energy=energy)
    bars, median, curve = figure.data
    assert list(bars.x) == [2, 5, 9] and list(bars.y) == [1, 3, 1]
    assert list(median.x) == [5.0, 5.0]  # the median of 2, 5, 5, 5, 9
    assert curve.yaxis == "y2" and np.allclose(curve.y, energy * 100)
    assert figure.layout.xaxis.range == (0, 11)


def test_no_votes_yet_is_an_empty_chart():
    figure = rank_votes_figure({}, high=30)
    assert len(figure.data) == 1 and list(figure.data[0].x) == []


def test_typed_answers_are_escaped_and_the_answer_is_marked_once_revealed():
    counts = {"A cat": 2, "A horse": 0, "<b>x</b> & <a href='y'>z</a>": 1}
    hidden = answer_votes_figure(counts)
    labels = list(hidden.data[0].y)[::-1]
    assert labels == ["A cat", "A horse", "&lt;b&gt;x&lt;/b&gt; &amp; &lt;a href='y'&gt;z&lt;/a&gt;"]
    assert list(hidden.data[0].x)[::-1] == [2, 0, 1]
    assert "It was" not in hidden.layout.title.text and len(set(hidden.data[0].marker.color)) == 1
    shown = answer_votes_figure(counts, answer="A cat")
    colours = list(shown.data[0].marker.color)[::-1]
    assert "It was: A cat" in shown.layout.title.text and colours[0] != colours[1] == colours[2]
