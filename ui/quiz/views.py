"""The quiz's answers and score on screen, and its part in a room poll.

- ``answer_area``: the round's four answers (shuffled, seeded by the round) as buttons, and a box to type an
  answer; a right one reveals the picture and scores once per round.
- ``score_line``: this session's score (rounds named, of rounds played, and the average rank they took).
- ``quiz_voter`` / ``quiz_room``: a phone in a room poll answers "what is it?" from the same four (or types);
  the presenter's room shows the votes, the right answer in green once revealed.
State lives in ``st.session_state`` under "quiz_" keys (plain values, not widgets: they outlive a page
switch).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import streamlit as st

from ui.limits import MAX_ANSWER_CHARS
from ui.poll.figures import answer_votes_figure
from ui.poll.views import PollSpec, current_poll, room_section, voter_form
from ui.presenter import is_presenting, presenter_figure
from ui.quiz.pictures import answer_of, is_right, matching_option, name_of

__all__ = ["new_score", "reveal", "guess", "answer_area", "score_line", "quiz_voter", "quiz_room"]

SCORE = "quiz_score"


def new_score() -> dict:
    """An empty score: rounds played and named, the ranks they were named at, rounds already counted."""
    return {"played": 0, "named": 0, "rank_sum": 0, "counted": []}


def _count(round_number: int, *, named_at: int | None) -> None:
    """Count the round once: played, and named at ``named_at`` when it was named."""
    score = st.session_state.setdefault(SCORE, new_score())
    if round_number in score["counted"]:
        return
    score = {**score, "played": score["played"] + 1, "counted": [*score["counted"], round_number][-1000:]}
    if named_at is not None:
        score = {**score, "named": score["named"] + 1, "rank_sum": score["rank_sum"] + int(named_at)}
    st.session_state[SCORE] = score


def reveal(round_number: int) -> None:
    """Button: show the name and the original (the round counts as played, not named)."""
    st.session_state["quiz_revealed"] = True
    _count(round_number, named_at=None)


def guess(round_number: int, name: str, answer: str, rank: int) -> None:
    """Callback of an answer (a button's text, or the typed box when ``answer`` is None): right reveals."""
    typed = answer is None
    text = str(st.session_state.get("quiz_typed", "") or "")[:MAX_ANSWER_CHARS] if typed else answer
    st.session_state["quiz_guess"] = text
    if text and is_right(name, text):
        st.session_state["quiz_revealed"] = True
        _count(round_number, named_at=rank)
    if typed:
        st.session_state["quiz_typed"] = ""


def answer_area(round_number: int, name: str, choices: Sequence[str], *, rank: int, revealed: bool) -> None:
    """The four answers as buttons and a box to type one; says whether the guess was right."""
    st.markdown("**Your answer**")
    columns = st.columns(len(choices))
    for column, choice in zip(columns, choices, strict=True):
        column.button(choice, key=f"quiz_answer_{name_of(choice)}", on_click=guess, width="stretch",
                      args=(round_number, name, choice, rank), disabled=revealed)
    typed_column, button_column = st.columns([3, 1], vertical_alignment="bottom")
    typed_column.text_input("… or type it", key="quiz_typed", max_chars=MAX_ANSWER_CHARS, disabled=revealed,
                            placeholder="what is it?")
    button_column.button("Guess", key="quiz_guess_typed", on_click=guess,
                         args=(round_number, name, None, rank), disabled=revealed, width="stretch")
    chosen = st.session_state.get("quiz_guess")
    if revealed:
        if chosen and is_right(name, chosen):
            st.success(f"Yes: {answer_of(name).lower()}, named at rank {rank}.")
        st.info(f"It was **{answer_of(name).lower()}** (the picture “{name}”). Press “New round” for the "
                "next one.")
    elif chosen:
        st.warning("Not that. Keep watching: the rank goes up.")
        st.text(f"Your guess: {chosen}")  # typed text: plain, never markdown


def score_line() -> None:
    """This session's score, in one line."""
    score = st.session_state.get(SCORE, new_score())
    if score["played"] == 0:
        st.caption("Score: no round played yet. A round counts when it is named or revealed.")
        return
    st.metric("Your score", f"{score['named']} of {score['played']}",
              help="Rounds you named, of the rounds played in this session.")
    if score["named"]:
        st.caption(f"Named at rank {score['rank_sum'] / score['named']:.1f} on average.")


def quiz_voter(choices: Sequence[str]) -> bool:
    """A phone in a room poll: the poll's form instead of the answer buttons. Returns whether it drew it."""
    poll = current_poll()
    if poll is None or poll.kind != "choice" or is_presenting():
        return False
    voter_form("quiz", poll, options=choices,
               normalise=lambda typed: matching_option(typed, poll.options) or typed)
    return True


def quiz_room(round_number: int, name: str, choices: Sequence[str], *, revealed: bool,
              link_params: Mapping[str, str]) -> None:
    """The presenter view's room: the QR code, "what is it?" on this round, votes against the answer."""
    subject = f"round {round_number}"
    spec = PollSpec("choice", "What is it?", subject, options=tuple(choices), answer=answer_of(name))
    room_section("quiz", "quiz", link_params, spec=spec,
                 figure=lambda tally: presenter_figure(answer_votes_figure(
                     tally.counts, answer=tally.poll.answer if revealed and tally.poll.subject == subject
                     else None), height=420))
