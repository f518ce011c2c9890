"""Widgets of the checkpoint page that return plain values.

``checkpoint_source`` (the built-in digits MLP or an upload, with the upload's content key), ``weight_picker``
(which the table's row selection also sets), ``budget_setting`` (a share of the parameters or bytes) and
``allocation_picker``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import streamlit as st

from lowrank_core.allocation import ALLOCATIONS
from ui.checkpoint.figures import ALLOCATION_LABELS
from ui.limits import CHECKPOINT_MAX_UPLOAD_MB, CHECKPOINT_UPLOAD_TYPES
from ui.state import unless_set
from ui.text import format_bytes

__all__ = [
    "SOURCES",
    "DEFAULT_FRACTION",
    "CheckpointChoice",
    "checkpoint_source",
    "select_table_row",
    "weight_picker",
    "BudgetSetting",
    "budget_setting",
    "allocation_picker",
]

SOURCES = {"example": "The digits MLP (built in)", "upload": "Upload a checkpoint"}
DEFAULT_FRACTION = 0.3
BYTES_PER_PARAMETER = {4: "4 bytes (float32)", 2: "2 bytes (float16, bfloat16)"}
_DIGEST = "_checkpoint_digest"  # (file_id, sha256) of the current upload: hashed once, not on every rerun


@dataclass(frozen=True)
class CheckpointChoice:
    """The checkpoint to open: the example, or an upload with its content key ("sha256:...").

    ``upload`` (the ``UploadedFile``) is left out of equality; ``data()`` reads its bytes when needed.
    """

    kind: str
    key: str = ""
    name: str = ""
    size: int = 0
    upload: object = field(default=None, repr=False, compare=False)

    def data(self) -> bytes:
        """The uploaded file's bytes."""
        return self.upload.getvalue()


def _content_key(upload) -> str:
    """"sha256:<hex>" of an upload, computed once per uploaded file (a 256 MB file takes about a second)."""
    held = st.session_state.get(_DIGEST)
    if held is None or held[0] != upload.file_id:
        held = (upload.file_id, "sha256:" + hashlib.sha256(upload.getbuffer()).hexdigest())
        st.session_state[_DIGEST] = held
    return held[1]


def checkpoint_source(*, prefix: str = "checkpoint") -> CheckpointChoice | None:
    """The source radio and, for an upload, the file box; None while an upload is awaited."""
    kind = st.radio("Checkpoint", list(SOURCES), format_func=SOURCES.get, horizontal=True,
                    key=f"{prefix}_source")
    if kind == "example":
        return CheckpointChoice("example")
    upload = st.file_uploader(
        f"A model file: .safetensors, or a torch.save state dict (.pt, .pth, .bin); at most "
        f"{CHECKPOINT_MAX_UPLOAD_MB} MB", type=list(CHECKPOINT_UPLOAD_TYPES), key=f"{prefix}_upload",
        max_upload_size=CHECKPOINT_MAX_UPLOAD_MB,
        help="Read without pickle: safetensors by its own library, torch files by torch.load(weights_only="
             "True) after the zip's size is checked; a file holding Python objects is refused unread.",
    )
    if upload is None:
        st.info("Choose a file to start, or open the built-in digits MLP above.")
        return None
    st.text(f"File: {upload.name} ({format_bytes(upload.size)})")  # plain text: a name is never markdown
    return CheckpointChoice("upload", _content_key(upload), upload.name, int(upload.size), upload)


def select_table_row(*, table_key: str, names: Sequence[str], key: str) -> None:
    """Callback of the weights table: the clicked row's weight becomes the picker's."""
    rows = st.session_state[table_key].selection.rows
    if rows and 0 <= rows[0] < len(names):
        st.session_state[key] = names[rows[0]]


def weight_picker(names: Sequence[str], *, key: str = "checkpoint_weight") -> str:
    """A select box of the analysed weights (the first when the current one is not in this file).

    The value is always written back before the box is drawn: a new upload passes through a run without a
    file, which does not draw the box, and the box drawn again would show its first option while the page
    went on with the kept value (``ui.state.unless_set``).
    """
    current = st.session_state.get(key)
    st.session_state[key] = current if current in names else names[0]
    return st.selectbox("Weight", list(names), key=key,
                        help="Or click a row of the table above.")


@dataclass(frozen=True)
class BudgetSetting:
    """A budget for the weights: ``fraction`` of their parameters, or ``budget_bytes`` at
    ``bytes_per_parameter`` bytes a number (exactly one of the two is set)."""

    fraction: float | None = None
    budget_bytes: int | None = None
    bytes_per_parameter: int = 4


def budget_setting(parameters: int, *, prefix: str = "checkpoint") -> BudgetSetting:
    """Budget as a share of ``parameters`` (a slider) or in megabytes (a number box with its precision)."""
    kind = st.radio("Budget as", ["fraction", "bytes"], horizontal=True, key=f"{prefix}_budget_kind",
                    format_func={"fraction": "a share of the weights' parameters", "bytes": "megabytes"}.get,
                    **unless_set(f"{prefix}_budget_kind"))
    if kind == "fraction":
        fraction = st.slider("share of the weights' parameters to keep", 0.01, 1.0, step=0.01,
                             key=f"{prefix}_budget", **unless_set(f"{prefix}_budget", value=DEFAULT_FRACTION))
        return BudgetSetting(fraction=float(fraction))
    left, right = st.columns(2)
    per = left.selectbox("bytes per number", list(BYTES_PER_PARAMETER), format_func=BYTES_PER_PARAMETER.get,
                         key=f"{prefix}_precision", **unless_set(f"{prefix}_precision"))
    dense_mb = parameters * per / 1e6
    step = 10 ** math.floor(math.log10(max(dense_mb, 1e-3) / 100))
    megabytes_key = f"{prefix}_budget_mb"
    value = st.session_state.get(megabytes_key)
    if not isinstance(value, float) or not step <= value <= dense_mb:
        value = round(DEFAULT_FRACTION * dense_mb, 6)
    st.session_state[megabytes_key] = value  # written back always, as in weight_picker
    digits = max(0, -math.floor(math.log10(step)))
    megabytes = right.number_input(f"budget in MB (dense: {format_bytes(parameters * per)})", min_value=step,
                                   max_value=dense_mb, step=step, format=f"%.{digits}f", key=megabytes_key)
    return BudgetSetting(budget_bytes=int(megabytes * 1e6), bytes_per_parameter=int(per))


def allocation_picker(*, key: str = "checkpoint_allocation") -> str:
    """Which allocation's ranks the export uses (greedy first)."""
    return st.radio("Export the ranks of", list(ALLOCATIONS), format_func=ALLOCATION_LABELS.get,
                    horizontal=True, key=key, **unless_set(key))
