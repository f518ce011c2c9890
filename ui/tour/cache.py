"""The tour's Streamlit cache: one replay of the notebook per setting (``lowrank_core.notebook``)."""

from __future__ import annotations

import streamlit as st

from lowrank_core.notebook import NotebookRun, run_notebook
from ui.limits import CACHE_ENTRIES

__all__ = ["notebook_run"]


@st.cache_data(max_entries=CACHE_ENTRIES["notebook_run"], show_spinner=False)
def notebook_run(m: int, n: int, k: int, seed: int, lower_rank: int | None = None) -> NotebookRun:
    """The notebook's objects and numbers for (m, n, k, seed), with ``lower_rank`` for the last step."""
    return run_notebook(m, n, k, seed=seed, lower_rank=lower_rank)
