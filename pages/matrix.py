"""Matrix explorer: source -> rank -> views -> numbers -> downloads."""

import io

import numpy as np
import streamlit as st
import torch

from lowrank_core import (
    LowRankError,
    numerical_rank,
    numerical_tolerance,
    optimal_hard_threshold_rank,
    parameter_budget,
    predicted_error_curve,
    rank_for_energy,
    truncation_error,
)
from lowrank_core.metrics import SPECTRAL_MEASURE_MAX_ENTRIES
from ui.cache import source_error_curve, source_factorization, source_matrix
from ui.figures import (
    display_indices,
    energy_figure,
    error_figure,
    heatmap_panels,
    matrix_heatmap,
    spectrum_figure,
)
from ui.inputs import apply_rank_rule, clamp_state, escape_markdown, matrix_source_picker, rank_rule_picker

ENERGY_TARGETS = (0.9, 0.99, 0.999)
MEASURE_SPECTRAL_MAX_ENTRIES = min(40_000, SPECTRAL_MEASURE_MAX_ENTRIES)  # 200 x 200: an SVD under ~20 ms


def npy_bytes(array: np.ndarray) -> bytes:
    """``np.save`` into memory, without pickle."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


def csv_maker(array: np.ndarray):
    """A callable that formats the array as CSV only when the download is clicked (formatting is slow)."""
    def make() -> bytes:
        buffer = io.StringIO()
        np.savetxt(buffer, array, delimiter=",", fmt="%.9g")
        return buffer.getvalue().encode()
    return make


st.title("Matrix explorer")
st.caption("Source → rank → views → numbers → downloads.")

# --- 1. Source ----------------------------------------------------------------------------------------
st.header("1. Source")
try:
    source = matrix_source_picker("matrix")
    if source is None:
        st.stop()
    loaded = source_matrix(source.key, source)
    factorization = source_factorization(source.key, source)
except LowRankError as err:
    st.error(escape_markdown(str(err)))
    st.stop()
if not bool(torch.isfinite(factorization.S).all()):  # entries near ±3.4e38 are finite, their SVD may not be
    st.error("The singular values of this matrix overflow float32 (they exceed about 3.4e38). Scale the "
             "values down and load it again.")
    st.stop()
for notice in loaded.notices:
    st.info(escape_markdown(notice))
W = loaded.values  # (m, n) float32
m, n = W.shape
S = factorization.S  # (k,)
k = factorization.max_rank
tolerance = float(numerical_tolerance(S, factorization.shape))
num_rank = numerical_rank(S, factorization.shape)
st.caption(f"W is {m} × {n}; numerical rank {num_rank}.")

# --- 2. Rank ------------------------------------------------------------------------------------------
st.header("2. Rank")
if st.session_state.get("matrix_source_key") != source.key:  # a new matrix: start at its numerical rank
    st.session_state["matrix_source_key"] = source.key
    st.session_state["matrix_rank"] = num_rank
clamp_state("matrix_rank", 0, k, num_rank)
known_sigma = source.known_noise_sigma
rule = rank_rule_picker("matrix", known_noise_sigma=known_sigma)
if rule.name != "fixed":
    outcome = apply_rank_rule(rule, factorization, slider_rank=st.session_state["matrix_rank"])
    st.session_state["matrix_rank"] = outcome.rank
rank = int(st.slider("Rank r", min_value=0, max_value=k, key="matrix_rank", disabled=rule.name != "fixed",
                     help="Set by the rule above unless the rule is 'Fixed'."))
outcome = apply_rank_rule(rule, factorization, slider_rank=rank)
st.markdown(f"**Rule** · {outcome.explanation}")

oht = optimal_hard_threshold_rank(S, factorization.shape, noise_sigma=known_sigma)
if known_sigma is not None:
    st.info(
        f"**Why the numerical rank says {num_rank} while the signal has fewer directions.** "
        "The numerical rank counts singular values above float32 rounding, "
        f"ε·max(m, n)·σ₁ = {tolerance:.2e}. Noise of σ = {known_sigma:.3g} lifts every singular value "
        "far above that, so nearly every direction counts. The optimal hard threshold (Gavish and Donoho, "
        "2014) cuts at the top of the noise bulk instead: τ = λ*(β)·√max(m, n)·σ, with λ* = 4/√3 for a "
        f"square matrix. Here τ = {oht.threshold:.3g} keeps {oht.rank}: the singular values that stand "
        "out of the noise."
    )

# --- 3. Views -----------------------------------------------------------------------------------------
st.header("3. Views")
rows, cols = display_indices(m), display_indices(n)
a, b = factorization.factors(rank)  # (m, r), (r, n)
shown = W[rows][:, cols].numpy()
shown_low_rank = (a[rows] @ b[:, cols]).numpy()  # only the displayed entries of W_r
st.plotly_chart(
    heatmap_panels(
        [("W", shown), (f"W_r (r = {rank})", shown_low_rank), ("W − W_r", shown - shown_low_rank)],
        rows=rows, cols=cols,
    ),
    key="matrix_heatmaps_chart",
)
if len(rows) < m or len(cols) < n:
    st.caption(f"Showing {len(rows)} of {m} rows and {len(cols)} of {n} columns (evenly spaced) to keep the "
               "page light; hover shows each entry's real row and column.")
st.caption("One colour scale for all three, centred on 0: what Wᵣ misses shows in the residual's colours.")

log_scale = st.toggle("Logarithmic singular values", value=True, key="matrix_log")
energy_ranks = {f"{target * 100:g} %": rank_for_energy(S, target, total_energy=factorization.total_energy)
                for target in ENERGY_TARGETS}
st.plotly_chart(
    spectrum_figure(S.numpy(), rank=rank, tolerance=tolerance, threshold=oht.threshold,
                    energy_ranks=energy_ranks, log=log_scale),
    key="matrix_spectrum_chart",
)
st.caption(f"Dotted: numerical tolerance {tolerance:.2e}. Dashed: optimal hard threshold {oht.threshold:.3g} "
           f"({'known' if oht.noise_known else 'estimated'} σ = {oht.noise_sigma:.3g}). "
           "Triangles: the rank reaching 90 %, 99 % and 99.9 % of the energy.")

measured_at, measured = source_error_curve(source.key, source)
columns = st.columns(2)
with columns[0]:
    st.plotly_chart(energy_figure(factorization.energy().numpy(), rank=rank), key="matrix_energy_chart")
with columns[1]:
    st.plotly_chart(error_figure(predicted_error_curve(factorization, relative=True).numpy(), measured_at,
                                 measured, rank=rank), key="matrix_error_chart")
st.caption("Left: the share of ‖W‖² kept at each rank. Right: the relative Frobenius error "
           "‖W − Wᵣ‖ / ‖W‖ measured on reconstructions (dots) lies on the Eckart–Young prediction "
           "√(σᵣ₊₁² + … + σₖ²) / ‖W‖ (line).")

# --- 4. Numbers ---------------------------------------------------------------------------------------
st.header("4. Numbers")
errors = truncation_error(W, factorization, rank, measure_spectral=W.numel() <= MEASURE_SPECTRAL_MAX_ENTRIES)
largest = float(S[0]) if k else 0.0
spectral = errors.spectral if errors.spectral is not None else errors.predicted_spectral
relative_spectral = spectral / largest if largest > 0 else 0.0
budget = parameter_budget(m, n, rank)
columns = st.columns(3)
columns[0].metric("numerical rank", num_rank, help=f"Singular values above {tolerance:.3e}.")
columns[1].metric("rank kept", rank)
columns[2].metric("energy kept", f"{errors.energy_kept:.4%}", help="(σ₁² + … + σᵣ²) / ‖W‖²")
columns = st.columns(3)
columns[0].metric("relative Frobenius error", f"{errors.relative:.4e}",
                  help="‖W − Wᵣ‖ / ‖W‖ in the Frobenius norm, measured on the reconstruction.")
spectral_help = ("measured on the reconstruction." if errors.spectral is not None else
                 f"by Eckart–Young–Mirsky: σᵣ₊₁ / σ₁ (measured only up to {MEASURE_SPECTRAL_MAX_ENTRIES:,} "
                 "entries).")
columns[1].metric("relative spectral error", f"{relative_spectral:.4e}",
                  help="‖W − Wᵣ‖₂ / ‖W‖₂, " + spectral_help)
columns[2].metric("break-even rank", f"{budget.break_even_rank:.1f}",
                  help="mn / (m + n): below it the factors hold fewer numbers than W.")
columns = st.columns(3)
columns[0].metric("parameters, dense", f"{budget.dense:,}", help="m·n")
columns[1].metric("parameters, factored", f"{budget.factored:,}", help="r·(m + n), Σ folded into a")
columns[2].metric("dense / factored", "∞" if budget.factored == 0 else f"{budget.ratio:.3g}×",
                  help="How many times fewer numbers the factors hold (below 1: they hold more).")

# --- 5. Downloads -------------------------------------------------------------------------------------
st.header("5. Downloads: the factors a and b")
if rank == 0:
    st.info("At rank 0 there are no factors to show or download.")
else:
    a_np, b_np = a.numpy(), b.numpy()
    columns = st.columns(2)
    with columns[0]:
        a_rows, a_cols = display_indices(m), display_indices(rank)
        st.plotly_chart(matrix_heatmap(a_np[np.ix_(a_rows, a_cols)], rows=a_rows, cols=a_cols,
                                       title=f"a = U_r diag(S_r) ({m}×{rank})"), key="matrix_a")
        st.download_button("a.npy", npy_bytes(a_np), file_name="a.npy", mime="application/octet-stream",
                           on_click="ignore", key="matrix_download_a_npy")
        st.download_button("a.csv", csv_maker(a_np), file_name="a.csv", mime="text/csv", on_click="ignore",
                           key="matrix_download_a_csv")
    with columns[1]:
        b_rows, b_cols = display_indices(rank), display_indices(n)
        st.plotly_chart(matrix_heatmap(b_np[np.ix_(b_rows, b_cols)], rows=b_rows, cols=b_cols,
                                       title=f"b = V_rᵀ ({rank}×{n})"), key="matrix_b")
        st.download_button("b.npy", npy_bytes(b_np), file_name="b.npy", mime="application/octet-stream",
                           on_click="ignore", key="matrix_download_b_npy")
        st.download_button("b.csv", csv_maker(b_np), file_name="b.csv", mime="text/csv", on_click="ignore",
                           key="matrix_download_b_csv")
    st.caption("a @ b is Wᵣ. The .npy files load with numpy.load(path, allow\\_pickle=False); the CSV files "
               "are written when you click.")
