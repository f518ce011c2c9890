"""The poll family's only cache: one store per database file, shared by every session (it holds no state
of its own: each call opens its own connection)."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from ui.limits import POLL_DB_DEFAULT, POLL_DB_ENV
from ui.poll.storage import SqlitePollStore

__all__ = ["database_path", "poll_store"]

_ROOT = Path(__file__).resolve().parents[2]


def database_path() -> Path:
    """The poll database: ``$LOWRANK_POLL_DB`` when set, else ``data/polls.sqlite3`` under the project."""
    configured = os.environ.get(POLL_DB_ENV, "").strip()
    return Path(configured) if configured else _ROOT / POLL_DB_DEFAULT


@st.cache_resource(show_spinner=False, max_entries=4)
def _store(path: str) -> SqlitePollStore:
    """The store of one file (created with its tables on first use)."""
    return SqlitePollStore(path)


def poll_store() -> SqlitePollStore:
    """The store of the configured database file."""
    return _store(str(database_path()))
