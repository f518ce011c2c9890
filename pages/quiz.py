"""Quiz for the room: a hidden picture at rank 1, 2, 3, 5, 8, … until someone names it.

Round -> the hidden picture (one of 21, seeded) -> its low-rank version, the rank rising step by step (a
button, ↑/↓, or on its own every few seconds) -> four shuffled answers or a typed one -> reveal: the name and
the original -> the session's score. In the presenter view, the room answers from its phones (a poll).
"""

import time

import streamlit as st

from lowrank_core import LowRankError, parameter_budget
from lowrank_core.sources import QUIZ_NAMES
from ui.image import cache as image_cache
from ui.limits import MAX_QUIZ_ROUND
from ui.links import encode_params, parse_params, sync_url
from ui.page import page_start
from ui.presenter import presenter_pictures
from ui.presenter.keys import rank_keys
from ui.quiz import quiz_fields, quiz_photo, quiz_schedule
from ui.quiz.cache import load_picture
from ui.quiz.pictures import answer_of, choices_for
from ui.quiz.views import answer_area, quiz_room, quiz_voter, reveal, score_line
from ui.text import escape_markdown

AUTO_SECONDS = 4  # the rank rises on its own this often while "Raise the rank on its own" is on


def new_round() -> None:
    """Button: the next picture, back to rank 1."""
    st.session_state["quiz_round"] = (st.session_state.get("quiz_round", 0) + 1) % (MAX_QUIZ_ROUND + 1)
    st.session_state["quiz_step"] = 0
    st.session_state["quiz_revealed"] = False
    st.session_state["quiz_guess"] = None


def next_rank(last_step: int) -> None:
    """Button: one step up the rank schedule (it stops at the full rank)."""
    st.session_state["quiz_step"] = min(st.session_state.get("quiz_step", 0) + 1, last_step)
    st.session_state["quiz_advanced_at"] = time.monotonic()


def apply_link(incoming: dict) -> list[str]:
    """A link's round now; its step once the picture (and so its schedule) is known."""
    linked = parse_params(quiz_fields(1)[:1], incoming)
    st.session_state["quiz_round"] = int(linked.values.get("round", 0))
    st.session_state["quiz_revealed"] = False
    st.session_state["quiz_guess"] = None
    st.session_state["quiz_link_step"] = incoming.get("step")
    st.session_state["quiz_step"] = 0
    return list(linked.notices)


start = page_start("Quiz: name that picture", apply_link=apply_link,
                   caption="A picture, hidden behind its rank-r approximation. The rank rises step by step: "
                           "call out what it is as soon as you can see it.")
present = start.present
for key, default in (("quiz_round", 0), ("quiz_step", 0), ("quiz_revealed", False), ("quiz_guess", None)):
    st.session_state.setdefault(key, default)

round_number = st.session_state["quiz_round"]
answer = quiz_photo(round_number, QUIZ_NAMES)
st.session_state["quiz_answer"] = answer
try:
    loaded = load_picture(answer)
    mode = "rgb" if loaded.pixels.shape[0] == 3 else "luminance"
    key = f"quiz:{answer}"
    with st.spinner("Factorizing the hidden picture…"):
        codec = image_cache.codec(key, mode, "exact", None, loaded.pixels)
except LowRankError as err:
    st.error(escape_markdown(str(err)))
    st.stop()
schedule = quiz_schedule(codec.max_rank)
linked_step = st.session_state.pop("quiz_link_step", None)
if linked_step is not None:  # the link's step, checked against this picture's schedule
    parsed = parse_params(quiz_fields(len(schedule))[1:], {"step": linked_step})
    start.add(list(parsed.notices))
    st.session_state["quiz_step"] = int(parsed.values.get("step", 0))
step = min(max(int(st.session_state["quiz_step"]), 0), len(schedule) - 1)
st.session_state["quiz_step"] = step
rank_keys("quiz_step", 0, len(schedule) - 1)  # ↑/↓ walk the schedule
choices = choices_for(round_number, answer, QUIZ_NAMES)

# --- the controls -------------------------------------------------------------------------------------
columns = st.columns([1.2, 1, 1, 1.6], vertical_alignment="center")
columns[0].button("Next rank ▶", key="quiz_next", on_click=next_rank, args=(len(schedule) - 1,),
                  disabled=step >= len(schedule) - 1 or st.session_state["quiz_revealed"], type="primary")
columns[1].button("Reveal", key="quiz_reveal", on_click=reveal, args=(round_number,),
                  disabled=st.session_state["quiz_revealed"])
columns[2].button("New round", key="quiz_new", on_click=new_round)
with columns[3]:
    auto = st.toggle(f"Raise the rank on its own (every {AUTO_SECONDS} s)", key="quiz_auto",
                     persist_state="session")


# --- the picture --------------------------------------------------------------------------------------
@st.fragment(run_every=AUTO_SECONDS if auto and not st.session_state["quiz_revealed"] else None)
def hidden_picture() -> None:
    """The picture at the current step; with auto-advance on, a step up every AUTO_SECONDS seconds."""
    now = time.monotonic()
    current = st.session_state["quiz_step"]
    if auto and not st.session_state["quiz_revealed"] and current < len(schedule) - 1:
        last = st.session_state.setdefault("quiz_advanced_at", now)
        if now - last >= AUTO_SECONDS - 0.5:  # a timed rerun (a full rerun inside the interval waits)
            current += 1
            st.session_state["quiz_step"] = current
            st.session_state["quiz_advanced_at"] = now
    rank = schedule[current]
    height, width = codec.height, codec.width
    size = image_cache.display_size(height, width)
    shown = image_cache.display_jpeg(image_cache.codec_identity(key, codec), (rank,), "float32", size, codec)
    budget = parameter_budget(height, width, rank)
    revealed = st.session_state["quiz_revealed"]
    pictures = presenter_pictures()  # fits the screen's height in the presenter view
    fit = "stretch" if present else "content"
    if revealed:
        original = image_cache.original_jpeg(key, mode, size, loaded.pixels)
        left, right = pictures.columns(2)
        left.image(shown, caption=f"rank {rank}", width=fit)
        right.image(original, caption="the original", width=fit)
    else:
        pictures.image(shown, width=fit)
    where = f"Rank **{rank}** of {codec.max_rank} · step {current + 1} of {len(schedule)}"
    st.markdown(f"### {where} · it was {answer_of(answer).lower()}" if revealed else f"### {where}")
    if not present:
        st.caption(f"Each channel stores r·(H + W) = {budget.factored:,} numbers instead of H·W = "
                   f"{budget.dense:,}: {budget.factored / budget.dense:.1%} of them.")
    state = {"round": st.session_state["quiz_round"], "step": current}
    sync_url(encode_params(quiz_fields(len(schedule)), state))


hidden_picture()

# --- answers, score and the room ----------------------------------------------------------------------
rank_now = schedule[st.session_state["quiz_step"]]
if not quiz_voter(choices):  # a phone in a room poll answers there instead
    answer_area(round_number, answer, choices, rank=rank_now, revealed=st.session_state["quiz_revealed"])
score_line()
if present:
    quiz_room(round_number, answer, choices, revealed=st.session_state["quiz_revealed"],
              link_params=encode_params(quiz_fields(len(schedule)),
                                        {"round": round_number, "step": st.session_state["quiz_step"]}))
