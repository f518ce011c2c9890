"""The tour's Streamlit cache: the notebook's matrix, its SVD and the layer's x and bias, per setting."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
import torch
from torch import Tensor

from lowrank_core import Factorization, sources
from ui.limits import CACHE_ENTRIES
from ui.matrix.cache import run_factorize

__all__ = ["NotebookCase", "notebook_case"]


@dataclass(frozen=True)
class NotebookCase:
    """The notebook's objects for one (m, n, k, seed).

    Attributes
    ----------
    W : Tensor of shape (m, n)
        ``torch.rand(m, k) @ torch.rand(k, n)`` from ``sources.notebook_matrix``.
    factorization : Factorization
        Its exact SVD, U (m, min), S (min,), Vh (min, n).
    x : Tensor of shape (n,)
        The layer's input, standard normal.
    bias : Tensor of shape (m,)
        The layer's bias, standard normal.

    x and bias come from ``torch.Generator().manual_seed(seed)`` (x first), as in ``python -m lowrank_core
    demo``, so the tour's default numbers are the command line's.
    """

    W: Tensor
    factorization: Factorization
    x: Tensor
    bias: Tensor


@st.cache_data(max_entries=CACHE_ENTRIES["notebook_case"], show_spinner=False)
def notebook_case(m: int, n: int, k: int, seed: int) -> NotebookCase:
    """W, its SVD and the layer's x and bias for the tour, computed once per (m, n, k, seed)."""
    W = sources.notebook_matrix(m, n, k, seed=seed)  # (m, n)
    generator = torch.Generator().manual_seed(int(seed))  # as the command line's demo
    x = torch.randn(n, generator=generator)  # (n,)
    bias = torch.randn(m, generator=generator)  # (m,)
    return NotebookCase(W, run_factorize(W), x, bias)
