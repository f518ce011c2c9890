"""A page's state in its address: query fields, their parsing and encoding, and the address bar itself.

Pure parts (no Streamlit; unit-tested on their own): ``UrlField`` / ``parse_params`` / ``encode_params`` and
``share_link``. A bad or stale value (text where a number goes, a rank too high, an unknown name) falls back
to the default with a one-line notice; a missing one leaves the page's state alone.

Streamlit parts (thin): ``incoming_params`` / ``sync_url`` (the address bar), ``share_box``, ``notice_box``.

How the address is kept: at the start of its run a page asks ``incoming_params`` whether the query parameters
differ from those this session last wrote or saw; when they do, the link came from outside (a fresh load of a
shared link, a typed address) and the page applies them. At the end of a run the page writes its state back
with ``sync_url``, leaving out the values that equal their defaults, so a default view keeps a clean address.
``present`` belongs to the sidebar's presenter toggle (``ui.presenter``) and ``poll``/``room`` to the room
poll (``ui.poll``): fields of the session, which every page keeps in its address. Each page's last query
string is remembered (``page_query``), so a link to it from another page can carry it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import streamlit as st
from streamlit import config

from ui.limits import MAX_PARAM_CHARS, REMEMBERED_URLS
from ui.share.views import qr_code
from ui.text import escape_markdown, format_number, shorten

__all__ = [
    "PRESENT_KEY",
    "POLL_PARAMS",
    "SESSION_PARAMS",
    "UrlField",
    "ParsedParams",
    "parse_params",
    "encode_params",
    "share_link",
    "rank_field",
    "single_value",
    "incoming_params",
    "set_current_page",
    "page_query",
    "poll_params",
    "set_poll_params",
    "sync_url",
    "share_box",
    "notice_box",
]

PRESENT_KEY = "present"  # the presenter toggle's key and query parameter
POLL_PARAMS = ("poll", "room")  # the room poll this session takes part in (ui.poll)
SESSION_PARAMS = (PRESENT_KEY, *POLL_PARAMS)  # fields of the session, not of a page: every page keeps them
_KNOWN_URLS = "_links_known_urls"
_PAGE = "_links_page"  # the url path of the page running now
_PAGE_QUERIES = "_links_page_queries"  # url path -> the fields that page last wrote
_POLL_LINK = "_links_poll"  # the poll fields this session keeps in its address
_POLL_SEEN = "_links_poll_seen"  # the poll fields of the address last seen or written


def _whole(text: str) -> int | None:
    """The whole number a query value writes, as digits or in e-notation ("1e9"); None if it is not one."""
    if re.fullmatch(r"[+-]?\d{1,18}", text):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if math.isfinite(value) and value.is_integer() else None


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
            return self.default, self._fallback(
                f"The link asks for an unknown {self.title} “{shorten(text)}”")
        if self.kind == "bool":
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True, None
            if lowered in ("0", "false", "no", "off"):
                return False, None
            return self.default, self._fallback(
                f"The {self.title} “{shorten(text)}” in the link is not on/off")
        if self.kind == "int":
            value = _whole(text)
            if value is None:
                return self.default, self._fallback(
                    f"The {self.title} “{shorten(text)}” in the link is not a whole number")
        else:
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                return self.default, self._fallback(
                    f"The {self.title} “{shorten(text)}” in the link is not a number")
        if self.low is not None and value < self.low:
            return self.default, self._fallback(
                f"The {self.title} {format_number(value)} in the link is below its smallest value "
                f"{format_number(self.low)}")
        if self.high is not None and value > self.high:
            return self.default, self._fallback(
                f"The {self.title} {format_number(value)} in the link is above its largest value "
                f"{format_number(self.high)}")
        return value, None

    def format(self, value) -> str:
        """A value as the query string holds it."""
        if self.kind == "bool":
            return "1" if value else "0"
        if self.kind in ("int", "float"):
            return format_number(value)
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


def single_value(raw: str | Sequence[str]) -> str:
    """The value of a query parameter: the last of a repeated one ("" for an empty list)."""
    if isinstance(raw, str):
        return raw
    return list(raw)[-1] if len(raw) else ""


def parse_params(fields: Iterable[UrlField], params: Mapping[str, str | Sequence[str]]) -> ParsedParams:
    """Parse the fields present in ``params`` (the last value of a repeated one); ignore the others."""
    values, notices = {}, []
    for field in fields:
        if field.name not in params:
            continue
        value, notice = field.parse(single_value(params[field.name]))
        values[field.name] = value
        if notice:
            notices.append(notice)
    return ParsedParams(values, tuple(notices))


def encode_params(fields: Iterable[UrlField], values: Mapping) -> dict[str, str]:
    """The query parameters of ``values``, in the fields' order, leaving out those equal to the default."""
    return {field.name: field.format(values[field.name]) for field in fields
            if field.name in values and not field.is_default(values[field.name])}


def share_link(base: str | None, path: str, params: Mapping[str, str], *,
               base_path: str = "") -> tuple[str, bool]:
    """The link that reopens a view, and whether it is complete.

    ``base`` is the address the browser shows (``st.context.url``): only its scheme and host are kept, and
    the path is the page's own (``path``, "" for the default page at the app's root, under the server's
    ``base_path``), so a page reached under another address still hands out its real one. Without ``base``
    the link is only the path and the query string (the caller says to append it to the app's address).
    """
    query = urlencode(params)
    suffix = f"?{query}" if query else ""
    route = "/".join(part for part in (base_path.strip("/"), path.strip("/")) if part)
    if base:
        parts = urlsplit(base)
        return f"{parts.scheme}://{parts.netloc}/{route}{suffix}", True
    return f"/{route}{suffix}", False


def rank_field(max_rank: int, default: int, *, low: int = 0) -> UrlField:
    """The rank as a query parameter, between ``low`` and ``max_rank``."""
    return UrlField("rank", "int", int(default), int(low), int(max_rank), label="rank")


# ====================================================================================== Streamlit glue


def _remember_url(params: dict[str, str]) -> None:
    """Add ``params`` to the addresses this session wrote or saw (the last ``REMEMBERED_URLS``)."""
    known = [p for p in st.session_state.get(_KNOWN_URLS, []) if p != params]
    st.session_state[_KNOWN_URLS] = [*known, params][-REMEMBERED_URLS:]


def incoming_params() -> dict[str, str] | None:
    """The query parameters of a link opened from outside, once (None on an ordinary rerun).

    A link came from outside when the address is none of those this session recently wrote or saw (a
    fresh load, a pasted link). Recent ones rather than the last one: a rerun interrupted by the next
    slider move may stop just before or just after the address was written, and neither is a new link.
    An empty query is never a link: it is a page reached from the navigation, which keeps its own state.
    ``present`` is left to the sidebar's toggle and the poll's fields to ``poll_params``.
    """
    current = {k: v for k, v in st.query_params.to_dict().items() if k not in SESSION_PARAMS}
    if not current or current in st.session_state.get(_KNOWN_URLS, []):
        return None
    _remember_url(current)
    return current


def set_current_page(path: str) -> None:
    """Name the page running now (its url path; "" for the default page), for ``page_query``."""
    st.session_state[_PAGE] = str(path)


def page_query(path: str) -> dict[str, str]:
    """The query string the page at ``path`` last wrote in this session (its own fields; {} if none)."""
    return dict(st.session_state.get(_PAGE_QUERIES, {}).get(str(path), {}))


def poll_params() -> dict[str, str]:
    """The room poll this session takes part in, as address fields ("poll", "room"; {} when none).

    A poll named in the address is adopted when the address changes to it (a voter opening the QR code's
    link, a presenter reloading): the session keeps it on every page until ``set_poll_params`` drops it.
    """
    seen = {k: single_value(v)[:MAX_PARAM_CHARS] for k, v in st.query_params.to_dict().items()
            if k in POLL_PARAMS}
    if seen != st.session_state.get(_POLL_SEEN):
        st.session_state[_POLL_SEEN] = seen
        if seen.get("poll"):
            st.session_state[_POLL_LINK] = seen
    return dict(st.session_state.get(_POLL_LINK, {}))


def set_poll_params(poll_id: str | None, room_code: str | None = None) -> None:
    """Keep a poll in this session's address (the presenter opened it), or drop it (``poll_id`` None)."""
    if poll_id is None:
        st.session_state.pop(_POLL_LINK, None)
    else:
        room = {"room": str(room_code)} if room_code else {}
        st.session_state[_POLL_LINK] = {"poll": str(poll_id), **room}


def sync_url(params: Mapping[str, str]) -> None:
    """Make the address hold ``params`` (plus ``present=1`` when presenting, and the session's poll fields);
    written only if changed. Also remembers them as this page's last query string (``page_query``)."""
    own = {str(k): str(v) for k, v in params.items() if k not in SESSION_PARAMS}
    presenting = bool(st.session_state.get(PRESENT_KEY, False))
    poll = dict(st.session_state.get(_POLL_LINK, {}))
    desired = {**own, **({PRESENT_KEY: "1"} if presenting else {}), **poll}
    _remember_url(own)  # first: an interruption right after the write must not make it look external
    if _PAGE in st.session_state:
        st.session_state[_PAGE_QUERIES] = {**st.session_state.get(_PAGE_QUERIES, {}),
                                           st.session_state[_PAGE]: own}
    st.session_state[_POLL_SEEN] = poll
    if st.query_params.to_dict() != desired:
        st.query_params.from_dict(desired)


def share_box(key: str, path: str, params: Mapping[str, str], *, note: str | None = None) -> str:
    """A "Share this view" box with the link (st.code) and its QR code; returns the link. ``note`` says what
    cannot travel.

    ``path`` is the page's address ("" for the default page); ``key`` names the box.
    """
    try:
        base = st.context.url
    except Exception:  # noqa: BLE001 - outside a browser session (AppTest) there is no URL
        base = None
    link, complete = share_link(base, path, params, base_path=str(config.get_option("server.baseUrlPath")))
    with st.container(border=True, key=f"{key}_share_box"):
        text, code = st.columns([3, 1], vertical_alignment="center") if complete else (st.container(), None)
        with text:
            st.markdown("**Share this view**")
            st.code(link, language=None, wrap_lines=True)
            if complete:
                st.caption("Opening this link reopens this view: the same source, rank, rule and views.")
            else:
                st.caption("Append this to the app's address (e.g. http://localhost:8501) to reopen this "
                           "view.")
            if note:
                st.caption(note)
        if code is not None:  # a phone opens the same view from the QR code
            with code:
                qr_code(link, caption="Scan to open this view")
    return link


def notice_box(notices: Sequence[str]) -> None:
    """The link's unusable settings, as one info box (escaped: a link's text is never markdown)."""
    if not notices:
        return
    st.info("**This link had settings that could not be used.**\n\n"
            + "\n".join(f"- {escape_markdown(n)}" for n in notices), icon="🔗")
