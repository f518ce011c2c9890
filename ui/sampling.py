"""Which rows, columns or points a view shows when there are too many to draw."""

from __future__ import annotations

import numpy as np

__all__ = ["evenly_spaced"]


def evenly_spaced(size: int, limit: int) -> np.ndarray:
    """Evenly spaced indices into ``size`` items, at most ``limit`` of them, first and last included.

    Returns ``arange(size)`` when ``size <= limit``: the view then shows every item.
    """
    if size <= limit:
        return np.arange(size)
    return np.unique(np.linspace(0, size - 1, limit).round().astype(np.int64))
