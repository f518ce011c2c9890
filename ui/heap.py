"""Keep Python's cyclic garbage collector off the slider's path.

Streamlit runs ``gc.collect()`` after every script run (``runner.postScriptGC``, on by default). A full
collection walks every object the collector tracks. With Streamlit, torch and plotly loaded that is about
220,000 objects, and each pass takes about 180 ms on the 2-core development machine while holding the GIL.
So every session's slider move paid that cost, and under load (benchmarks/load.py) it was a third of the
server's time.

Almost all of those objects are modules, classes and functions that live as long as the process.
``gc.freeze()`` moves them into a permanent generation that collections skip. It is called once per server
process, after the app's modules are imported and a collection has cleared whatever garbage existed, so
nothing collectable is frozen by mistake. Reference counting still frees frozen objects as usual; only their
reference cycles are no longer looked for.

``return_free_memory`` is the other half: when sessions end and their images and factorizations are dropped,
glibc keeps much of the freed memory in its arenas for reuse, so the server's resident memory stays high with
nobody connected. A collection, then ``malloc_trim(0)``, gives the free pages back to the system.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import importlib

import streamlit as st

__all__ = ["APP_MODULES", "freeze_startup_heap", "return_free_memory"]

# What the pages import: loaded here so that their long-lived objects are frozen with the rest.
APP_MODULES = (
    "numpy", "torch", "PIL.Image", "plotly.graph_objects",
    "lowrank_core", "lowrank_core.image", "lowrank_core.layers", "lowrank_core.training",
    "ui.page", "ui.sweep", "ui.exports", "ui.charts", "ui.quiz", "ui.jobs", "ui.sessions", "ui.shared_cache",
    "ui.admission", "ui.export_pool",
    "ui.matrix.inputs", "ui.matrix.cache", "ui.matrix.figures", "ui.matrix.links",
    "ui.tour.cache", "ui.tour.links",
    "ui.image.inputs", "ui.image.cache", "ui.image.figures", "ui.image.links", "ui.image.views",
    "ui.layer.inputs", "ui.layer.cache", "ui.layer.figures", "ui.layer.links", "ui.layer.views",
)


@st.cache_resource(show_spinner=False)
def freeze_startup_heap() -> int:
    """Import ``APP_MODULES``, collect, then ``gc.freeze()``; once per process. Returns the frozen count."""
    for name in APP_MODULES:
        importlib.import_module(name)
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def return_free_memory() -> bool:
    """Collect, then give the C heap's free pages back to the system (glibc's ``malloc_trim``).

    Returns whether the trim ran (False where the C library has no ``malloc_trim``).
    """
    gc.collect()
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        trim = None
    if trim is None:
        return False
    trim(0)
    return True
