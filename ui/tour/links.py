"""The tour's address: m, n, the seed, k (bounded by m and n) and the lower rank of step 7."""

from __future__ import annotations

from collections.abc import Mapping

from ui.limits import MAX_SEED, TOUR_MAX_SIDE
from ui.links import ParsedParams, UrlField, encode_params, parse_params, rank_field

__all__ = ["tour_size_fields", "tour_inner_fields", "parse_tour_link", "tour_link_params"]


def tour_size_fields(max_side: int = TOUR_MAX_SIDE) -> list[UrlField]:
    """m, n and the seed of the tour (k and the rank depend on m and n: ``tour_inner_fields``)."""
    return [UrlField("m", "int", 15, 1, max_side, label="m (rows)"),
            UrlField("n", "int", 15, 1, max_side, label="n (columns)"),
            UrlField("seed", "int", 0, 0, MAX_SEED, label="seed")]


def tour_inner_fields(m: int, n: int) -> list[UrlField]:
    """k (1..min(m, n), default 4 or less) of the tour's matrix."""
    return [UrlField("k", "int", min(4, m, n), 1, min(m, n), label="k (inner size)")]


def parse_tour_link(params: Mapping[str, str]) -> ParsedParams:
    """What a tour link asks for: "m", "n", "seed" and "k" (bounded by the linked m and n); not the rank."""
    first = parse_params(tour_size_fields(), params)
    m, n = int(first.values.get("m", 15)), int(first.values.get("n", 15))
    second = parse_params(tour_inner_fields(m, n), params)
    return ParsedParams({**first.values, **second.values}, first.notices + second.notices)


def tour_link_params(*, m: int, n: int, k: int, seed: int, rank: int) -> dict[str, str]:
    """The query parameters of a tour view (defaults left out; the rank's default is k)."""
    out = encode_params(tour_size_fields(), {"m": m, "n": n, "seed": seed})
    out.update(encode_params(tour_inner_fields(m, n), {"k": k}))
    out.update(encode_params([rank_field(min(m, n), k, low=1)], {"rank": rank}))
    order = ("m", "n", "k", "seed", "rank")
    return {name: out[name] for name in order if name in out}
