"""Widgets of the matrix explorer that return plain values; every key starts with the page's prefix.

- ``matrix_source_picker``: a generator with its settings, an upload or the editable grid -> ``MatrixSource``.
- ``rank_rule_picker``: which rule sets the rank (+ its setting) -> ``RankRule``.
- ``reset_generator_settings``: forget a generator's settings (a link asked for ones it refuses).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from lowrank_core import LowRankError, TooLargeError, sources
from ui.limits import (
    MATRIX_UPLOAD_TYPES,
    MAX_GRID_SIDE,
    MAX_MATRIX_ENTRIES,
    MAX_PASTE_CHARS,
    MAX_SEED,
    MAX_UPLOAD_MB,
    NOISE_MAX,
)
from ui.matrix.rules import RANK_RULES, RankRule
from ui.matrix.source import SOURCE_KINDS, MatrixSource, generator_param_bounds, grid_source
from ui.state import kept_upload, unless_set
from ui.text import escape_markdown

__all__ = ["matrix_source_picker", "rank_rule_picker", "reset_generator_settings"]


def _param_widget(spec: sources.ParamSpec, key: str):
    """A number input built from a generator's ParamSpec (sides capped at MAX_MATRIX_SIDE)."""
    _, maximum = generator_param_bounds(spec)
    if spec.kind == "int":
        return int(st.number_input(spec.label, min_value=int(spec.minimum), max_value=int(maximum),
                                   step=1, key=key, **unless_set(key, value=int(spec.default)),
                                   persist_state="session"))
    step = 0.001 if maximum <= 1 else 0.01
    return float(st.number_input(spec.label, min_value=float(spec.minimum), max_value=float(maximum),
                                 step=step, format="%.4g", key=key,
                                 **unless_set(key, value=float(spec.default)), persist_state="session"))


def _generator_source(prefix: str) -> MatrixSource:
    """Generator choice, its settings, seed and added noise."""
    names = list(sources.GENERATORS)
    name = st.selectbox("Generator", names, format_func=lambda n: sources.GENERATORS[n].label,
                        key=f"{prefix}_generator",
                        **unless_set(f"{prefix}_generator", index=names.index("notebook")),
                        persist_state="session")
    spec = sources.GENERATORS[name]
    st.caption(spec.description)
    widgets = [*spec.params]
    columns = st.columns(max(len(widgets) + int(spec.seeded) + 1, 1))
    params: list[tuple[str, int | float]] = []
    for column, param in zip(columns, widgets, strict=False):
        with column:
            params.append((param.name, _param_widget(param, key=f"{prefix}_gen_{name}_{param.name}")))
    extra = columns[len(widgets):]
    if spec.seeded:
        with extra[0]:
            seed = st.number_input("Seed", min_value=0, max_value=MAX_SEED, step=1, key=f"{prefix}_seed",
                                   **unless_set(f"{prefix}_seed", value=0), persist_state="session")
        params.append(("seed", int(seed)))
    own_noise = any(p.name == "noise_sigma" for p in spec.params)
    with extra[-1]:
        noise = st.number_input("Added noise σ", min_value=0.0, max_value=NOISE_MAX, step=0.001,
                                format="%.4g", key=f"{prefix}_noise",
                                help="Adds seeded Gaussian noise N(0, σ²) to every entry, on top of any "
                                     "generator (from seed + 1, independent of the generator's own draws).",
                                **unless_set(f"{prefix}_noise", value=0.0), persist_state="session")
    if own_noise:
        st.caption("Two noise settings: the generator's own “noise standard deviation” is part of its recipe "
                   "(signal + noise, one seed); “Added noise σ” is the page's, added to any matrix. They are "
                   "independent, so their variances add: σ² = σ_generator² + σ_added², the σ the optimal "
                   "hard threshold is given as known.")
    return MatrixSource("generator", generator=name, params=tuple(params), noise_sigma=float(noise))


def _upload_source(prefix: str) -> MatrixSource | None:
    """A file uploader; None until a file is chosen."""
    upload = kept_upload(f"{prefix}_upload", lambda: st.file_uploader(
        "Upload a matrix (CSV, TSV, text, .npy, .npz or .pt)", type=list(MATRIX_UPLOAD_TYPES),
        key=f"{prefix}_upload", max_upload_size=MAX_UPLOAD_MB,
        help=f"At most {MAX_UPLOAD_MB} MB and {MAX_MATRIX_ENTRIES:,} entries. Files are never unpickled.",
    ))
    if upload is None:
        st.info("Choose a file to start, or switch the source above.")
        return None
    st.text(f"File: {upload.name}" + (" (kept from before)" if upload.from_before else ""))  # never markdown
    return MatrixSource("upload", name=upload.name, data=upload.data)


def _paste_into_grid(prefix: str) -> None:
    """Callback: parse the pasted text and make it the grid's content (or remember the error)."""
    text = st.session_state.get(f"{prefix}_paste", "") or ""
    st.session_state[f"{prefix}_paste_error"] = None
    try:
        if len(text) > MAX_PASTE_CHARS:
            raise TooLargeError(
                f"Pasted text is limited to {MAX_PASTE_CHARS:,} characters; got {len(text):,}."
            )
        loaded = sources.load_matrix(text, name="pasted.txt", max_entries=MAX_GRID_SIDE**2)
        values = loaded.values.double().numpy()
        grid_source(values)  # checks the 30 x 30 limit
    except LowRankError as err:
        st.session_state[f"{prefix}_paste_error"] = str(err)
        return
    st.session_state[f"{prefix}_grid_base"] = values.tolist()
    st.session_state[f"{prefix}_grid_version"] = st.session_state.get(f"{prefix}_grid_version", 0) + 1


def _grid_source(prefix: str) -> MatrixSource:
    """An editable grid (up to 30 × 30) with a paste box that refills it."""
    base = st.session_state.setdefault(f"{prefix}_grid_base", sources.notebook_2x3().tolist())
    version = st.session_state.get(f"{prefix}_grid_version", 0)
    frame = np.asarray(base, dtype=np.float64)
    st.caption(f"Edit the cells (add rows with +, at most {MAX_GRID_SIDE} × {MAX_GRID_SIDE}); paste below to "
               "change the number of columns.")
    edited = st.data_editor(
        pd.DataFrame(frame, columns=[str(j) for j in range(frame.shape[1])]),
        num_rows="dynamic", key=f"{prefix}_grid_{version}",
    )
    with st.expander("Paste a matrix", expanded=False):
        st.text_area("Rows on lines; values separated by commas, tabs, semicolons or spaces",
                     key=f"{prefix}_paste", max_chars=MAX_PASTE_CHARS, height=120, persist_state="session")
        st.button("Put it in the grid", key=f"{prefix}_paste_apply", on_click=_paste_into_grid,
                  args=(prefix,))
        error = st.session_state.get(f"{prefix}_paste_error")
        if error:
            st.error(escape_markdown(error))
    values = pd.DataFrame(edited).apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    return grid_source(values)


def matrix_source_picker(prefix: str = "matrix") -> MatrixSource | None:
    """Draw the source controls; return the chosen source (None while no file is uploaded).

    Raises ``InputError`` for a grid that cannot be used (too large, empty).
    """
    kind = st.segmented_control("Source", list(SOURCE_KINDS), required=True, format_func=SOURCE_KINDS.get,
                                key=f"{prefix}_source", **unless_set(f"{prefix}_source", default="generator"),
                                persist_state="session")
    if kind == "upload":
        return _upload_source(prefix)
    if kind == "grid":
        return _grid_source(prefix)
    return _generator_source(prefix)


def rank_rule_picker(prefix: str, *, known_noise_sigma: float | None) -> RankRule:
    """Rule selector (+ its setting). "fixed" leaves the rank to the slider."""
    name = st.segmented_control("Rank rule", list(RANK_RULES), required=True, format_func=RANK_RULES.get,
                                key=f"{prefix}_rule", **unless_set(f"{prefix}_rule", default="fixed"),
                                persist_state="session")
    if name == "energy":
        percent = st.number_input("Energy to keep (%)", min_value=1.0, max_value=100.0, step=0.1,
                                  format="%.3f", key=f"{prefix}_energy",
                                  **unless_set(f"{prefix}_energy", value=99.0), persist_state="session")
        return RankRule("energy", energy_percent=float(percent))
    if name == "oht":
        options = ["estimate"] if known_noise_sigma is None else ["known", "estimate"]
        labels = {"known": f"known: σ = {known_noise_sigma:.4g} (from the generator)" if known_noise_sigma
                  else "known", "estimate": "estimated from the median singular value"}
        if st.session_state.get(f"{prefix}_sigma", options[0]) not in options:  # e.g. "known" from a link
            st.session_state[f"{prefix}_sigma"] = options[0]
        choice = st.radio("Noise σ", options, format_func=labels.get, horizontal=True, key=f"{prefix}_sigma",
                          persist_state="session")
        return RankRule("oht", noise_sigma=known_noise_sigma if choice == "known" else None)
    return RankRule(name)


def reset_generator_settings(generator: str, prefix: str = "matrix") -> None:
    """Forget a generator's settings, seed and added noise (its widgets then start at their defaults)."""
    spec = sources.GENERATORS[generator]
    for key in [f"{prefix}_gen_{generator}_{p.name}" for p in spec.params] + [f"{prefix}_seed",
                                                                               f"{prefix}_noise"]:
        st.session_state.pop(key, None)
