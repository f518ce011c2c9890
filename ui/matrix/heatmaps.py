"""The heatmaps of W, W_r and W − W_r drawn in the browser by the rank scrubber (the matrix explorer's views
and the tour's lower rank): the payload and the mount.

``heatmap_payload`` packs a matrix and its factorization at the shown rows and columns (``display_indices``)
on the app's diverging colour scale, one scale for all three, centred on 0 and reaching the largest |W|
shown (``symmetric_limit``), as the plotly heatmaps. The pages cache it (``ui.matrix.cache``,
``ui.tour.cache``). ``scrubbed_heatmaps`` mounts the scrubber on it.
"""

from __future__ import annotations

from torch import Tensor

from lowrank_core import Factorization, scrub
from ui.components.scrubber import ScrubberResult, rank_scrubber
from ui.matrix.figures import display_indices, symmetric_limit
from ui.stills import DIVERGING_TABLE

__all__ = ["heatmap_payload", "scrubbed_heatmaps"]


def heatmap_payload(W: Tensor, factorization: Factorization) -> bytes:
    """The rank scrubber's payload of a matrix W (m, n): a and b at the shown rows and columns, W there, and
    the colour scale (every rank fits: at most 120 × 120 entries are shown)."""
    rows, cols = display_indices(W.shape[0]), display_indices(W.shape[1])
    limit = symmetric_limit(W[rows][:, cols].numpy())
    return scrub.pack(scrub.matrix_scrub_factors(W, factorization, colours=DIVERGING_TABLE, rows=rows,
                                                 cols=cols, limit=limit))


def scrubbed_heatmaps(payload: bytes, *, key: str, rank: int, min_rank: int, disabled: bool = False,
                      play: bool = False) -> ScrubberResult:
    """The scrubber over ranks ``min_rank``..k: W, W_r and W − W_r redrawn at every rank, the spectrum strip
    with the kept values marked; the settled rank comes back (``ScrubberResult.rank``)."""
    return rank_scrubber(payload, key=key, rank=rank, label="Rank r", min_rank=min_rank, disabled=disabled,
                         play=play, spectrum=True,
                         spectrum_label="Singular values on a log scale: blue, the {kept} kept.")
