"""The app's look in one place: colours (for plotly as hex, for Pillow as RGB), chart fonts and margins."""

from __future__ import annotations

import numpy as np

__all__ = [
    "KEPT_COLOUR", "DROPPED_COLOUR", "TOLERANCE_COLOUR", "THRESHOLD_COLOUR", "MARK_COLOUR", "STAR_COLOUR",
    "CHANNEL_COLOURS", "PALETTE", "DENSE_COLOUR", "ALL_COLOUR", "DIVERGING", "SEQUENTIAL", "FONT",
    "FONT_SIZE", "MARGIN", "LEGEND_BELOW", "PRESENTER_FONT_SIZE", "ERROR_GAIN", "KEPT_RGB", "DROPPED_RGB",
    "NAN_COLOUR", "RDBU_R", "NUMBER_FORMAT", "LOG_AXIS", "LINEAR_AXIS", "hex_to_rgb",
]

KEPT_COLOUR = "#1f5fbf"  # singular values (and bars) that are kept
DROPPED_COLOUR = "#b8bfcc"  # and those dropped
TOLERANCE_COLOUR = "#d62728"
THRESHOLD_COLOUR = "#2ca02c"
MARK_COLOUR = "#ff7f0e"  # the chosen rank on a curve, energy targets
STAR_COLOUR = "#d62728"  # the current setting on the rate–distortion chart
CHANNEL_COLOURS = {
    "R": "#d62728", "G": "#2ca02c", "B": "#1f77b4", "Y": "#444444", "Cb": "#1f77b4", "Cr": "#d62728",
    "grey": "#444444",
}
PALETTE = ("#1f5fbf", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
DENSE_COLOUR = "#555555"
ALL_COLOUR = "#d62728"
DIVERGING = "RdBu_r"  # blue for negative, white at 0, red for positive
SEQUENTIAL = "Viridis"
FONT_SIZE = 15
FONT = {"size": FONT_SIZE}
MARGIN = {"l": 60, "r": 20, "t": 40, "b": 40}
LEGEND_BELOW = {"orientation": "h", "y": -0.3}
PRESENTER_FONT_SIZE = 22  # chart text in the presenter view
ERROR_GAIN = 8  # the error image shows |x - x_r| multiplied by this
# Small and large values as powers of ten (2×10⁻⁴), never with an SI prefix such as "200µ" (plotly's default,
# which reads as a unit): every axis or colour bar that shows singular values, entries or errors.
NUMBER_FORMAT = {"exponentformat": "power"}
# A log axis also labels its in-between ticks in full ("20", "50", not "2", "5" after "10").
LOG_AXIS = {"type": "log", "minorloglabels": "complete", **NUMBER_FORMAT}
LINEAR_AXIS = {"type": "linear", **NUMBER_FORMAT}


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    """'#1f5fbf' -> (31, 95, 191)."""
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


KEPT_RGB = hex_to_rgb(KEPT_COLOUR)
DROPPED_RGB = hex_to_rgb(DROPPED_COLOUR)
NAN_COLOUR = (128, 128, 128)
# ColorBrewer RdBu, blue (negative) -> white -> red (positive): plotly's "RdBu_r" (DIVERGING), for Pillow.
RDBU_R = np.array([
    (5, 48, 97), (33, 102, 172), (67, 147, 195), (146, 197, 222), (209, 229, 240), (247, 247, 247),
    (253, 219, 199), (244, 165, 130), (214, 96, 77), (178, 24, 43), (103, 0, 31),
], dtype=np.float64)
