"""The only place with Streamlit caches for the matrix explorer (and the exact SVD the tour shares).

Each cached function is keyed by small hashable values (a source's ``key`` with a digest in place of its
bytes) and runs the SVD once; a rank slider then only slices the cached ``Factorization``. Results come
back on the CPU (``st.cache_data`` pickles them; a hit returns a fresh copy).

The SVD is called as ``lowrank_core.factorize.factorize`` looked up on its module at call time, so a test
can count the calls by patching that attribute.
"""

from __future__ import annotations

import importlib

import numpy as np
import streamlit as st
from torch import Tensor

from lowrank_core import Factorization, choose_device, sources, truncation_error
from ui.limits import CACHE_ENTRIES, MAX_MEASURED_RANKS
from ui.matrix.heatmaps import heatmap_payload
from ui.matrix.source import MatrixSource, build_matrix

__all__ = ["run_factorize", "source_matrix", "source_factorization", "measured_ranks", "source_error_curve",
           "scrub_payload"]

_engine = importlib.import_module("lowrank_core.factorize")  # the module, not the re-exported function
_ENTRIES = CACHE_ENTRIES["matrix_source"]


def run_factorize(x: Tensor) -> Factorization:
    """Exact SVD of ``x`` on the chosen device (CUDA when present), returned on the CPU."""
    return _engine.factorize(x, method="exact", device=choose_device()).to("cpu")


@st.cache_data(max_entries=_ENTRIES, show_spinner=False)
def source_matrix(key: tuple, _source: MatrixSource) -> sources.LoadedMatrix:
    """The matrix of a source (``key`` is ``_source.key``); loader errors propagate and are not cached."""
    return build_matrix(_source)


@st.cache_data(max_entries=_ENTRIES, show_spinner="Computing the SVD…")
def source_factorization(key: tuple, _source: MatrixSource) -> Factorization:
    """Exact SVD of a source's matrix, once per source."""
    return run_factorize(source_matrix(key, _source).values)


def measured_ranks(max_rank: int, *, count: int = MAX_MEASURED_RANKS) -> np.ndarray:
    """At most ``count`` ranks spread evenly over 0..max_rank, both ends included."""
    return np.unique(np.linspace(0, max_rank, min(count, max_rank + 1)).round().astype(np.int64))


@st.cache_data(max_entries=_ENTRIES, show_spinner=False)
def source_error_curve(key: tuple, _source: MatrixSource) -> tuple[np.ndarray, np.ndarray]:
    """Measured ‖W − W_r‖_F / ‖W‖_F at ``measured_ranks`` (it does not depend on the slider).

    Returns
    -------
    ranks : int array of shape (p,), p <= MAX_MEASURED_RANKS
    relative : float array of shape (p,)
    """
    x = source_matrix(key, _source).values
    factorization = source_factorization(key, _source)
    ranks = measured_ranks(factorization.max_rank)
    relative = [truncation_error(x, factorization, int(r), measure_spectral=False).relative for r in ranks]
    return ranks, np.asarray(relative, dtype=np.float64)


@st.cache_resource(max_entries=CACHE_ENTRIES["matrix_scrub_payload"], show_spinner=False)
def scrub_payload(key: tuple, _source: MatrixSource) -> bytes:
    """The rank scrubber's payload of a source's heatmaps (``heatmap_payload``), once per source; shared
    read-only bytes, so Streamlit sends them to a browser once."""
    return heatmap_payload(source_matrix(key, _source).values, source_factorization(key, _source))
