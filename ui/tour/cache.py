"""The tour's Streamlit cache: one replay of the notebook per setting (``lowrank_core.notebook``)."""

from __future__ import annotations

import streamlit as st

from lowrank_core import Factorization
from lowrank_core.notebook import NotebookRun, run_notebook
from ui.limits import CACHE_ENTRIES
from ui.matrix.heatmaps import heatmap_payload

__all__ = ["notebook_run", "scrub_payload"]


@st.cache_data(max_entries=CACHE_ENTRIES["notebook_run"], show_spinner=False)
def notebook_run(m: int, n: int, k: int, seed: int, lower_rank: int | None = None) -> NotebookRun:
    """The notebook's objects and numbers for (m, n, k, seed), with ``lower_rank`` for the last step."""
    return run_notebook(m, n, k, seed=seed, lower_rank=lower_rank)


@st.cache_resource(max_entries=CACHE_ENTRIES["notebook_run"], show_spinner=False)
def scrub_payload(m: int, n: int, k: int, seed: int) -> bytes:
    """The rank scrubber's payload of the notebook's W and its SVD (the notebook's own U, S, Vh)."""
    run = notebook_run(m, n, k, seed)
    return heatmap_payload(run.W, Factorization(run.U, run.S, run.Vh))
