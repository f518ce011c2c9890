"""Ranks to tiles under a byte budget: the convex hull greedy, and an exact knapsack where small."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import EXACT_MAX_CELLS, EXACT_MAX_OPTIONS, MIN_GAIN

__all__ = ["Hull", "exact_for_budget"]  # for the codec; not re-exported by the package


# ========================================================================================== allocation


@dataclass(frozen=True)
class Hull:
    """Each tile's lower convex hull of (bytes, error) from its cheapest option, and all segments sorted.

    ``options[n, l]`` is tile n's option after l hull steps (repeating the last one); segment i of the
    global order ``order`` moves tile ``tile[i]`` to level ``level[i]`` for ``added[i]`` bytes and
    ``removed[i]`` less squared error.
    """

    start: np.ndarray  # (N,) cheapest option per tile
    final: np.ndarray  # (N,) most accurate hull option per tile
    options: np.ndarray  # (N, L + 1)
    tile: np.ndarray  # (M,) segments in greedy order: error removed per byte, descending
    added: np.ndarray  # (M,) int64 bytes
    removed: np.ndarray  # (M,) float64 squared error
    start_error: float

    @property
    def segments(self) -> int:
        """M, the number of hull segments over all tiles."""
        return len(self.tile)

    @classmethod
    def build(cls, size: np.ndarray, error: np.ndarray) -> Hull:
        """The hulls of an (N, O) bytes table and its (N, O) error table."""
        count = len(size)
        rows = np.arange(count)
        order_key = np.lexsort((error, size), axis=1)[:, 0]  # fewest bytes, then least error
        current = order_key.copy()
        levels = [current.copy()]
        tiles, steps, added, removed, ratios = [], [], [], [], []
        previous = np.full(count, np.inf)
        active = rows
        step = 0
        while len(active):
            step += 1
            base_size = size[active, current[active]]  # (n,)
            base_error = error[active, current[active]]
            more = size[active] - base_size[:, None]  # (n, O)
            less = base_error[:, None] - error[active]  # (n, O)
            valid = (more > 0) & (less > MIN_GAIN)
            ratio = np.where(valid, less / np.where(valid, more, 1), -np.inf)
            best = ratio.argmax(axis=1)  # the steepest; ties go to the fewer bytes
            moves = valid.any(axis=1)
            active, best = active[moves], best[moves]
            if not len(active):
                break
            index = np.arange(len(moves))[moves]
            slope = np.minimum(ratio[index, best], previous[active])  # non-increasing along a tile
            tiles.append(active)
            steps.append(np.full(len(active), step))
            added.append(more[index, best])
            removed.append(less[index, best])
            ratios.append(slope)
            previous[active] = slope
            current = current.copy()
            current[active] = best
            levels.append(current.copy())
        options = np.stack(levels, axis=1)  # (N, L + 1)
        if tiles:
            tile, level = np.concatenate(tiles), np.concatenate(steps)
            added_all, removed_all, ratio_all = map(np.concatenate, (added, removed, ratios))
            order = np.lexsort((level, tile, -ratio_all))
            tile, added_all, removed_all = tile[order], added_all[order], removed_all[order]
        else:
            tile = np.zeros(0, np.int64)
            added_all, removed_all = np.zeros(0, np.int64), np.zeros(0)
        start_error = float(error[rows, order_key].sum())
        return cls(order_key, options[:, -1].copy(), options, tile, added_all.astype(np.int64), removed_all,
                   start_error)

    def prefix_options(self, k: int) -> np.ndarray:
        """Option per tile (N,) after the first ``k`` segments of the greedy order."""
        levels = np.bincount(self.tile[:k], minlength=len(self.start))  # segments of a tile come in order
        return self.options[np.arange(len(self.start)), levels]

    def prefix_for_error(self, allowed: float) -> int:
        """The fewest segments after which the predicted squared error is at most ``allowed``."""
        need = self.start_error - allowed
        if need <= 0:
            return 0
        cumulative = np.cumsum(self.removed)
        return min(int(np.searchsorted(cumulative, need, side="left")) + 1, self.segments)

    def for_budget(self, size: np.ndarray, error: np.ndarray, budget: int) -> np.ndarray:
        """Option per tile whose bytes (without the header) fit in ``budget``: the greedy, then a fill."""
        rows = np.arange(len(self.start))
        left = budget - int(size[rows, self.start].sum())
        cumulative = np.cumsum(self.added)
        k = int(np.searchsorted(cumulative, left, side="right"))  # segments that fit, in order
        options = self.prefix_options(k)
        left -= int(cumulative[k - 1]) if k else 0
        # Fill: the first segment that did not fit is skipped; spend what is left on the steps (hull or
        # not) that still fit, best error removed per byte first, until none does.
        pool = rows
        while left > 0 and len(pool):
            base_size = size[pool, options[pool]]
            base_error = error[pool, options[pool]]
            more = size[pool] - base_size[:, None]  # (n, O)
            less = base_error[:, None] - error[pool]
            valid = (more > 0) & (more <= left) & (less > MIN_GAIN)
            keep = valid.any(axis=1)
            pool, more, less, valid = pool[keep], more[keep], less[keep], valid[keep]
            if not len(pool):
                break
            ratio = np.where(valid, less / np.where(valid, more, 1), -np.inf)
            flat = int(ratio.argmax())
            n, option = divmod(flat, ratio.shape[1])
            options[pool[n]] = option
            left -= int(more[n, option])
        return options


def exact_for_budget(size: np.ndarray, error: np.ndarray, budget: int) -> np.ndarray | None:
    """The optimal option per tile within ``budget`` bytes (without the header), or None when too large.

    A multiple-choice knapsack solved by dynamic programming over bytes: ``best[b]`` is the least total
    error of the tiles so far within b bytes above their cheapest options. It costs (bytes to spend + 1) ×
    (valid options) steps, so it runs only up to ``EXACT_MAX_CELLS`` and ``EXACT_MAX_OPTIONS`` (images of
    a few dozen tiles).
    """
    rows = np.arange(len(size))
    start = np.lexsort((error, size), axis=1)[:, 0]
    extra = size - size[rows, start][:, None]  # (N, O) bytes above the cheapest option
    valid = np.isfinite(error)
    spend = budget - int(size[rows, start].sum())
    spend = min(spend, int(np.where(valid, extra, 0).max(axis=1).sum()))  # more than this buys nothing
    if int(valid.sum()) > EXACT_MAX_OPTIONS or (spend + 1) * int(valid.sum()) > EXACT_MAX_CELLS:
        return None
    best = np.zeros(spend + 1)  # no tile yet: no error, whatever the bytes
    choice = np.zeros((len(size), spend + 1), np.int16)
    for n in rows:
        current = np.full(spend + 1, np.inf)
        pick = choice[n]
        for option in np.nonzero(valid[n] & (extra[n] <= spend))[0]:
            c = int(extra[n, option])
            candidate = best[:spend + 1 - c] + error[n, option]  # (spend + 1 - c,)
            better = candidate < current[c:]
            current[c:][better] = candidate[better]
            pick[c:][better] = option
        best = current
    options = np.empty(len(size), np.int64)
    left = spend
    for n in rows[::-1]:
        options[n] = choice[n, left]
        left -= int(extra[n, options[n]])
    return options
