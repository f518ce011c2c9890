"""Workshop mode: links that reopen a view, the presenter's layout, rank sweeps, GIF/PNG/HTML exports.

Pure parts (no Streamlit; unit-tested on their own):

- ``UrlField`` / ``parse_params`` / ``encode_params``: a page's state <-> its query parameters. A bad or
  stale value (text where a number goes, a rank too high, an unknown name) falls back to the default with a
  one-line notice; a missing one leaves the page's state alone.
- ``colour_map`` / ``heatmap_image`` / ``spectrum_strip`` / ``sweep_frame`` / ``gif_bytes``: pictures made
  with numpy + Pillow (no plotly, no browser), for the sweep GIF and the HTML summary.
- ``sweep_ranks``: the ranks a sweep shows (at most ``MAX_SWEEP_FRAMES``).
- ``summary_html``: a one-page HTML summary, every piece of text escaped with ``html.escape``.
- ``figure_png`` / ``kaleido_problem``: plotly's static export through kaleido, and why it is unavailable.

Streamlit parts (thin): ``incoming_params`` / ``sync_url`` / ``share_box`` (the address bar),
``presenter_toggle`` / ``is_presenting`` / ``presenter_figure`` (the projector layout), ``notice_box``,
``chart_png_exports`` and ``html_summary_button``.

How the address is kept: at the start of its run a page asks ``incoming_params`` whether the query
parameters differ from those this session last wrote or saw; when they do, the link came from outside (a
fresh load of a shared link, a typed address) and the page applies them. At the end of a run the page
writes its state back with ``sync_url``, leaving out the values that equal their defaults, so a default
view keeps a clean address. ``present`` belongs to the sidebar's presenter toggle and is kept separately.
"""

from __future__ import annotations

import html
import importlib.util
import io
import math
import re
import shutil
from base64 import b64encode
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "MAX_SWEEP_FRAMES",
    "MAX_FRAME_SIDE",
    "MAX_PARAM_CHARS",
    "SWEEP_FRAME_SECONDS",
    "PRESENT_KEY",
    "PRESENTER_CSS",
    "UrlField",
    "ParsedParams",
    "parse_params",
    "encode_params",
    "share_link",
    "MATRIX_PAGE_PARAMS",
    "generator_query_name",
    "matrix_source_fields",
    "parse_matrix_link",
    "matrix_link_params",
    "rank_field",
    "tour_size_fields",
    "tour_inner_fields",
    "tour_link_params",
    "parse_image_link",
    "image_rank_fields",
    "image_link_params",
    "image_sweep_frames",
    "LAYER_SECTIONS",
    "layer_fields",
    "layer_link_params",
    "QUIZ_RANK_SCHEDULE",
    "quiz_schedule",
    "quiz_photo",
    "quiz_fields",
    "parse_tour_link",
    "colour_map",
    "heatmap_image",
    "spectrum_strip",
    "panels_image",
    "sweep_frame",
    "sweep_ranks",
    "gif_bytes",
    "matrix_sweep_frames",
    "png_bytes",
    "png_data_url",
    "summary_html",
    "kaleido_problem",
    "figure_png",
    "ExportUnavailable",
    "incoming_params",
    "ensure_navigation",
    "sync_url",
    "share_box",
    "notice_box",
    "is_presenting",
    "presenter_toggle",
    "presenter_figure",
    "presenter_layout",
    "sync_present_param",
    "chart_png_exports",
    "html_summary_button",
]

MAX_SWEEP_FRAMES = 60  # a sweep shows (and a GIF holds) at most this many ranks
MAX_FRAME_SIDE = 512  # a GIF frame is at most this many pixels wide and high
SWEEP_FRAME_SECONDS = 0.2  # pause between two frames of a sweep on the page
GIF_FRAME_MS = 250  # duration of one GIF frame
MAX_PARAM_CHARS = 64  # a query value longer than this is refused without being parsed
PRESENT_KEY = "present"  # the presenter toggle's key and query parameter
PRESENTER_FONT_SIZE = 22  # chart text in the presenter view (15 otherwise)
_KNOWN_URLS = "_workshop_known_urls"
_REMEMBERED_URLS = 16
_PRESENT_SEEN = "_workshop_present_seen"

# ColorBrewer RdBu, blue (negative) -> white -> red (positive): plotly's "RdBu_r", used by ui.figures.
_RDBU_R = np.array([
    (5, 48, 97), (33, 102, 172), (67, 147, 195), (146, 197, 222), (209, 229, 240), (247, 247, 247),
    (253, 219, 199), (244, 165, 130), (214, 96, 77), (178, 24, 43), (103, 0, 31),
], dtype=np.float64)
_LUT_SIZE = 257  # odd: 0 falls exactly on the white middle entry
_LUT = np.stack([np.interp(np.linspace(0, 1, _LUT_SIZE), np.linspace(0, 1, len(_RDBU_R)), _RDBU_R[:, c])
                 for c in range(3)], axis=1).round().astype(np.uint8)  # (257, 3)
NAN_COLOUR = (128, 128, 128)
KEPT_RGB = (31, 95, 191)  # ui.figures.KEPT_COLOUR
DROPPED_RGB = (184, 191, 204)  # ui.figures.DROPPED_COLOUR


# ============================================================================================ URL state


def _shown(raw: str) -> str:
    """A query value as a notice quotes it: at most 20 characters."""
    return raw if len(raw) <= 20 else raw[:19] + "…"


def _format_number(value: float) -> str:
    """A number as the notices and the address show it: whole numbers without a decimal point."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


@dataclass(frozen=True)
class UrlField:
    """One piece of a page's state as a query parameter.

    Attributes
    ----------
    name : str
        The query parameter ("rank", "seed", ...).
    kind : {"int", "float", "choice", "bool"}
    default : int, float, str or bool
        The value the page uses when the parameter is missing or unusable; left out of the address.
    low, high : float, optional
        Inclusive bounds of an "int" or "float".
    choices : tuple of str
        The accepted values of a "choice".
    label : str
        How a notice names the setting (default: ``name``).
    """

    name: str
    kind: str
    default: int | float | str | bool
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    label: str = ""

    def __post_init__(self):
        if self.kind not in ("int", "float", "choice", "bool"):
            raise ValueError(f"kind must be int, float, choice or bool; got {self.kind!r}")

    @property
    def title(self) -> str:
        """The name a notice uses."""
        return self.label or self.name

    def _fallback(self, reason: str) -> str:
        """The notice of a value that falls back to the default."""
        return f"{reason}; using {self.format(self.default)} instead."

    def parse(self, raw: str) -> tuple[int | float | str | bool, str | None]:
        """The value a query string asks for, or (default, notice) when it cannot be used."""
        text = str(raw).strip()
        if len(text) > MAX_PARAM_CHARS:
            return self.default, self._fallback(f"The {self.title} in the link is too long")
        if self.kind == "choice":
            if text in self.choices:
                return text, None
            return self.default, self._fallback(f"The link asks for an unknown {self.title} “{_shown(text)}”")
        if self.kind == "bool":
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True, None
            if lowered in ("0", "false", "no", "off"):
                return False, None
            return self.default, self._fallback(
                f"The {self.title} “{_shown(text)}” in the link is not on/off")
        if self.kind == "int":
            if not re.fullmatch(r"[+-]?\d{1,18}", text):
                return self.default, self._fallback(
                    f"The {self.title} “{_shown(text)}” in the link is not a whole number")
            value: int | float = int(text)
        else:
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                return self.default, self._fallback(
                    f"The {self.title} “{_shown(text)}” in the link is not a number")
        if self.low is not None and value < self.low:
            return self.default, self._fallback(
                f"The {self.title} {_format_number(value)} in the link is below its smallest value "
                f"{_format_number(self.low)}")
        if self.high is not None and value > self.high:
            return self.default, self._fallback(
                f"The {self.title} {_format_number(value)} in the link is above its largest value "
                f"{_format_number(self.high)}")
        return value, None

    def format(self, value) -> str:
        """A value as the query string holds it."""
        if self.kind == "bool":
            return "1" if value else "0"
        if self.kind in ("int", "float"):
            return _format_number(value)
        return str(value)

    def is_default(self, value) -> bool:
        """True when ``value`` is the default (then it stays out of the address)."""
        if self.kind == "float":
            return float(value) == float(self.default)
        return value == self.default


@dataclass(frozen=True)
class ParsedParams:
    """What a link asks for.

    Attributes
    ----------
    values : dict name -> value
        Every field present in the query string, parsed (the default where the value was unusable).
    notices : tuple of str
        One sentence per value that could not be used.
    """

    values: dict
    notices: tuple[str, ...]


def parse_params(fields: Iterable[UrlField], params: Mapping[str, str | Sequence[str]]) -> ParsedParams:
    """Parse the fields present in ``params`` (the last value of a repeated one); ignore the others."""
    values, notices = {}, []
    for field in fields:
        if field.name not in params:
            continue
        raw = params[field.name]
        if not isinstance(raw, str):
            raw = list(raw)[-1] if len(raw) else ""
        value, notice = field.parse(raw)
        values[field.name] = value
        if notice:
            notices.append(notice)
    return ParsedParams(values, tuple(notices))


def encode_params(fields: Iterable[UrlField], values: Mapping) -> dict[str, str]:
    """The query parameters of ``values``, in the fields' order, leaving out those equal to the default."""
    return {field.name: field.format(values[field.name]) for field in fields
            if field.name in values and not field.is_default(values[field.name])}


def share_link(base: str | None, path: str, params: Mapping[str, str]) -> tuple[str, bool]:
    """The link that reopens a view, and whether it is complete.

    ``base`` is the app's address with the page's path (``st.context.url``); without it the link is only
    the path and the query string (the caller says to append it to the app's address).
    """
    query = urlencode(params)
    suffix = f"?{query}" if query else ""
    if base:
        return base.split("?", 1)[0] + suffix, True
    return f"/{path.strip('/')}{suffix}", False


# ======================================================================================= page links

MATRIX_PAGE_PARAMS = ("src", "gen", "seed", "noise", "rule", "energy", "sigma", "rank", "log", PRESENT_KEY)
SIGMA_CHOICES = ("known", "estimate")


def generator_query_name(param: str) -> str:
    """The query name of a generator's setting: its own name, or "gen_<name>" where a page name has it."""
    return f"gen_{param}" if param in MATRIX_PAGE_PARAMS else param


def _matrix_view_fields() -> list[UrlField]:
    """Source kind, generator, rule and toggles of the matrix page (not the generator's settings)."""
    from lowrank_core import sources
    from ui.inputs import RANK_RULES, SOURCE_KINDS

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
    from lowrank_core import sources
    from ui.inputs import MAX_SEED, NOISE_MAX, generator_param_bounds

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


def rank_field(max_rank: int, default: int, *, low: int = 0) -> UrlField:
    """The rank as a query parameter, between ``low`` and ``max_rank``."""
    return UrlField("rank", "int", int(default), int(low), int(max_rank), label="rank")


TOUR_MAX_SIDE = 60


def tour_size_fields(max_side: int = TOUR_MAX_SIDE) -> list[UrlField]:
    """m, n and the seed of the tour (k and the rank depend on m and n: ``tour_inner_fields``)."""
    from ui.inputs import MAX_SEED

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


# =========================================================================================== image page

def _image_view_fields() -> list[UrlField]:
    """Source kind, sample, colour mode, precision, rule (with its target) and view of the image page."""
    from lowrank_core import sources

    return [
        UrlField("src", "choice", "sample", choices=("sample", "upload", "camera"), label="image source"),
        UrlField("sample", "choice", "astronaut", choices=tuple(sources.sample_names()), label="sample"),
        UrlField("mode", "choice", "rgb", choices=("rgb", "luminance", "ycbcr"), label="colour mode"),
        UrlField("dtype", "choice", "float16", choices=("float32", "float16", "int8"), label="precision"),
        UrlField("rule", "choice", "slider", choices=("slider", "energy", "psnr", "bytes"),
                 label="rank rule"),
        UrlField("energy", "float", 99.0, 1.0, 100.0, label="energy target (%)"),
        UrlField("psnr", "float", 30.0, 5.0, 90.0, label="target PSNR (dB)"),
        UrlField("view", "choice", "side", choices=("side", "swipe", "error"), label="view"),
    ]


def parse_image_link(params: Mapping[str, str]) -> ParsedParams:
    """What an image-page link asks for, except the ranks and the byte budget (they need the image)."""
    return parse_params(_image_view_fields(), params)


def image_rank_fields(max_rank: int, *, default_rank: int, default_chroma: int,
                      budget_top_kb: float, budget_default_kb: float) -> list[UrlField]:
    """The image's rank (1..max_rank), chroma rank (0..max_rank) and byte budget (KB), once it is known."""
    return [UrlField("rank", "int", int(default_rank), 1, int(max_rank), label="rank"),
            UrlField("chroma", "int", int(default_chroma), 0, int(max_rank), label="chroma rank"),
            UrlField("budget", "float", float(budget_default_kb), 0.1, float(budget_top_kb),
                     label="byte budget (KB)")]


def image_link_params(*, src: str, sample: str, mode: str, dtype: str, rule: str, ranks: Sequence[int],
                      energy: float, psnr: float, budget_kb: float, view: str,
                      rank_fields: Sequence[UrlField]) -> dict[str, str]:
    """The query parameters of an image-page view (defaults left out).

    The ranks are written for the slider rule only (a rule computes them), the chroma rank only in YCbCr
    mode, each rule's target only with its rule. An upload or a photo cannot travel: ``src`` says so.
    """
    fields = {f.name: f for f in [*_image_view_fields(), *rank_fields]}
    values: dict = {"src": src, "mode": mode, "dtype": dtype, "rule": rule, "view": view}
    if src == "sample":
        values["sample"] = sample
    if rule == "slider":
        values["rank"] = int(ranks[0])
        if mode == "ycbcr" and len(ranks) > 1:
            values["chroma"] = int(ranks[1])
    elif rule == "energy":
        values["energy"] = energy
    elif rule == "psnr":
        values["psnr"] = psnr
    else:
        values["budget"] = budget_kb
    order = ("src", "sample", "mode", "dtype", "rule", "rank", "chroma", "energy", "psnr", "budget", "view")
    return encode_params([fields[name] for name in order], values)


# =========================================================================================== layer page

LAYER_SECTIONS = ("lab", "compress", "lora")


def layer_fields(max_side: int) -> list[UrlField]:
    """The layer page's address: the open section and the layer lab's weight, batch and input seed."""
    from ui.inputs import MAX_SEED

    return [
        UrlField("section", "choice", "lab", choices=LAYER_SECTIONS, label="section"),
        UrlField("src", "choice", "random", choices=("random", "low_rank", "trained", "upload"),
                 label="weight source"),
        UrlField("m", "int", 256, 2, max_side, label="out features m"),
        UrlField("n", "int", 256, 2, max_side, label="in features n"),
        UrlField("k", "int", 8, 1, max_side, label="inner size k"),
        UrlField("seed", "int", 0, 0, MAX_SEED, label="seed"),
        UrlField("batch", "int", 64, 1, 256, label="inputs in the batch"),
        UrlField("xseed", "int", 0, 0, MAX_SEED, label="seed of the inputs"),
    ]


def layer_link_params(*, max_side: int, section: str, src: str = "random", m: int = 256, n: int = 256,
                      k: int = 8, seed: int = 0, layer: str = "", rank: int | None = None,
                      default_rank: int = 32, max_rank: int = 1, batch: int = 64,
                      xseed: int = 0) -> dict[str, str]:
    """The query parameters of a layer-page view (defaults left out; the lab's only when it is open)."""
    fields = layer_fields(max_side)
    if section != "lab":
        return encode_params(fields[:1], {"section": section})
    values = {"section": section, "src": src, "batch": batch, "xseed": xseed}
    if src in ("random", "low_rank"):
        values.update(m=m, n=n, seed=seed)
        if src == "low_rank":
            values["k"] = k
    out = encode_params(fields, values)
    if src == "trained" and layer:
        out["layer"] = str(layer)
    if rank is not None:
        out.update(encode_params([rank_field(max(max_rank, 1), default_rank, low=1)], {"rank": rank}))
    return out


# ================================================================================================= quiz

QUIZ_RANK_SCHEDULE = (1, 2, 3, 5, 8, 12, 20, 30, 50, 80, 120, 200, 300)
MAX_QUIZ_ROUND = 1_000_000


def quiz_schedule(max_rank: int, schedule: Sequence[int] = QUIZ_RANK_SCHEDULE) -> list[int]:
    """The ranks a quiz round shows, rising: the schedule's ranks below ``max_rank``, then ``max_rank``."""
    if max_rank < 1:
        raise ValueError(f"max_rank must be >= 1; got {max_rank}")
    return [r for r in schedule if r < max_rank] + [int(max_rank)]


def quiz_photo(round_number: int, names: Sequence[str]) -> str:
    """The hidden photograph of a round: every name once per ``len(names)`` rounds, in a seeded order."""
    import random

    if not names:
        raise ValueError("the quiz needs at least one photograph")
    cycle, position = divmod(int(round_number), len(names))
    order = list(names)
    random.Random(cycle).shuffle(order)
    return order[position]


def quiz_fields(steps: int) -> list[UrlField]:
    """The quiz's address: the round (which photograph) and the step of the rank schedule."""
    return [UrlField("round", "int", 0, 0, MAX_QUIZ_ROUND, label="round"),
            UrlField("step", "int", 0, 0, max(steps - 1, 0), label="step")]


# ============================================================================================ pictures


def colour_map(values: np.ndarray, limit: float) -> np.ndarray:
    """Map values in [-limit, limit] onto the diverging blue-white-red scale; (p, q) -> (p, q, 3) uint8.

    Values beyond the limit take the end colours; NaN is grey.
    """
    values = np.asarray(values, dtype=np.float64)
    limit = float(limit) if limit and math.isfinite(limit) and limit > 0 else 1.0
    position = np.clip((np.nan_to_num(values) / limit + 1.0) / 2.0, 0.0, 1.0)
    rgb = _LUT[np.rint(position * (_LUT_SIZE - 1)).astype(np.int64)]  # (p, q, 3)
    rgb[np.isnan(values)] = NAN_COLOUR
    return rgb


def _sample(size: int, limit: int) -> np.ndarray:
    """At most ``limit`` evenly spaced indices of 0..size-1, both ends included."""
    if size <= limit:
        return np.arange(size)
    return np.unique(np.linspace(0, size - 1, limit).round().astype(np.int64))


def heatmap_image(values: np.ndarray, *, limit: float | None = None,
                  max_side: int = MAX_FRAME_SIDE) -> Image.Image:
    """A matrix as a colour-mapped picture at most ``max_side`` pixels wide and high.

    A small matrix is enlarged by a whole factor (each entry a square block); a large one is sampled at
    evenly spaced rows and columns. ``limit`` is the half-width of the colour scale (default: max |value|).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"heatmap_image needs a non-empty 2-D array; got shape {values.shape}")
    values = values[np.ix_(_sample(values.shape[0], max_side), _sample(values.shape[1], max_side))]
    if limit is None:
        finite = np.abs(values[np.isfinite(values)])
        limit = float(finite.max()) if finite.size else 1.0
    rgb = colour_map(values, limit)
    factor = max(1, max_side // max(values.shape))
    rgb = np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1)
    return Image.fromarray(rgb, "RGB")


def panels_image(panels: Sequence[tuple[str, np.ndarray]], *, limit: float, height: int = 360,
                 gap: int = 24) -> Image.Image:
    """Matrices side by side on one colour scale, each titled: a still of ``ui.figures.heatmap_panels``.

    Each panel is ``height`` pixels high (wider or narrower with its shape, entries as blocks); a sweep
    shows these instead of the interactive chart because a picture updates many times faster.
    """
    title_height = 34
    pictures = []
    for _, values in panels:
        picture = heatmap_image(values, limit=limit, max_side=max(height, 16))
        scale = height / picture.height
        size = (max(1, round(picture.width * scale)), height)
        pictures.append(picture.resize(size, Image.Resampling.NEAREST))
    width = sum(p.width for p in pictures) + gap * (len(pictures) - 1)
    canvas = Image.new("RGB", (width, title_height + height), "white")
    draw = ImageDraw.Draw(canvas)
    font = _font(22)
    left = 0
    for (title, _), picture in zip(panels, pictures, strict=True):
        text_width = draw.textlength(title, font=font)
        draw.text((left + (picture.width - text_width) / 2, 4), title, fill=(17, 17, 17), font=font)
        canvas.paste(picture, (left, title_height))
        left += picture.width + gap
    return canvas


def spectrum_strip(S: np.ndarray, rank: int, *, width: int, height: int, log: bool = True) -> Image.Image:
    """The singular values as bars, the first ``rank`` blue (kept) and the rest grey (dropped).

    On the log scale the bars span the decades from the smallest positive σ (at most 12 below σ₁) to σ₁;
    zeros have no bar.
    """
    S = np.asarray(S, dtype=np.float64).ravel()
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    k = S.shape[0]
    if k == 0 or not np.isfinite(S).all() or S.max() <= 0:
        return Image.fromarray(canvas, "RGB")
    top = S.max()
    if log:
        positive = S[S > 0]
        bottom = max(float(positive.min()), top * 1e-12)
        span = math.log10(top) - math.log10(bottom)
        share = np.where(S > 0, (np.log10(np.maximum(S, bottom)) - math.log10(bottom)) / span
                         if span > 0 else 1.0, 0.0)
        share = np.where(S > 0, np.maximum(share, 0.03), 0.0)  # the smallest value still shows a sliver
    else:
        share = S / top
    edges = np.linspace(0, width, k + 1).round().astype(np.int64)
    for i in range(k):
        x0, x1 = int(edges[i]), max(int(edges[i + 1]) - (1 if edges[i + 1] - edges[i] > 2 else 0),
                                    int(edges[i]) + 1)
        bar = int(round(share[i] * (height - 2)))
        if bar > 0:
            canvas[height - bar:, x0:x1] = KEPT_RGB if i < rank else DROPPED_RGB
    return Image.fromarray(canvas, "RGB")


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's built-in font at ``size`` pixels (the bitmap font where FreeType is missing)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ValueError, OSError, ImportError):
        return ImageFont.load_default()


def sweep_frame(picture: Image.Image, S: np.ndarray, rank: int, *, label: str, log: bool = True,
                max_side: int = MAX_FRAME_SIDE) -> Image.Image:
    """One frame of a sweep: a label line, the picture, and the spectrum with ``rank`` bars kept.

    The frame is at most ``max_side`` pixels wide and high: the picture is shrunk to fit when needed.
    """
    label_height, strip_height, gap = 30, max(40, max_side // 6), 6
    room = max_side - label_height - strip_height - 2 * gap
    picture = picture.convert("RGB")
    if picture.width > max_side or picture.height > room:
        scale = min(max_side / picture.width, room / picture.height)
        picture = picture.resize((max(1, int(picture.width * scale)), max(1, int(picture.height * scale))),
                                 Image.Resampling.NEAREST)
    width = max(picture.width, min(320, max_side))
    frame = Image.new("RGB", (width, label_height + picture.height + strip_height + 2 * gap), "white")
    ImageDraw.Draw(frame).text((6, 4), label, fill=(17, 17, 17), font=_font(20))
    frame.paste(picture, ((width - picture.width) // 2, label_height))
    strip = spectrum_strip(S, rank, width=width, height=strip_height, log=log)
    frame.paste(strip, (0, label_height + picture.height + 2 * gap))
    return frame


def sweep_ranks(to_rank: int, *, max_frames: int = MAX_SWEEP_FRAMES, start: int = 1) -> list[int]:
    """The ranks a sweep from ``start`` to ``to_rank`` shows: all of them, or ``max_frames`` evenly spread.

    Both ends are always included; the list is strictly increasing.
    """
    to_rank, start = int(to_rank), int(start)
    if to_rank < start:
        return []
    count = to_rank - start + 1
    if count <= max_frames:
        return list(range(start, to_rank + 1))
    return [int(r) for r in np.unique(np.linspace(start, to_rank, max_frames).round().astype(np.int64))]


def matrix_sweep_frames(factorization, rows: np.ndarray, cols: np.ndarray, ranks: Sequence[int], *,
                        limit: float, log: bool = True, relative_errors: Sequence[float] | None = None,
                        on_frame: Callable[[int, int], None] | None = None) -> list[Image.Image]:
    """The frames of a matrix's rank sweep: W_r (shown rows and columns) and the spectrum, one per rank.

    Parameters
    ----------
    factorization : lowrank_core.Factorization of an (m, n) matrix
    rows, cols : int arrays
        The rows and columns shown (``ui.figures.display_indices``).
    ranks : sequence of int
        At most ``MAX_SWEEP_FRAMES`` ranks (``sweep_ranks``).
    limit : float
        Half-width of the colour scale (the page's: max |W| over the shown entries).
    relative_errors : sequence of float, optional
        ‖W − W_r‖_F / ‖W‖_F indexed by rank, written on each frame.
    on_frame : callable(done, total), optional
        Called after each frame (a progress bar).
    """
    if len(ranks) > MAX_SWEEP_FRAMES:
        raise ValueError(f"a sweep has at most {MAX_SWEEP_FRAMES} frames; got {len(ranks)}")
    S = factorization.S.double().cpu().numpy()
    frames = []
    for done, r in enumerate(ranks, start=1):
        a, b = factorization.factors(int(r))  # (m, r), (r, n)
        shown = (a[rows] @ b[:, cols]).double().cpu().numpy()  # (p, q): only the displayed entries of W_r
        label = f"rank r = {int(r)} of {factorization.max_rank}"
        if relative_errors is not None:
            label += f"   error {float(relative_errors[int(r)]):.2%}"
        picture = heatmap_image(shown, limit=limit, max_side=MAX_FRAME_SIDE)
        frames.append(sweep_frame(picture, S, int(r), label=label, log=log))
        if on_frame is not None:
            on_frame(done, len(ranks))
    return frames


def image_sweep_frames(codec, settings: Sequence[tuple[int, ...]], *, dtype: str = "float32",
                       on_frame: Callable[[int, int], None] | None = None) -> list[Image.Image]:
    """The frames of an image's rank sweep: the reconstruction and the (first group's) spectrum per setting.

    Parameters
    ----------
    codec : lowrank_core.image.ImageCodec
    settings : sequence of rank settings (one int per channel group), at most ``MAX_SWEEP_FRAMES``
    dtype : the precision the factors are read back at (as the page shows them)
    """
    from lowrank_core import image as codec_core

    if len(settings) > MAX_SWEEP_FRAMES:
        raise ValueError(f"a sweep has at most {MAX_SWEEP_FRAMES} frames; got {len(settings)}")
    room = MAX_FRAME_SIDE - 30 - max(40, MAX_FRAME_SIDE // 6) - 12  # label line, spectrum strip, gaps
    size = codec_core.fit_size(codec.height, codec.width, room)
    S = codec.factorization.S.double().cpu().numpy()  # (C, k)
    frames = []
    for done, ranks in enumerate(settings, start=1):
        picture = codec_core.to_pil(codec.reconstruct(ranks, dtype=dtype, size=size))
        label = "rank " + "/".join(str(int(r)) for r in ranks) + f" of {codec.max_rank}"
        frames.append(sweep_frame(picture, S[0], int(ranks[0]), label=label, log=True))
        if on_frame is not None:
            on_frame(done, len(settings))
    return frames


def gif_bytes(frames: Sequence[Image.Image], *, duration_ms: int = GIF_FRAME_MS) -> bytes:
    """An animated GIF (looping forever) of the frames, each shown ``duration_ms`` milliseconds.

    Frames of different sizes are pasted onto a white canvas of the largest size.
    """
    if not frames:
        raise ValueError("gif_bytes needs at least one frame")
    if len(frames) > MAX_SWEEP_FRAMES:
        raise ValueError(f"a GIF holds at most {MAX_SWEEP_FRAMES} frames; got {len(frames)}")
    width = max(f.width for f in frames)
    height = max(f.height for f in frames)
    if width > MAX_FRAME_SIDE or height > MAX_FRAME_SIDE:
        raise ValueError(f"GIF frames are at most {MAX_FRAME_SIDE} px a side; got {width} × {height}")
    canvases = []
    for frame in frames:
        canvas = Image.new("RGB", (width, height), "white")
        canvas.paste(frame.convert("RGB"), (0, 0))
        # fast octree: ~25x faster than median cut on photographs (0.25 s against 7 s for 60 frames of
        # 512 px on 2 cores) for about one more grey level of mean error
        canvases.append(canvas.quantize(colors=255, method=Image.Quantize.FASTOCTREE,
                                        dither=Image.Dither.NONE))
    buffer = io.BytesIO()
    canvases[0].save(buffer, "GIF", save_all=True, append_images=canvases[1:], duration=int(duration_ms),
                     loop=0, disposal=1, optimize=False)
    return buffer.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    """A Pillow image as PNG."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=False)
    return buffer.getvalue()


def png_data_url(data: bytes, mime: str = "image/png") -> str:
    """``data:image/png;base64,...`` for an <img src>."""
    return f"data:{mime};base64,{b64encode(data).decode('ascii')}"


# ========================================================================================= HTML summary

_SUMMARY_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #111; }
h1 { font-size: 1.8rem; margin-bottom: 0.2rem; }
.pictures { display: flex; flex-wrap: wrap; gap: 1.5rem; margin: 1rem 0; }
figure { margin: 0; } figcaption { text-align: center; font-size: 0.95rem; color: #333; }
figure img { max-width: 420px; image-rendering: pixelated; border: 1px solid #ddd; }
table { border-collapse: collapse; margin: 1rem 0; } td, th { padding: 0.3rem 0.9rem; text-align: left; }
tr:nth-child(even) { background: #f3f5f9; } td.value { font-variant-numeric: tabular-nums; font-weight: 600; }
.link { font-family: ui-monospace, monospace; word-break: break-all; background: #f3f5f9; padding: 0.5rem; }
.notes { color: #444; font-size: 0.95rem; }
"""


def summary_html(*, title: str, link: str, numbers: Sequence[tuple[str, str]],
                 pictures: Sequence[tuple[str, bytes]] = (), notes: Sequence[str] = (),
                 link_complete: bool = True) -> str:
    """A self-contained one-page HTML summary of a view.

    Parameters
    ----------
    title : str
    link : str
        The address that reopens the view (only a path and query string when ``link_complete`` is False).
    numbers : sequence of (label, value)
        The page's metrics, as the page shows them.
    pictures : sequence of (caption, PNG bytes)
        Embedded as data URLs.
    notes : sequence of str
        Plain sentences (the settings, the source).

    Every string is escaped with ``html.escape``: nothing the user typed can become markup.
    """
    esc = html.escape
    rows = "\n".join(f'<tr><th scope="row">{esc(label)}</th><td class="value">{esc(value)}</td></tr>'
                     for label, value in numbers)
    figures = "\n".join(
        f'<figure><img alt="{esc(caption)}" src="{png_data_url(data)}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>" for caption, data in pictures)
    note_items = "\n".join(f"<li>{esc(note)}</li>" for note in notes)
    if link_complete:
        link_html = f'<p class="link"><a href="{esc(link, quote=True)}">{esc(link)}</a></p>'
    else:
        link_html = (f'<p class="link">{esc(link)}</p><p class="notes">Append this to the app\'s address to '
                     "reopen the view.</p>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(title)}</title><style>{_SUMMARY_STYLE}</style></head><body>\n"
        f"<h1>{esc(title)}</h1>\n<p class=\"notes\">Made by Low-Rank Explorer.</p>\n"
        f'<div class="pictures">\n{figures}\n</div>\n'
        f'<table class="numbers"><tbody>\n{rows}\n</tbody></table>\n'
        f'<ul class="notes">\n{note_items}\n</ul>\n'
        f"<h2>Reopen this view</h2>\n{link_html}\n</body></html>\n"
    )


# ========================================================================================= chart export


class ExportUnavailable(RuntimeError):
    """Static chart export cannot run here (kaleido or a Chromium browser is missing, or it failed)."""


def _chromium_path() -> str | None:
    """The Chromium/Chrome kaleido would use (choreographer's own search, else the usual names on PATH)."""
    try:
        from choreographer.browsers.chromium import Chromium

        found = Chromium.find_browser(skip_local=False)
        if found:
            return str(found)
    except Exception:  # noqa: BLE001 - best effort: choreographer's API is not ours
        pass
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def kaleido_problem() -> str | None:
    """Why plotly's static PNG export cannot run here (None when kaleido and a Chromium are present)."""
    if importlib.util.find_spec("kaleido") is None:
        return "the kaleido package is not installed"
    if _chromium_path() is None:
        return "no Chromium or Chrome browser was found on the server"
    return None


def figure_png(figure, *, width: int = 1400, height: int | None = None, scale: float = 1.0) -> bytes:
    """A plotly figure as PNG bytes through kaleido (a few seconds: it starts a headless Chromium).

    Raises ``ExportUnavailable`` with the reason when kaleido or Chromium is missing or the export fails.
    """
    problem = kaleido_problem()
    if problem:
        raise ExportUnavailable(problem)
    height = int(height or figure.layout.height or 500)
    try:
        return figure.to_image(format="png", width=int(width), height=height, scale=scale)
    except Exception as err:  # noqa: BLE001 - kaleido raises many kinds; the page shows the fallback
        raise ExportUnavailable(f"the export failed ({type(err).__name__}: {err})") from err


# ====================================================================================== Streamlit glue


def _st():
    """Streamlit, imported on first use (the pure parts above work without it)."""
    import streamlit as st

    return st


def ensure_navigation() -> None:
    """Rerun through app.py's st.navigation when Streamlit ran this page as an old-style "pages/" page.

    A server's first request decides: Streamlit treats an app with a ``pages/`` folder as a version-1
    multipage app until some run calls ``st.navigation``. A link that opens /matrix on a fresh server is
    then run without app.py (no sidebar, no wide layout, the folder's file names as navigation). Clearing
    the flag and rerunning makes app.py run, which registers the real pages and runs this one again. It
    happens once per server process. Under AppTest (which sets the flag anew before every run and runs a
    switched-to page on its own) nothing is done.
    """
    try:
        from streamlit import config
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without the flag: nothing to fix
        return
    if config.get_option("global.appTest"):  # AppTest resets the flag before every run: a rerun would loop
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        _st().rerun()


def _remember_url(params: dict[str, str]) -> None:
    """Add ``params`` to the addresses this session wrote or saw (the last ``_REMEMBERED_URLS``)."""
    st = _st()
    known = [p for p in st.session_state.get(_KNOWN_URLS, []) if p != params]
    st.session_state[_KNOWN_URLS] = [*known, params][-_REMEMBERED_URLS:]


def incoming_params() -> dict[str, str] | None:
    """The query parameters of a link opened from outside, once (None on an ordinary rerun).

    A link came from outside when the address is none of those this session recently wrote or saw (a
    fresh load, a pasted link). Recent ones rather than the last one: a rerun interrupted by the next
    slider move may stop just before or just after the address was written, and neither is a new link.
    ``present`` is left to the sidebar's toggle.
    """
    st = _st()
    current = {k: v for k, v in st.query_params.to_dict().items() if k != PRESENT_KEY}
    if current in st.session_state.get(_KNOWN_URLS, []):
        return None
    _remember_url(current)
    return current


def sync_url(params: Mapping[str, str]) -> None:
    """Make the address hold ``params`` (plus ``present=1`` when presenting); written only if changed."""
    st = _st()
    own = {str(k): str(v) for k, v in params.items() if k != PRESENT_KEY}
    desired = {**own, PRESENT_KEY: "1"} if is_presenting() else dict(own)
    _remember_url(own)  # first: an interruption right after the write must not make it look external
    if st.query_params.to_dict() != desired:
        st.query_params.from_dict(desired)


def share_box(path: str, params: Mapping[str, str], *, note: str | None = None) -> str:
    """A "Share this view" box with the link (st.code); returns the link. ``note`` says what cannot travel."""
    st = _st()
    base = None
    try:
        base = st.context.url
    except Exception:  # noqa: BLE001 - outside a browser session (AppTest) there is no URL
        base = None
    link, complete = share_link(base, path, params)
    with st.container(border=True, key=f"{path}_share_box"):
        st.markdown("**Share this view**")
        st.code(link, language=None, wrap_lines=True)
        if complete:
            st.caption("Opening this link reopens this view: the same source, rank, rule and views.")
        else:
            st.caption("Append this to the app's address (e.g. http://localhost:8501) to reopen this view.")
        if note:
            st.caption(note)
    return link


def notice_box(notices: Sequence[str]) -> None:
    """The link's unusable settings, as one info box (escaped: a link's text is never markdown)."""
    if not notices:
        return
    from ui.inputs import escape_markdown

    st = _st()
    st.info("**This link had settings that could not be used.**\n\n"
            + "\n".join(f"- {escape_markdown(n)}" for n in notices), icon="🔗")


# ========================================================================================== presenter

PRESENTER_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stExpandSidebarButton"], [data-testid="stSidebarNav"], [data-testid="stHeader"],
[data-testid="stToolbar"] { display: none !important; }
[data-testid="stMainBlockContainer"] { max-width: 100% !important; padding: 0.8rem 2.5rem 2rem !important; }
[data-testid="stMain"] { margin-left: 0 !important; }
h1 { font-size: 2.6rem !important; padding-top: 0.2rem !important; }
h2, h3 { font-size: 2.0rem !important; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li,
[data-testid="stCaptionContainer"], [data-testid="stWidgetLabel"] p { font-size: 1.35rem !important; }
[data-testid="stMetricValue"] { font-size: 2.8rem !important; }
[data-testid="stMetricLabel"] p { font-size: 1.3rem !important; }
[data-testid="stSlider"] [role="slider"] { width: 1.6rem !important; height: 1.6rem !important; }
[data-testid="stSliderThumbValue"] { font-size: 1.4rem !important; }
[data-testid="stSlider"] [data-testid="stWidgetLabel"] { margin-bottom: 0.9rem !important; }
[data-testid="stNumberInputField"], [data-baseweb="select"] div { font-size: 1.3rem !important; }
[data-testid="stCode"] code { font-size: 1.15rem !important; }
</style>"""


def is_presenting() -> bool:
    """True while the presenter view is on (the sidebar toggle or ``?present=1``)."""
    return bool(_st().session_state.get(PRESENT_KEY, False))


def _leave_presenter_view() -> None:
    """Callback of the button that leaves the presenter view."""
    _st().session_state[PRESENT_KEY] = False


def presenter_toggle() -> bool:
    """The presenter toggle (draw it inside the sidebar); follows ``present=`` when a link sets it.

    ``present`` applies when its value in the address changes from what this session last saw or wrote;
    a page switch that drops it leaves the view as it is. Returns whether the presenter view is on.
    """
    st = _st()
    raw = st.query_params.get(PRESENT_KEY)
    if raw != st.session_state.get(_PRESENT_SEEN):
        st.session_state[_PRESENT_SEEN] = raw
        if raw is not None:
            value, _ = UrlField(PRESENT_KEY, "bool", False).parse(raw)
            st.session_state[PRESENT_KEY] = bool(value)
    st.session_state.setdefault(PRESENT_KEY, False)
    return bool(st.toggle("Presenter view", key=PRESENT_KEY,
                          help="Hides the sidebar and the secondary numbers and enlarges text and charts for "
                               "a projector. Also opens with ?present=1 in the address."))


def sync_present_param() -> None:
    """Keep ``present=1`` in the address exactly while the presenter view is on (for every page)."""
    st = _st()
    presenting = is_presenting()
    if presenting and st.query_params.get(PRESENT_KEY) != "1":
        st.query_params[PRESENT_KEY] = "1"
    elif not presenting and PRESENT_KEY in st.query_params:
        del st.query_params[PRESENT_KEY]
    st.session_state[_PRESENT_SEEN] = "1" if presenting else None


def presenter_layout() -> None:
    """In the presenter view: the constant CSS and a button to leave it (at the top of the page)."""
    st = _st()
    if not is_presenting():
        return
    st.html(PRESENTER_CSS)
    st.button("Leave the presenter view", key="present_leave", on_click=_leave_presenter_view, icon="↩️",
              type="tertiary")


def presenter_figure(figure, *, height: int | None = None):
    """Enlarge a plotly figure's text (ticks, titles, legend, annotations) and height in the presenter view.

    Returns the figure unchanged outside the presenter view. Streamlit's chart theme sets some font sizes
    itself, so every text element gets an explicit size here.
    """
    if not is_presenting():
        return figure
    size = PRESENTER_FONT_SIZE
    height = int(height) if height is not None else int((figure.layout.height or 400) * 1.25)
    figure.update_layout(font={"size": size}, legend={"font": {"size": size}},
                         title={"font": {"size": size + 4}}, height=height)
    figure.update_xaxes(tickfont={"size": size - 2}, title={"font": {"size": size}})
    figure.update_yaxes(tickfont={"size": size - 2}, title={"font": {"size": size}})
    figure.update_annotations(font={"size": size + 2})
    figure.update_coloraxes(colorbar={"tickfont": {"size": size - 2}})
    return figure


# ============================================================================================= exports


def _slug(text: str) -> str:
    """A file-name-safe version of a chart's label."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "chart"


def chart_png_exports(charts: Mapping[str, object], *, prefix: str) -> None:
    """Pick a chart, press "Make PNG", download it: plotly's static export through kaleido, on demand.

    Without kaleido or Chromium (or when the export fails) a caption points to each chart's own toolbar
    button "Download plot as PNG" instead.
    """
    st = _st()
    fallback = ("Each chart's own toolbar also downloads it as PNG: hover over the chart and press the "
                "camera button (“Download plot as PNG”).")
    problem = kaleido_problem()
    if problem:
        st.caption(f"Server-side PNG export needs kaleido and Chromium ({problem}). {fallback}")
        return
    if not charts:
        return
    names = list(charts)
    columns = st.columns([3, 1], vertical_alignment="bottom")
    with columns[0]:
        name = st.selectbox("Chart to export as PNG", names, key=f"{prefix}_png_chart")
    with columns[1]:
        make = st.button("Make PNG", key=f"{prefix}_png_make", help="Renders on the server (a few seconds).")
    if make and name in charts:
        try:
            with st.spinner("Rendering the PNG (a few seconds)…"):
                data = figure_png(charts[name])
        except ExportUnavailable as err:
            st.warning(f"The PNG could not be made: {err}. {fallback}")
            return
        st.download_button(f"Download {name}.png", data, file_name=f"{_slug(name)}.png", mime="image/png",
                           on_click="ignore", key=f"{prefix}_png_download", icon="🖼️")
    st.caption(f"Renders with kaleido on the server, about 3–10 s a chart. {fallback}")


def html_summary_button(make: Callable[[], str], *, prefix: str, file_name: str) -> None:
    """A download button whose HTML summary is built only when it is clicked."""
    st = _st()
    st.download_button("Summary of this view (HTML)", lambda: make().encode("utf-8"), file_name=file_name,
                       mime="text/html", on_click="ignore", key=f"{prefix}_summary_html", icon="📄",
                       help="One page with the pictures, the numbers and the link that reopens this view.")
