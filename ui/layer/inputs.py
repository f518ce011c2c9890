"""Widgets of the Layers and LoRA page that return plain values.

``lab_weight_picker`` draws the layer lab's source controls and returns a ``LabSource`` (what to build,
small and hashable apart from the uploaded bytes); ``progress_callback`` gives training a progress bar
that only appears while something is actually computed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import streamlit as st

from ui.limits import LAYER_MAX_UPLOAD_MB, MAX_SEED, SERVER_MAX_UPLOAD_MB
from ui.state import kept_upload

__all__ = [
    "SOURCES",
    "LabSource",
    "lab_weight_picker",
    "progress_callback",
]

SOURCES = {
    "random": "Random, full rank",
    "low_rank": "Exact low rank (rand(m, k) @ rand(k, n))",
    "trained": "A trained layer",
    "upload": "Upload a weight (.npy / .pt)",
}
DEFAULT_SIDE = 256
DEFAULT_K = 8


@dataclass(frozen=True)
class LabSource:
    """The layer lab's weight: which source, its sizes and seed, a trained layer's name, or a file.

    ``data`` (an upload's bytes) is left out of equality; ``name`` and the bytes key the upload cache.
    """

    kind: str
    out_features: int = DEFAULT_SIDE
    in_features: int = DEFAULT_SIDE
    k: int = DEFAULT_K
    seed: int = 0
    layer: str = ""
    name: str = ""
    data: bytes = field(default=b"", repr=False, compare=False)


def lab_weight_picker(trained_layers: dict[str, str], *, max_side: int,
                      prefix: str = "layer") -> LabSource | None:
    """Draw the source controls; return the chosen ``LabSource`` (None while an upload is awaited).

    ``trained_layers`` maps a layer's name to its label (e.g. "0" -> "layer 1: 64 → 128").
    """
    kind = st.radio("Where the weight W comes from", list(SOURCES), format_func=SOURCES.get, horizontal=True,
                    key=f"{prefix}_source", persist_state="session")
    if kind in ("random", "low_rank"):
        columns = st.columns(4)
        out_features = columns[0].number_input("out features m (rows of W)", 2, max_side, DEFAULT_SIDE,
                                               key=f"{prefix}_out", persist_state="session")
        in_features = columns[1].number_input("in features n (columns of W)", 2, max_side, DEFAULT_SIDE,
                                              key=f"{prefix}_in", persist_state="session")
        k = DEFAULT_K
        if kind == "low_rank":
            k = columns[2].number_input("inner size k (the rank)", 1, max_side, DEFAULT_K, key=f"{prefix}_k",
                                        persist_state="session")
        seed = columns[3].number_input("seed", 0, MAX_SEED, 0, key=f"{prefix}_seed", persist_state="session")
        return LabSource(kind, int(out_features), int(in_features), int(k), int(seed))
    if kind == "trained":
        layer = st.selectbox("Layer of the trained digits MLP", list(trained_layers),
                             format_func=trained_layers.get, key=f"{prefix}_trained_layer",
                             persist_state="session")
        return LabSource(kind, layer=layer)
    # The browser lets through what the server takes, and the lab refuses a file over its own limit with a
    # message: a file the browser refused itself would leave the previous file, and its results, on screen.
    upload = kept_upload(f"{prefix}_upload", lambda: st.file_uploader(
        f"A weight matrix W of shape (out, in), at most {LAYER_MAX_UPLOAD_MB} MB: .npy, or a .pt holding one "
        "tensor", type=["npy", "pt", "pth"], key=f"{prefix}_upload", max_upload_size=SERVER_MAX_UPLOAD_MB,
        help=f"At most {LAYER_MAX_UPLOAD_MB} MB here (the {SERVER_MAX_UPLOAD_MB} MB under the box is the "
             "Checkpoint inspector's limit). Files are read without pickle (NumPy allow_pickle=False, torch "
             "weights_only=True).",
    ))
    st.page_link("pages/checkpoint.py", icon=":material/inventory_2:",
                 label="A model file (a state dict, .safetensors, several weights)? Open the Checkpoint "
                       "inspector")
    if upload is None:
        st.info("Choose a file to start, or pick another source above.")
        return None
    st.text(f"File: {upload.name}" + (" (kept from before)" if upload.from_before else ""))  # never markdown
    return LabSource(kind, name=upload.name, data=upload.data)


def progress_callback(text: str) -> tuple[Callable[[float], None], Callable[[], None]]:
    """A ``progress(fraction)`` callback and a ``done()`` to clear it.

    The bar is drawn in a placeholder on the first call only, so nothing flashes when the result is
    already cached and the callback is never called.
    """
    placeholder = st.empty()

    def progress(fraction: float) -> None:
        placeholder.progress(min(max(float(fraction), 0.0), 1.0), text=text)

    return progress, placeholder.empty
