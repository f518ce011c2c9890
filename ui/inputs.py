"""Widgets that return plain values, and the small pure helpers behind them.

- ``MatrixSource`` says where the matrix page's matrix comes from (a generator with its settings, an
  uploaded file, or the editable grid); ``build_matrix`` turns it into a ``LoadedMatrix`` through
  ``lowrank_core.sources`` (no cache here: ``ui.cache`` wraps it).
- ``matrix_source_picker`` draws the source controls and returns a ``MatrixSource``.
- ``RankRule`` / ``rank_rule_picker`` / ``apply_rank_rule``: which rule sets the rank, and the rank it gives.
- ``escape_markdown`` for any text that comes from the user (file names, cells, loader messages quoting them).
"""

from __future__ import annotations

import hashlib
import math
import string
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import streamlit as st
import torch

from lowrank_core import (
    Factorization,
    InputError,
    LowRankError,
    TooLargeError,
    numerical_rank,
    numerical_tolerance,
    optimal_hard_threshold_rank,
    rank_for_energy,
    sources,
)

__all__ = [
    "UPLOAD_TYPES",
    "MAX_UPLOAD_MB",
    "MAX_MATRIX_ENTRIES",
    "MAX_MATRIX_SIDE",
    "MAX_GRID_SIDE",
    "NOISE_MAX",
    "MAX_SEED",
    "SOURCE_KINDS",
    "RANK_RULES",
    "escape_markdown",
    "MatrixSource",
    "add_noise",
    "generator_param_bounds",
    "build_matrix",
    "grid_source",
    "matrix_source_picker",
    "RankRule",
    "RuleOutcome",
    "rank_rule_picker",
    "apply_rank_rule",
    "clamp_state",
    "unless_set",
    "apply_matrix_link",
    "reset_generator_settings",
]

UPLOAD_TYPES = ["csv", "tsv", "txt", "npy", "npz", "pt"]
MAX_UPLOAD_MB = 25
MAX_MATRIX_ENTRIES = 1_000_000  # uploads: 1000 x 1000 at most (the SVD then takes a few seconds on 2 cores)
MAX_MATRIX_SIDE = 1000  # generator sides, below the core's MAX_GENERATED_SIDE, for the same reason
MAX_GRID_SIDE = 30
MAX_PASTE_CHARS = 40_000
NOISE_MAX = 1.0
MAX_SEED = 2**31 - 1
NOISE_SEED_OFFSET = 1  # the added noise draws from seed + 1, so it is independent of the generator's stream

_MARKDOWN_SPECIAL = set(string.punctuation)


def escape_markdown(text: str) -> str:
    """Backslash-escape every ASCII punctuation mark, so user text shows literally in st.error/st.info.

    CommonMark lets any ASCII punctuation be escaped; this also defuses Streamlit's ``:colour[...]`` and
    ``$...$`` syntax. Line breaks are kept.
    """
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in str(text))


# ================================================================================================ source


@dataclass(frozen=True)
class MatrixSource:
    """Where the matrix comes from. ``key`` is small and hashable (a digest stands for the bytes).

    Attributes
    ----------
    kind : {"generator", "upload", "grid"}
    generator : str
        A key of ``sources.GENERATORS`` (kind "generator").
    params : tuple of (name, value)
        The generator's settings, ``seed`` included for a seeded generator.
    noise_sigma : float
        Standard deviation of the Gaussian noise added to a generated matrix (0: none).
    name : str
        The uploaded file's name (kind "upload").
    data : bytes
        The uploaded file, or the grid's float32 values (kind "grid"); not part of ``key``.
    shape : tuple of int
        The grid's shape (kind "grid").
    """

    kind: str
    generator: str = ""
    params: tuple[tuple[str, int | float], ...] = ()
    noise_sigma: float = 0.0
    name: str = ""
    data: bytes = field(default=b"", repr=False, compare=False)
    shape: tuple[int, ...] = ()

    @property
    def digest(self) -> str:
        """SHA-256 of ``data`` (empty string when there is none)."""
        return hashlib.sha256(self.data).hexdigest() if self.data else ""

    @property
    def key(self) -> tuple:
        """Everything that determines the matrix, hashable and small: the cache key."""
        return (self.kind, self.generator, self.params, float(self.noise_sigma), self.name, self.digest,
                self.shape)

    @property
    def seed(self) -> int:
        """The generator's seed (0 when it has none)."""
        return int(dict(self.params).get("seed", 0))

    @property
    def known_noise_sigma(self) -> float | None:
        """The noise level of a generated matrix when it is known (> 0), else None.

        The generator's own ``noise_sigma`` setting and the added noise are independent Gaussians, so their
        variances add.
        """
        if self.kind != "generator":
            return None
        own = float(dict(self.params).get("noise_sigma", 0.0))
        total = math.hypot(own, float(self.noise_sigma))
        return total if total > 0 else None


def add_noise(x: torch.Tensor, sigma: float, *, seed: int) -> torch.Tensor:
    """``x + sigma * G`` with G iid standard normal from a local generator seeded with ``seed``."""
    if sigma == 0:
        return x
    generator = torch.Generator().manual_seed(int(seed))
    noise = torch.randn(x.shape, generator=generator, dtype=torch.float64)  # (m, n)
    return (x.double() + sigma * noise).to(torch.float32)


def build_matrix(source: MatrixSource) -> sources.LoadedMatrix:
    """The matrix a source describes, through ``lowrank_core.sources``; raises ``InputError`` on bad input."""
    if source.kind == "generator":
        values = sources.generate(source.generator, **dict(source.params))
        if not 0.0 <= source.noise_sigma <= NOISE_MAX:
            raise InputError(f"noise σ must be between 0 and {NOISE_MAX:g}; got {source.noise_sigma:g}.")
        values = add_noise(values, source.noise_sigma, seed=source.seed + NOISE_SEED_OFFSET)
        return sources.LoadedMatrix(values, (), "generator")
    if source.kind == "upload":
        if len(source.data) > MAX_UPLOAD_MB * 1_000_000:
            raise TooLargeError(f"The file is larger than {MAX_UPLOAD_MB} MB.")
        return sources.load_matrix(source.data, name=source.name, max_entries=MAX_MATRIX_ENTRIES)
    if source.kind == "grid":
        values = np.frombuffer(source.data, dtype=np.float64).reshape(source.shape)
        text = "\n".join(",".join(repr(float(v)) for v in row) for row in values)
        loaded = sources.load_matrix(text, name="grid.csv", max_entries=MAX_GRID_SIDE**2)
        return sources.LoadedMatrix(loaded.values, (), "grid")
    raise InputError(f"unknown matrix source {source.kind!r}")


def grid_source(values: np.ndarray) -> MatrixSource:
    """A grid source from the editor's values (float64, NaN for empty cells); checks the 30 × 30 limit."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.size == 0:
        raise InputError("The grid is empty; type at least one number.")
    m, n = values.shape
    if m > MAX_GRID_SIDE or n > MAX_GRID_SIDE:
        raise TooLargeError(
            f"The grid holds at most {MAX_GRID_SIDE} × {MAX_GRID_SIDE} values; got {m} × {n}."
        )
    return MatrixSource("grid", data=np.ascontiguousarray(values).tobytes(), shape=(m, n))


def generator_param_bounds(spec: sources.ParamSpec) -> tuple[int | float, int | float]:
    """(minimum, maximum) the page allows for a generator's setting: sizes capped at MAX_MATRIX_SIDE."""
    maximum = spec.maximum
    if spec.kind == "int" and spec.name in ("m", "n", "k", "rank"):
        maximum = min(maximum, MAX_MATRIX_SIDE)
    if spec.kind == "int":
        return int(spec.minimum), int(maximum)
    return float(spec.minimum), float(maximum)


def unless_set(key: str, **default) -> dict:
    """``default`` as keyword arguments, or nothing when ``key`` already holds a value (set by a link or
    left by the widget; with no ``default``, only the latter's write-back below).

    A widget given both a default and a value in st.session_state logs a warning; this passes only one.
    A value the widget itself left behind is written back through st.session_state first: Streamlit keeps
    a widget's value in st.session_state for a run that does not draw the widget, but a widget drawn again
    without its default would ignore that value and start from its first option. An example is the image
    page, which stops while it waits for an upload, after which the precision came back as float32 instead
    of float16.
    """
    if key not in st.session_state:
        return default
    st.session_state[key] = st.session_state[key]  # a session value that the widget honours
    return {}


def _param_widget(spec: sources.ParamSpec, key: str):
    """A number input built from a generator's ParamSpec (sides capped at MAX_MATRIX_SIDE)."""
    _, maximum = generator_param_bounds(spec)
    if spec.kind == "int":
        return int(st.number_input(spec.label, min_value=int(spec.minimum), max_value=int(maximum),
                                   step=1, key=key, **unless_set(key, value=int(spec.default))))
    step = 0.001 if maximum <= 1 else 0.01
    return float(st.number_input(spec.label, min_value=float(spec.minimum), max_value=float(maximum),
                                 step=step, format="%.4g", key=key,
                                 **unless_set(key, value=float(spec.default))))


def _generator_source(prefix: str) -> MatrixSource:
    """Generator choice, its settings, seed and added noise."""
    names = list(sources.GENERATORS)
    name = st.selectbox("Generator", names, format_func=lambda n: sources.GENERATORS[n].label,
                        key=f"{prefix}_generator",
                        **unless_set(f"{prefix}_generator", index=names.index("notebook")))
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
                                   **unless_set(f"{prefix}_seed", value=0))
        params.append(("seed", int(seed)))
    with extra[-1]:
        noise = st.number_input("Added noise σ", min_value=0.0, max_value=NOISE_MAX, step=0.001,
                                format="%.4g", key=f"{prefix}_noise",
                                help="Adds seeded Gaussian noise N(0, σ²) to every entry.",
                                **unless_set(f"{prefix}_noise", value=0.0))
    return MatrixSource("generator", generator=name, params=tuple(params), noise_sigma=float(noise))


def _upload_source(prefix: str) -> MatrixSource | None:
    """A file uploader; None until a file is chosen."""
    upload = st.file_uploader(
        "Upload a matrix (CSV, TSV, text, .npy, .npz or .pt)", type=UPLOAD_TYPES, key=f"{prefix}_upload",
        max_upload_size=MAX_UPLOAD_MB,
        help=f"At most {MAX_UPLOAD_MB} MB and {MAX_MATRIX_ENTRIES:,} entries. Files are never unpickled.",
    )
    if upload is None:
        st.info("Choose a file to start, or switch the source above.")
        return None
    st.text(f"File: {upload.name}")  # plain text: a file name is never rendered as markdown
    return MatrixSource("upload", name=upload.name, data=upload.getvalue())


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
                     key=f"{prefix}_paste", max_chars=MAX_PASTE_CHARS, height=120)
        st.button("Put it in the grid", key=f"{prefix}_paste_apply", on_click=_paste_into_grid,
                  args=(prefix,))
        error = st.session_state.get(f"{prefix}_paste_error")
        if error:
            st.error(escape_markdown(error))
    values = pd.DataFrame(edited).apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    return grid_source(values)


SOURCE_KINDS = {"generator": "Generator", "upload": "Upload a file", "grid": "Type or paste"}


def matrix_source_picker(prefix: str = "matrix") -> MatrixSource | None:
    """Draw the source controls; return the chosen source (None while no file is uploaded).

    Raises ``InputError`` for a grid that cannot be used (too large, empty).
    """
    kind = st.segmented_control("Source", list(SOURCE_KINDS), required=True, format_func=SOURCE_KINDS.get,
                                key=f"{prefix}_source", **unless_set(f"{prefix}_source", default="generator"))
    if kind == "upload":
        return _upload_source(prefix)
    if kind == "grid":
        return _grid_source(prefix)
    return _generator_source(prefix)


# ============================================================================================ rank rules

RANK_RULES = {
    "fixed": "Fixed (the slider)",
    "energy": "Energy %",
    "tolerance": "Numerical tolerance",
    "oht": "Optimal hard threshold",
}


@dataclass(frozen=True)
class RankRule:
    """The chosen rank rule and its setting.

    Attributes
    ----------
    name : {"fixed", "energy", "tolerance", "oht"}
    energy_percent : float
        Target share of ‖W‖_F² for "energy".
    noise_sigma : float or None
        σ for "oht" when the noise is known; None to estimate it from the median singular value.
    """

    name: str = "fixed"
    energy_percent: float = 99.0
    noise_sigma: float | None = None


@dataclass(frozen=True)
class RuleOutcome:
    """What a rule chose: the rank and one sentence saying why."""

    rank: int
    explanation: str


def rank_rule_picker(prefix: str, *, known_noise_sigma: float | None) -> RankRule:
    """Rule selector (+ its setting). "fixed" leaves the rank to the slider."""
    name = st.segmented_control("Rank rule", list(RANK_RULES), required=True, format_func=RANK_RULES.get,
                                key=f"{prefix}_rule", **unless_set(f"{prefix}_rule", default="fixed"))
    if name == "energy":
        percent = st.number_input("Energy to keep (%)", min_value=1.0, max_value=100.0, step=0.1,
                                  format="%.3f", key=f"{prefix}_energy",
                                  **unless_set(f"{prefix}_energy", value=99.0))
        return RankRule("energy", energy_percent=float(percent))
    if name == "oht":
        options = ["estimate"] if known_noise_sigma is None else ["known", "estimate"]
        labels = {"known": f"known: σ = {known_noise_sigma:.4g} (from the generator)" if known_noise_sigma
                  else "known", "estimate": "estimated from the median singular value"}
        if st.session_state.get(f"{prefix}_sigma", options[0]) not in options:  # e.g. "known" from a link
            st.session_state[f"{prefix}_sigma"] = options[0]
        choice = st.radio("Noise σ", options, format_func=labels.get, horizontal=True, key=f"{prefix}_sigma")
        return RankRule("oht", noise_sigma=known_noise_sigma if choice == "known" else None)
    return RankRule(name)


def apply_rank_rule(rule: RankRule, factorization: Factorization, *, slider_rank: int) -> RuleOutcome:
    """The rank a rule picks from the singular values (core calls only); "fixed" returns ``slider_rank``."""
    S, shape = factorization.S, factorization.shape
    if rule.name == "energy":
        rank = rank_for_energy(S, rule.energy_percent / 100, total_energy=factorization.total_energy)
        return RuleOutcome(rank, "Energy rule: the smallest rank keeping "
                                 f"≥ {rule.energy_percent:g} % of ‖W‖²_F is {rank}.")
    if rule.name == "tolerance":
        rank = numerical_rank(S, shape)
        tol = float(numerical_tolerance(S, shape))
        return RuleOutcome(rank, f"Numerical tolerance: {rank} singular values exceed "
                                 f"ε·max(m, n)·σ₁ = {tol:.3e}.")
    if rule.name == "oht":
        result = optimal_hard_threshold_rank(S, shape, noise_sigma=rule.noise_sigma)
        how = (f"known σ = {result.noise_sigma:.4g}" if result.noise_known
               else f"σ estimated as {result.noise_sigma:.4g} from the median singular value")
        return RuleOutcome(result.rank, f"Optimal hard threshold ({how}): τ = {result.threshold:.4g} keeps "
                                        f"{result.rank} singular values.")
    return RuleOutcome(int(slider_rank), f"Fixed: the slider's rank {int(slider_rank)}.")


def clamp_state(key: str, low: int, high: int, default: int) -> int:
    """Keep ``st.session_state[key]`` an int in [low, high]; ``default`` when missing or out of range."""
    value = st.session_state.get(key)
    if not isinstance(value, int) or not low <= value <= high:
        value = min(max(int(default), low), high)
        st.session_state[key] = value
    return value


# ================================================================================================ links

LINK_UPLOAD_NOTICE = ("This link was made from an uploaded file, which cannot travel in a link: upload the "
                      "same file here and the link's rank and rule apply to it.")
LINK_GRID_NOTICE = ("This link was made from typed values, which do not travel in a link: the grid starts "
                    "anew.")


def apply_matrix_link(params, prefix: str = "matrix") -> list[str]:
    """Put what an opened link asks for into the matrix page's widget state; return the notices.

    Parsing and checks are ``ui.workshop.parse_matrix_link`` (pure). The rank is kept as the link's text
    in ``<prefix>_link_rank`` until the matrix is known (its largest rank bounds it).
    """
    from ui.workshop import parse_matrix_link

    parsed = parse_matrix_link(params)
    values, notices = parsed.values, list(parsed.notices)
    state = st.session_state
    kind = values.get("src", "generator")
    state[f"{prefix}_source"] = kind
    generator = values.get("gen", "notebook")
    state[f"{prefix}_generator"] = generator
    for name, value in values.get("settings", {}).items():
        state[f"{prefix}_gen_{generator}_{name}"] = value
    for name in ("seed", "noise", "rule", "energy", "sigma", "log"):
        if name in values:
            state[f"{prefix}_{name}"] = values[name]
    if "rank" in params:
        raw = params["rank"]
        state[f"{prefix}_link_rank"] = raw if isinstance(raw, str) else (list(raw) or [""])[-1]
    if kind == "upload":
        notices.append(LINK_UPLOAD_NOTICE)
    elif kind == "grid":
        notices.append(LINK_GRID_NOTICE)
    state[f"{prefix}_link_generator"] = generator if kind == "generator" else None
    return notices


def reset_generator_settings(generator: str, prefix: str = "matrix") -> None:
    """Forget a generator's settings, seed and added noise (its widgets then start at their defaults)."""
    spec = sources.GENERATORS[generator]
    for key in [f"{prefix}_gen_{generator}_{p.name}" for p in spec.params] + [f"{prefix}_seed",
                                                                               f"{prefix}_noise"]:
        st.session_state.pop(key, None)
