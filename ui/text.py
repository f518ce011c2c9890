"""Text for people: user text made safe for markdown; numbers and sizes written the same way everywhere."""

from __future__ import annotations

import string

from lowrank_core.budget import size_ratio  # shared with the command line's report

__all__ = ["escape_markdown", "shorten", "format_number", "format_relative", "format_bytes", "size_ratio"]

_MARKDOWN_SPECIAL = set(string.punctuation)


def escape_markdown(text: str) -> str:
    """Backslash-escape every ASCII punctuation mark, so user text shows literally in st.error/st.info.

    CommonMark lets any ASCII punctuation be escaped; this also defuses Streamlit's ``:colour[...]`` and
    ``$...$`` syntax. Line breaks are kept.
    """
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in str(text))


def shorten(raw: str, limit: int = 20) -> str:
    """A value as a notice quotes it: at most ``limit`` characters."""
    return raw if len(raw) <= limit else raw[: limit - 1] + "…"


def format_number(value: float) -> str:
    """A number as the notices and the address show it: whole numbers without a decimal point."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def format_relative(value: float) -> str:
    """A relative error as every page writes it: a fraction, 4 significant digits ('0.01234', '2.7e-07')."""
    return f"{value:.4g}"


def format_bytes(size: float) -> str:
    """'812 B', '12.3 KB', '4.56 MB' (1 KB = 1000 bytes)."""
    if size < 1000:
        return f"{size:.0f} B"
    if size < 1_000_000:
        return f"{size / 1000:.1f} KB"
    return f"{size / 1_000_000:.2f} MB"

