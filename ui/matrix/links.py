"""The matrix explorer's address: which query fields it has, how a link is read into the widgets' state,
and how a view is written back.

Pure: ``matrix_source_fields`` / ``parse_matrix_link`` / ``matrix_link_params``. Streamlit:
``apply_matrix_link`` (a link's settings into the widget state) and ``apply_linked_rank`` (its rank, once
the matrix is known).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import streamlit as st

from lowrank_core import sources
from ui.limits import MAX_SEED, NOISE_MAX
from ui.links import (
    PRESENT_KEY,
    ParsedParams,
    UrlField,
    encode_params,
    parse_params,
    rank_field,
    single_value,
)
from ui.matrix.rules import RANK_RULES
from ui.matrix.source import SOURCE_KINDS, generator_param_bounds

__all__ = [
    "MATRIX_PAGE_PARAMS",
    "SIGMA_CHOICES",
    "LINK_UPLOAD_NOTICE",
    "LINK_GRID_NOTICE",
    "generator_query_name",
    "matrix_source_fields",
    "parse_matrix_link",
    "matrix_link_params",
    "apply_matrix_link",
    "apply_linked_rank",
]

MATRIX_PAGE_PARAMS = ("src", "gen", "seed", "noise", "rule", "energy", "sigma", "rank", "log", PRESENT_KEY)
SIGMA_CHOICES = ("known", "estimate")
LINK_UPLOAD_NOTICE = ("This link was made from an uploaded file, which cannot travel in a link: upload the "
                      "same file here and the link's rank and rule apply to it.")
LINK_GRID_NOTICE = ("This link was made from typed values, which do not travel in a link: the grid starts "
                    "anew.")


def generator_query_name(param: str) -> str:
    """The query name of a generator's setting: its own name, or "gen_<name>" where a page name has it."""
    return f"gen_{param}" if param in MATRIX_PAGE_PARAMS else param


def _matrix_view_fields() -> list[UrlField]:
    """Source kind, generator, rule and toggles of the matrix page (not the generator's settings)."""
    return [
        UrlField("src", "choice", "generator", choices=tuple(SOURCE_KINDS), label="source"),
        UrlField("gen", "choice", "notebook", choices=tuple(sources.GENERATORS), label="generator"),
        UrlField("rule", "choice", "fixed", choices=tuple(RANK_RULES), label="rank rule"),
        UrlField("energy", "float", 99.0, 1.0, 100.0, label="energy target (%)"),
        UrlField("sigma", "choice", SIGMA_CHOICES[0], choices=SIGMA_CHOICES, label="noise σ choice"),
        UrlField("log", "bool", True, label="logarithmic scale"),
    ]


def matrix_source_fields(generator: str) -> list[UrlField]:
    """The generator's settings (with the page's limits), its seed when it has one, and the added noise."""
    spec = sources.GENERATORS[generator]
    fields = []
    for param in spec.params:
        low, high = generator_param_bounds(param)
        default = int(param.default) if param.kind == "int" else float(param.default)
        fields.append(UrlField(generator_query_name(param.name), param.kind, default, low, high,
                               label=f"{param.name} ({generator})"))
    if spec.seeded:
        fields.append(UrlField("seed", "int", 0, 0, MAX_SEED, label="seed"))
    fields.append(UrlField("noise", "float", 0.0, 0.0, NOISE_MAX, label="added noise σ"))
    return fields


def parse_matrix_link(params: Mapping[str, str]) -> ParsedParams:
    """What a matrix-page link asks for, except the rank (checked later against the matrix's size).

    ``values`` may hold "src", "gen", "rule", "energy", "sigma", "log", "seed", "noise" and "settings" (a
    dict of the generator's settings by their own names, e.g. noisy-low-rank's signal "rank").
    """
    first = parse_params(_matrix_view_fields(), params)
    generator = first.values.get("gen", "notebook")
    fields = matrix_source_fields(generator)
    second = parse_params(fields, params)
    values = dict(first.values)
    settings = {}
    for field in fields:
        if field.name not in second.values:
            continue
        if field.name in ("seed", "noise"):
            values[field.name] = second.values[field.name]
        else:
            own_name = field.name[4:] if field.name.startswith("gen_") else field.name
            settings[own_name] = second.values[field.name]
    if settings:
        values["settings"] = settings
    return ParsedParams(values, first.notices + second.notices)


def matrix_link_params(*, source_kind: str, generator: str, settings: Iterable[tuple[str, int | float]],
                       noise: float, rule: str, energy: float, sigma: str, rank: int, default_rank: int,
                       log: bool) -> dict[str, str]:
    """The query parameters of a matrix-page view (defaults left out).

    ``settings`` are the generator's (name, value) pairs, seed included (``MatrixSource.params``). The rank
    is written only for the "fixed" rule (other rules compute it), the energy target only for "energy" and
    the σ choice only for "oht". A file or a typed grid cannot travel: only ``src`` says where it came from.
    """
    fields = {f.name: f for f in _matrix_view_fields()}
    out = encode_params([fields["src"]], {"src": source_kind})
    if source_kind == "generator":
        out.update(encode_params([fields["gen"]], {"gen": generator}))
        source_fields = matrix_source_fields(generator)
        values = {generator_query_name(name) if name != "seed" else name: value for name, value in settings}
        values["noise"] = noise
        out.update(encode_params(source_fields, values))
    out.update(encode_params([fields["rule"]], {"rule": rule}))
    if rule == "energy":
        out.update(encode_params([fields["energy"]], {"energy": energy}))
    if rule == "oht":
        out.update(encode_params([fields["sigma"]], {"sigma": sigma}))
    if rule == "fixed":
        out.update(encode_params([rank_field(max(rank, default_rank), default_rank)], {"rank": rank}))
    out.update(encode_params([fields["log"]], {"log": log}))
    return out


def apply_matrix_link(params, prefix: str = "matrix") -> list[str]:
    """Put what an opened link asks for into the matrix page's widget state; return the notices.

    The rank is kept as the link's text in ``<prefix>_link_rank`` until the matrix is known (its largest
    rank bounds it): ``apply_linked_rank``.
    """
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
        state[f"{prefix}_link_rank"] = single_value(params["rank"])
    if kind == "upload":
        notices.append(LINK_UPLOAD_NOTICE)
    elif kind == "grid":
        notices.append(LINK_GRID_NOTICE)
    state[f"{prefix}_link_generator"] = generator if kind == "generator" else None
    return notices


def apply_linked_rank(max_rank: int, default: int, prefix: str = "matrix", *, low: int = 0) -> list[str]:
    """The link's rank (kept by ``apply_matrix_link``), checked now that the largest rank is known, into
    ``<prefix>_rank``; returns its notice, if any."""
    linked = st.session_state.pop(f"{prefix}_link_rank", None)
    if linked is None:
        return []
    value, notice = rank_field(max_rank, default, low=low).parse(linked)
    st.session_state[f"{prefix}_rank"] = int(value)
    return [notice] if notice else []
