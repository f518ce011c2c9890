"""The room poll on screen: the presenter's "room" section and the voters' form.

- ``room_section`` (presenter view): the view's link as a large QR code; "Ask the room" opens a poll on what
  is shown (``PollSpec``); while one is open the QR link carries its id and room code, and a fragment
  rereads the votes every ``POLL_REFRESH_SECONDS`` and redraws the page's histogram.
- ``voter_form`` (a phone that opened the QR link): the question and a way to answer; the answer goes to
  the store with this session's token and the link's room code.

Which poll a session takes part in is kept in its address (``ui.links.poll_params``): a reload, or the
presenter's page after a server restart, finds the same poll in the database file.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import streamlit as st
from streamlit import config

from ui.limits import MAX_ANSWER_CHARS, POLL_REFRESH_SECONDS
from ui.links import poll_params, set_poll_params, share_link
from ui.poll.cache import poll_store
from ui.poll.storage import Poll, PollError, Tally
from ui.share.views import qr_code
from ui.state import session_token
from ui.text import escape_markdown

__all__ = ["PollSpec", "current_poll", "room_section", "voter_form"]


@dataclass(frozen=True)
class PollSpec:
    """What a page asks its room: the arguments of ``PollStore.open_poll`` without the owner."""

    kind: str
    question: str
    subject: str
    low: int = 0
    high: int = 0
    options: tuple[str, ...] = ()
    answer: str = ""


def current_poll() -> Poll | None:
    """The poll this session takes part in (from its address), or None (also when it is gone)."""
    poll_id = poll_params().get("poll")
    if not poll_id:
        return None
    try:
        return poll_store().get_poll(poll_id)
    except PollError:
        return None


def _open_poll(spec: PollSpec) -> None:
    """Button callback: open a poll on what the page shows and put it in this session's address."""
    try:
        poll = poll_store().open_poll(kind=spec.kind, question=spec.question, subject=spec.subject,
                                      owner=session_token(), options=spec.options, low=spec.low,
                                      high=spec.high, answer=spec.answer)
    except PollError as error:
        st.session_state["_poll_error"] = str(error)
        return
    set_poll_params(poll.poll_id, poll.room_code)


def _close_poll(poll_id: str) -> None:
    """Button callback: close the poll (its votes stay readable) and take it out of the address."""
    try:
        poll_store().close_poll(poll_id, owner=session_token())
    except PollError as error:
        st.session_state["_poll_error"] = str(error)
    set_poll_params(None)


def _link(path: str, params: Mapping[str, str]) -> str:
    """The full link of ``path`` with ``params`` (relative under AppTest, where there is no browser)."""
    try:
        base = st.context.url
    except Exception:  # noqa: BLE001 - outside a browser session there is no URL
        base = None
    link, _ = share_link(base, path, params, base_path=str(config.get_option("server.baseUrlPath")))
    return link


def _ends(poll: Poll) -> str:
    """When the poll closes, in the server's local time."""
    return datetime.datetime.fromtimestamp(poll.expires_at).strftime("%H:%M")


def room_section(prefix: str, path: str, link_params: Mapping[str, str], *, spec: PollSpec | None,
                 figure: Callable[[Tally], object] | None = None) -> None:
    """The presenter's room: the QR code of this view (with the open poll's fields), the poll and its
    live histogram (``figure(tally)``). Without ``spec`` the page has no poll: only its QR code."""
    st.header("The room")
    error = st.session_state.pop("_poll_error", None)
    if error:
        st.error(escape_markdown(error))
    poll = current_poll()
    if poll is not None and (spec is None or poll.kind != spec.kind):
        poll = None  # another page's poll (it stays in the address): not this page's to show
    fields = {"poll": poll.poll_id, "room": poll.room_code} if poll is not None else {}
    link = _link(path, {**link_params, **fields})
    left, right = st.columns([2, 3], gap="large")
    with left:
        qr_code(link, large=True, caption="Scan to open this view on your phone")
        if poll is not None:
            st.markdown(f"Room code **{poll.room_code}**")
        st.code(link, language=None, wrap_lines=True)
    with right:
        is_open = poll is not None and poll.is_open(time.time())
        if spec is not None and not is_open:
            st.button(f"Ask the room: “{spec.question}”", key=f"{prefix}_poll_open", on_click=_open_poll,
                      args=(spec,), type="primary", icon=":material/how_to_vote:")
            st.caption("Opens a poll on what is on screen: phones that scan the code vote, and their answers "
                       "appear here as they come.")
        if poll is None:
            return
        st.markdown(f"**Poll** · {escape_markdown(poll.question)} · {escape_markdown(poll.subject)}")
        _live_votes(poll.poll_id, figure)
        if is_open:
            st.button("Close the poll", key=f"{prefix}_poll_close", on_click=_close_poll,
                      args=(poll.poll_id,), icon=":material/stop_circle:")


@st.fragment(run_every=POLL_REFRESH_SECONDS)
def _live_votes(poll_id: str, figure: Callable[[Tally], object] | None) -> None:
    """The votes so far, reread from the store every ``POLL_REFRESH_SECONDS`` seconds."""
    try:
        tally = poll_store().tally(poll_id)
    except PollError as error:
        st.warning(escape_markdown(str(error)))
        return
    poll = tally.poll
    state = "open" if poll.is_open(time.time()) else "closed"
    st.metric("votes", tally.voters)
    st.caption(f"The poll is {state}" + (f"; it takes votes until {_ends(poll)}." if state == "open"
                                         else "."))
    if figure is not None:
        st.plotly_chart(figure(tally), key="poll_histogram")


def voter_form(prefix: str, poll: Poll, *, rank: int | None = None, options: Sequence[str] | None = None,
               normalise: Callable[[str], str] | None = None) -> None:
    """A voter's answer to ``poll``: the rank on screen (a rank poll) or one of ``options`` / typed text (a
    choice poll; ``normalise`` maps a typed answer first, e.g. onto the option it means). The room code
    comes from the link; the outcome (counted, or why not) is shown below."""
    room = poll_params().get("room")
    with st.container(border=True, key=f"{prefix}_vote_box"):
        st.markdown(f"**Room poll** · {escape_markdown(poll.question)}")
        answer = None
        if poll.kind == "rank":
            st.caption("Move the rank until the picture looks good enough to you, then vote.")
            if st.button(f"Vote: rank {rank} is good enough", key=f"{prefix}_vote", type="primary"):
                answer = rank
        else:
            choice = st.radio("Your answer", list(options if options is not None else poll.options),
                              index=None, key=f"{prefix}_vote_choice")
            typed = st.text_input("… or type it", max_chars=MAX_ANSWER_CHARS, key=f"{prefix}_vote_typed")
            if st.button("Vote", key=f"{prefix}_vote", type="primary"):
                answer = (normalise(typed.strip()) if normalise else typed.strip()) if typed.strip() else \
                    (choice or "")
        if answer is not None:
            try:
                stored = poll_store().vote(poll.poll_id, room_code=room, session=session_token(),
                                           answer=answer)
            except PollError as error:
                st.session_state[f"{prefix}_vote_outcome"] = ("error", str(error))
            else:
                st.session_state[f"{prefix}_vote_outcome"] = ("ok", stored)
        outcome = st.session_state.get(f"{prefix}_vote_outcome")
        if outcome is not None and outcome[0] == "ok":
            st.success("Your vote is counted:")
            st.text(outcome[1])  # a typed answer: plain text, never markdown
        elif outcome is not None:
            st.error(escape_markdown(outcome[1]))
