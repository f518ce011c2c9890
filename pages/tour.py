"""From the notebook: the original notebook replayed one step at a time, every number from lowrank_core."""

import pandas as pd
import streamlit as st

from lowrank_core import parameter_budget
from ui import scrubbing
from ui.charts import outputs_scatter
from ui.exports import summary_html
from ui.limits import MAX_SEED, TOUR_MAX_SIDE
from ui.links import rank_field, sync_url
from ui.matrix.figures import matrix_heatmap, spectrum_figure
from ui.matrix.heatmaps import scrubbed_heatmaps
from ui.page import page_footer, page_start
from ui.poll.views import room_section
from ui.presenter import presenter_figure
from ui.presenter.keys import rank_keys, slide_deck
from ui.presenter.notes import presenter_notes
from ui.state import clamp_state, unless_set
from ui.stills import heatmap_image, png_bytes, spectrum_strip
from ui.tour.cache import notebook_run, scrub_payload
from ui.tour.code import SVD_NOTE, tour_code
from ui.tour.links import parse_tour_link, tour_link_params
from ui.tour.notes import TOUR_NOTES, TOUR_STEPS


def apply_link(incoming: dict) -> list[str]:
    """A link's sizes and seed now, its rank once the matrix is known."""
    linked = parse_tour_link(incoming)
    for name, value in linked.values.items():
        st.session_state[f"tour_{name}"] = int(value)
    if "rank" in incoming:
        st.session_state["tour_link_rank"] = incoming["rank"]
    return list(linked.notices)


start = page_start(
    "From the notebook", apply_link=apply_link,
    intro="The notebook behind this app makes a matrix that is secretly low rank, finds its rank, factors it "
          "with the SVD, and shows that a layer using two thin factors computes the same thing with fewer "
          "numbers. Change the sizes and the seed; every step updates.")
present = start.present
charts = {}
slide = slide_deck("tour_slide", TOUR_STEPS) if present else 0  # the presenter view: one step a slide


def step(number: int, title: str) -> bool:
    """Draw a step's heading and say whether its body is shown (every step; one slide when presenting)."""
    if present and number != slide:
        return False
    st.subheader(f"{number}. {title}")
    return True


# --- Step 1: the matrix -------------------------------------------------------------------------------
if step(1, "A matrix built from two thin ones"):
    st.markdown(
        "Multiplying an m×k matrix by a k×n one gives an m×n matrix. Each of its rows is a mix of the same "
        "k rows, so its rank is at most k, however large m and n are."
    )
columns = (st.expander("The matrix: m, n, k and the seed") if present else st.container()).columns(4)
with columns[0]:
    m = int(st.number_input("m (rows)", min_value=1, max_value=TOUR_MAX_SIDE, step=1, key="tour_m",
                            **unless_set("tour_m", value=15), persist_state="session"))
with columns[1]:
    n = int(st.number_input("n (columns)", min_value=1, max_value=TOUR_MAX_SIDE, step=1, key="tour_n",
                            **unless_set("tour_n", value=15), persist_state="session"))
clamp_state("tour_k", 1, min(m, n), 4)
with columns[2]:
    k = int(st.number_input("k (inner size)", min_value=1, max_value=min(m, n), step=1, key="tour_k",
                            persist_state="session"))
with columns[3]:
    seed = int(st.number_input("seed", min_value=0, max_value=MAX_SEED, step=1, key="tour_seed",
                               **unless_set("tour_seed", value=0), persist_state="session"))
run = notebook_run(m, n, k, seed)  # the shown code, executed (lowrank_core.notebook)
rank = run.rank
code = {"m": m, "n": n, "k": k, "seed": seed, "rank": rank}
budget = parameter_budget(m, n, rank)
if not present or slide == 1:
    st.code(tour_code(1, **code, lower_rank=1), language="python")
    charts["W"] = presenter_figure(matrix_heatmap(run.W.numpy(), title=f"W ({m}×{n})", symmetric=False,
                                                 height=360))
    st.plotly_chart(charts["W"], key="tour_W")

# --- Step 2: the rank ---------------------------------------------------------------------------------
if step(2, "Its rank"):
    st.markdown(
        "`matrix_rank` counts the singular values above a small tolerance, because float32 rounding leaves "
        "the 'zero' ones at about 1e-7 rather than exactly 0."
    )
    st.code(tour_code(2, **code, lower_rank=1), language="python")
    st.metric("rank of W", rank)

# --- Step 3: the SVD ----------------------------------------------------------------------------------
if step(3, "The singular value decomposition"):
    st.markdown(
        "The SVD writes W = U diag(S) Vᵀ with orthonormal U and V and S sorted from large to small. "
        f"Only the first {rank} singular values are far from zero: on a log scale the cliff after σ{rank} is "
        f"the rank. {SVD_NOTE}"
    )
    st.code(tour_code(3, **code, lower_rank=1), language="python")
    columns = st.columns(4)
    columns[0].metric("U.shape", str(tuple(run.U.shape)))
    columns[1].metric("S.shape", str(tuple(run.S.shape)))
    columns[2].metric("Vh.shape", str(tuple(run.Vh.shape)))
    if not present:
        columns[3].metric("tolerance ε·max(m, n)·σ₁", f"{run.tolerance:.3e}")
    if m != n:
        st.caption(f"Without full_matrices=False, torch.linalg.svd(W) returns a full U ({m}×{m}) and Vh "
                   f"({n}×{n}); the extra columns meet only zero singular values.")
    charts["Singular values"] = presenter_figure(
        spectrum_figure(run.S.numpy(), rank=rank, tolerance=run.tolerance, log=True, height=340))
    st.plotly_chart(charts["Singular values"], key="tour_spectrum")

# --- Step 4: the factors ------------------------------------------------------------------------------
if step(4, "Two thin factors"):
    st.markdown(
        f"Keeping the first r = {rank} singular triplets gives a = U_r diag(S_r) and b = V_rᵀ (the first r "
        "rows of Vh). Their product is the best rank-r approximation of W, which here is W itself."
    )
    st.code(tour_code(4, **code, lower_rank=1), language="python")
    columns = st.columns(4)
    columns[0].metric("a.shape", str(tuple(run.a.shape)))
    columns[1].metric("b.shape", str(tuple(run.b.shape)))
    columns[2].metric("W_lr.shape", str(tuple(run.W_lr.shape)))
    columns[3].metric("largest |W_lr − W|", f"{run.w_lr_max_abs_difference:.2e}")
    columns = st.columns(2)
    charts["Factor a"] = presenter_figure(matrix_heatmap(run.a.numpy(), title=f"a ({m}×{rank})", height=320))
    charts["Factor b"] = presenter_figure(matrix_heatmap(run.b.numpy(), title=f"b ({rank}×{n})", height=320))
    with columns[0]:
        st.plotly_chart(charts["Factor a"], key="tour_a")
    with columns[1]:
        st.plotly_chart(charts["Factor b"], key="tour_b")

# --- Step 5: storage ----------------------------------------------------------------------------------
if step(5, "Fewer numbers to store"):
    st.markdown(
        f"W holds m·n numbers; the factors hold r·(m + n). They save space while r is below "
        f"mn/(m + n) = {budget.break_even_rank:.1f}."
    )
    st.code(tour_code(5, **code, lower_rank=1), language="python")
    columns = st.columns(3)
    columns[0].metric("W.nelement()", run.W.nelement())
    columns[1].metric("a.nelement() + b.nelement()", run.a.nelement() + run.b.nelement())
    columns[2].metric("ratio", f"{budget.ratio:.2f}×")

# --- Step 6: a layer ----------------------------------------------------------------------------------
if step(6, "The same layer, two ways"):
    st.markdown(
        "A linear layer computes z = W x + bias. With W_lr in place of W it gives the same outputs up to "
        "float32 rounding, because W_lr equals W when r is the rank."
    )
    st.code(tour_code(6, **code, lower_rank=1), language="python")
    columns = st.columns([2, 3])
    with columns[0]:
        if not present:
            table = pd.DataFrame({"z": run.z.numpy(), "z_lr": run.z_lr.numpy()})
            st.dataframe(table, height=300, key="tour_outputs_table")
        st.metric("largest |z − z_lr|", f"{run.max_abs_difference:.2e}")
    with columns[1]:
        charts["Outputs at the rank"] = presenter_figure(
            outputs_scatter(run.z.numpy(), run.z_lr.numpy(), rank=rank, height=340))
        st.plotly_chart(charts["Outputs at the rank"], key="tour_outputs")

# --- Step 7: a lower rank -----------------------------------------------------------------------------
if step(7, "Below the rank, the outputs part"):
    st.markdown(
        f"Now truncate harder. Below r = {rank} the factors can no longer hold W, and the outputs drift "
        "apart by roughly the first dropped singular value times the size of x. Drag the rank: W_r and what "
        "it misses, W − W_r, follow at once; the numbers and the outputs follow when you let go."
    )
if st.session_state.get("tour_case") != (m, n, k, seed):
    st.session_state["tour_case"] = (m, n, k, seed)
    st.session_state["tour_rank"] = min(k, min(m, n))
linked_rank = st.session_state.pop("tour_link_rank", None)
if linked_rank is not None:  # the link's rank, checked against this matrix
    value, notice = rank_field(min(m, n), min(k, min(m, n)), low=1).parse(linked_rank)
    st.session_state["tour_rank"] = int(value)
    start.add([notice] if notice else [])
clamp_state("tour_rank", 1, min(m, n), min(k, min(m, n)))
chosen = int(st.session_state["tour_rank"]) if min(m, n) > 1 else 1
if not present or slide == 7:
    rank_keys("tour_rank", 1, min(m, n))
    drawing = scrubbing.drawing_mode("tour", "tour_scrub")
    if min(m, n) == 1:
        st.caption("With a single row or column the only rank is 1.")
    elif drawing.browser:  # W, W_r and W − W_r at every rank, drawn in the browser; the settled rank returns
        scrubbed = scrubbed_heatmaps(scrub_payload(m, n, k, seed), key="tour_scrub", min_rank=1,
                                     rank=st.session_state["tour_rank"])
        scrubbing.watch("tour", "tour_scrub", scrubbed.status)
        chosen = st.session_state["tour_rank"] = scrubbed.rank
    else:
        scrubbing.server_notice("tour", drawing)
        chosen = int(st.slider("rank r", min_value=1, max_value=min(m, n), key="tour_rank",
                               persist_state="session"))
    st.code(tour_code(7, **code, lower_rank=chosen), language="python")
lowered = notebook_run(m, n, k, seed, chosen)
if not present or slide == 7:
    columns = st.columns([2, 3])
    with columns[0]:
        st.metric(f"largest |z − z_lr| at rank {chosen}", f"{lowered.lower_max_abs_difference:.2e}")
        st.metric("first dropped singular value σᵣ₊₁", f"{lowered.first_dropped:.2e}")
        if not present:
            st.caption(
                "Eckart–Young–Mirsky bounds the output's error: ‖z − z_r2‖ ≤ σᵣ₊₁·‖x‖ "
                f"(here the error is {lowered.bound_share:.0%} of that bound, up to float32 rounding)."
            )
    with columns[1]:
        charts["Outputs at a lower rank"] = presenter_figure(
            outputs_scatter(lowered.z.numpy(), lowered.z_lower.numpy(), rank=chosen, height=340))
        st.plotly_chart(charts["Outputs at a lower rank"], key="tour_outputs_lowered")
presenter_notes(TOUR_NOTES.get(slide, ""), key="tour_notes")  # the presenter view only

# --- the address: this view as a link -----------------------------------------------------------------
link_params = tour_link_params(m=m, n=n, k=k, seed=seed, rank=chosen)
sync_url(link_params)
if present:  # the room's QR code of this view, then nothing more in front of the room
    room_section("tour", "", link_params, spec=None)
    st.stop()

# --- Downloads and sharing ----------------------------------------------------------------------------
st.subheader("Downloads and sharing")
numbers = [
    ("rank of W", str(rank)), ("tolerance ε·max(m, n)·σ₁", f"{run.tolerance:.3e}"),
    ("W.nelement()", str(budget.dense)), ("a.nelement() + b.nelement()", str(budget.factored)),
    ("largest |z − z_lr|", f"{run.max_abs_difference:.2e}"),
    (f"largest |z − z_lr| at rank {chosen}", f"{lowered.lower_max_abs_difference:.2e}"),
    ("first dropped singular value σᵣ₊₁", f"{lowered.first_dropped:.2e}"),
]


def make_summary(link: str) -> str:
    """The tour's view as one HTML page: W, its spectrum, the numbers and the link."""
    pictures = [(f"W ({m}×{n})", png_bytes(heatmap_image(run.W.numpy(), max_side=360))),
                (f"singular values (blue: the {rank} kept)",
                 png_bytes(spectrum_strip(run.S.numpy(), rank, width=360, height=160)))]
    notes = [f"W = rand({m}, {k}) @ rand({k}, {n}) with torch.Generator().manual_seed({seed}).",
             f"The lower rank of step 7 is {chosen}."]
    return summary_html(title=f"From the notebook: m = {m}, n = {n}, k = {k}, seed {seed}", link=link,
                        numbers=numbers, pictures=pictures, notes=notes,
                        link_complete=link.startswith("http"))


page_footer("tour", link_params, charts=charts, make_summary=make_summary, path="")  # the default page: /
