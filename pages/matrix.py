"""Matrix explorer: source -> rank -> views -> numbers -> downloads, kept in the address as a link."""

import io
import time

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
    symmetric_limit,
)
from ui.inputs import (
    apply_matrix_link,
    apply_rank_rule,
    clamp_state,
    escape_markdown,
    matrix_source_picker,
    rank_rule_picker,
    reset_generator_settings,
    unless_set,
)
from ui.workshop import (
    MAX_SWEEP_FRAMES,
    SWEEP_FRAME_SECONDS,
    chart_png_exports,
    ensure_navigation,
    gif_bytes,
    heatmap_image,
    html_summary_button,
    incoming_params,
    is_presenting,
    matrix_link_params,
    matrix_sweep_frames,
    notice_box,
    panels_image,
    png_bytes,
    presenter_figure,
    rank_field,
    share_box,
    spectrum_strip,
    summary_html,
    sweep_ranks,
    sync_url,
)

ENERGY_TARGETS = (0.9, 0.99, 0.999)
MEASURE_SPECTRAL_MAX_ENTRIES = min(40_000, SPECTRAL_MEASURE_MAX_ENTRIES)  # 200 x 200: an SVD under ~20 ms
PRIMARY_NUMBERS = ("rank kept", "energy kept", "relative Frobenius error", "dense / factored")


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


def start_sweep() -> None:
    """Play button: the fixed rule, the slider at the sweep's last rank, and a sweep in this run."""
    st.session_state["matrix_rule"] = "fixed"
    st.session_state["matrix_rank"] = int(st.session_state["matrix_sweep_to"])
    st.session_state["matrix_sweep_play"] = True


ensure_navigation()  # a link opened first on a fresh server: run through app.py
present = is_presenting()
st.title("Matrix explorer")
if not present:
    st.caption("Source → rank → views → numbers → downloads. The address keeps the view: copy it to share.")
notice_slot = st.empty()
notices = st.session_state.pop("matrix_link_notices", [])
incoming = incoming_params()
if incoming:
    notices += apply_matrix_link(incoming, "matrix")


def show_notices() -> None:
    """The link's unusable settings, at the top of the page."""
    with notice_slot.container():
        notice_box(notices)


show_notices()

# --- 1. Source ----------------------------------------------------------------------------------------
if present:
    settings = st.expander("Source and rank rule", expanded=False)
else:
    st.header("1. Source")
    settings = st.container()
with settings:
    try:
        source = matrix_source_picker("matrix")
        if source is None:
            sync_url({"src": st.session_state.get("matrix_source", "upload")})
            st.stop()
        loaded = source_matrix(source.key, source)
        factorization = source_factorization(source.key, source)
    except LowRankError as err:
        generator = st.session_state.pop("matrix_link_generator", None)
        if generator:  # a linked generator setting that cannot be used: its defaults, and say so
            reset_generator_settings(generator, "matrix")
            st.session_state["matrix_link_notices"] = [
                *notices, f"The link's matrix could not be made ({err}); the generator's defaults are used."]
            st.rerun()
        st.error(escape_markdown(str(err)))
        st.stop()
st.session_state.pop("matrix_link_generator", None)
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
if not present:
    st.caption(f"W is {m} × {n}; numerical rank {num_rank}.")

# --- 2. Rank ------------------------------------------------------------------------------------------
if not present:
    st.header("2. Rank")
if st.session_state.get("matrix_source_key") != source.key:  # a new matrix: start at its numerical rank
    st.session_state["matrix_source_key"] = source.key
    st.session_state["matrix_rank"] = num_rank
    st.session_state["matrix_sweep_to"] = min(k, MAX_SWEEP_FRAMES)
linked_rank = st.session_state.pop("matrix_link_rank", None)
if linked_rank is not None:  # the link's rank, checked now that the matrix's largest rank is known
    value, notice = rank_field(k, num_rank).parse(linked_rank)
    st.session_state["matrix_rank"] = int(value)
    if notice:
        notices.append(notice)
        show_notices()
clamp_state("matrix_rank", 0, k, num_rank)
clamp_state("matrix_sweep_to", 1, k, min(k, MAX_SWEEP_FRAMES))
known_sigma = source.known_noise_sigma
with settings:
    rule = rank_rule_picker("matrix", known_noise_sigma=known_sigma)
if rule.name != "fixed":
    outcome = apply_rank_rule(rule, factorization, slider_rank=st.session_state["matrix_rank"])
    st.session_state["matrix_rank"] = outcome.rank
rank = int(st.slider("Rank r", min_value=0, max_value=k, key="matrix_rank", disabled=rule.name != "fixed",
                     help="Set by the rule above unless the rule is 'Fixed'."))
outcome = apply_rank_rule(rule, factorization, slider_rank=rank)
columns = st.columns([1.2, 1, 3], vertical_alignment="bottom")
with columns[0]:
    sweep_to = int(st.number_input("Sweep from rank 1 to", min_value=1, max_value=k, step=1,
                                   key="matrix_sweep_to",
                                   help=f"At most {MAX_SWEEP_FRAMES} frames: above that, evenly spaced "
                                        "ranks."))
with columns[1]:
    st.button("▶ Play the sweep", key="matrix_sweep_play_button", on_click=start_sweep,
              help="Raises the rank step by step; the picture and the spectrum's kept bars move together.")
playing = bool(st.session_state.pop("matrix_sweep_play", False))
if not present:
    st.markdown(f"**Rule** · {outcome.explanation}")

oht = optimal_hard_threshold_rank(S, factorization.shape, noise_sigma=known_sigma)
if known_sigma is not None and not present:
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
if not present:
    st.header("3. Views")
rows, cols = display_indices(m), display_indices(n)
shown = W[rows][:, cols].numpy()
limit = symmetric_limit(shown)
charts = {}


def views_at(r: int) -> tuple:
    """The heatmaps of W, W_r and W − W_r (shown entries only) and the spectrum with r bars kept."""
    a_r, b_r = factorization.factors(r)  # (m, r), (r, n)
    low_rank = (a_r[rows] @ b_r[:, cols]).numpy()  # only the displayed entries of W_r
    heatmaps = heatmap_panels(
        [("W", shown), (f"W_r (r = {r})", low_rank), ("W − W_r", shown - low_rank)], rows=rows, cols=cols,
    )
    spectrum = spectrum_figure(S.numpy(), rank=r, tolerance=tolerance, threshold=oht.threshold,
                               energy_ranks=energy_ranks, log=log_scale)
    return (presenter_figure(heatmaps, height=560), presenter_figure(spectrum, height=430)), low_rank


heatmap_slot = st.empty()
if not present:
    if len(rows) < m or len(cols) < n:
        st.caption(f"Showing {len(rows)} of {m} rows and {len(cols)} of {n} columns (evenly spaced) to keep "
                   "the page light; hover shows each entry's real row and column.")
    st.caption("One colour scale for all three, centred on 0: what Wᵣ misses shows in the residual's "
               "colours.")
log_scale = st.toggle("Logarithmic singular values", key="matrix_log", **unless_set("matrix_log", value=True))
energy_ranks = {f"{target * 100:g} %": rank_for_energy(S, target, total_energy=factorization.total_energy)
                for target in ENERGY_TARGETS}
spectrum_slot = st.empty()
if playing:  # pictures while it plays (they update far faster than charts), the charts again at the end
    for frame_rank in sweep_ranks(rank):
        a_r, b_r = factorization.factors(frame_rank)  # (m, r), (r, n)
        low_rank = (a_r[rows] @ b_r[:, cols]).numpy()
        panels = [("W", shown), (f"W_r (r = {frame_rank})", low_rank), ("W − W_r", shown - low_rank)]
        still = panels_image(panels, limit=limit, height=520 if present else 380)
        heatmap_slot.image(still, caption=f"Sweep: rank {frame_rank} of {sweep_to}")
        spectrum_slot.plotly_chart(presenter_figure(
            spectrum_figure(S.numpy(), rank=frame_rank, tolerance=tolerance, threshold=oht.threshold,
                            energy_ranks=energy_ranks, log=log_scale), height=430))
        time.sleep(SWEEP_FRAME_SECONDS)
(heatmaps, spectrum), shown_low_rank = views_at(rank)
heatmap_slot.plotly_chart(heatmaps, key="matrix_heatmaps_chart")
spectrum_slot.plotly_chart(spectrum, key="matrix_spectrum_chart")
charts["W, W_r and W − W_r"] = heatmaps
charts["Singular values"] = spectrum
if not present:
    sigma_kind = "known" if oht.noise_known else "estimated"
    st.caption(f"Dotted: numerical tolerance {tolerance:.2e}. Dashed: optimal hard threshold "
               f"{oht.threshold:.3g} ({sigma_kind} σ = {oht.noise_sigma:.3g}). "
               "Triangles: the rank reaching 90 %, 99 % and 99.9 % of the energy.")

measured_at, measured = source_error_curve(source.key, source)
predicted = predicted_error_curve(factorization, relative=True).numpy()  # (k + 1,)
if not present:
    columns = st.columns(2)
    with columns[0]:
        charts["Energy kept"] = energy_figure(factorization.energy().numpy(), rank=rank)
        st.plotly_chart(charts["Energy kept"], key="matrix_energy_chart")
    with columns[1]:
        charts["Relative error"] = error_figure(predicted, measured_at, measured, rank=rank)
        st.plotly_chart(charts["Relative error"], key="matrix_error_chart")
    st.caption("Left: the share of ‖W‖² kept at each rank. Right: the relative Frobenius error "
               "‖W − Wᵣ‖ / ‖W‖ measured on reconstructions (dots) lies on the Eckart–Young prediction "
               "√(σᵣ₊₁² + … + σₖ²) / ‖W‖ (line).")

# --- 4. Numbers ---------------------------------------------------------------------------------------
if not present:
    st.header("4. Numbers")
errors = truncation_error(W, factorization, rank, measure_spectral=W.numel() <= MEASURE_SPECTRAL_MAX_ENTRIES)
largest = float(S[0]) if k else 0.0
spectral = errors.spectral if errors.spectral is not None else errors.predicted_spectral
relative_spectral = spectral / largest if largest > 0 else 0.0
budget = parameter_budget(m, n, rank)
spectral_help = ("measured on the reconstruction." if errors.spectral is not None else
                 f"by Eckart–Young–Mirsky: σᵣ₊₁ / σ₁ (measured only up to {MEASURE_SPECTRAL_MAX_ENTRIES:,} "
                 "entries).")
numbers = [  # (label, value, help): the cards below and the HTML summary show the same strings
    ("numerical rank", str(num_rank), f"Singular values above {tolerance:.3e}."),
    ("rank kept", str(rank), None),
    ("energy kept", f"{errors.energy_kept:.4%}", "(σ₁² + … + σᵣ²) / ‖W‖²"),
    ("relative Frobenius error", f"{errors.relative:.4e}",
     "‖W − Wᵣ‖ / ‖W‖ in the Frobenius norm, measured on the reconstruction."),
    ("relative spectral error", f"{relative_spectral:.4e}", "‖W − Wᵣ‖₂ / ‖W‖₂, " + spectral_help),
    ("break-even rank", f"{budget.break_even_rank:.1f}",
     "mn / (m + n): below it the factors hold fewer numbers than W."),
    ("parameters, dense", f"{budget.dense:,}", "m·n"),
    ("parameters, factored", f"{budget.factored:,}", "r·(m + n), Σ folded into a"),
    ("dense / factored", "∞" if budget.factored == 0 else f"{budget.ratio:.3g}×",
     "How many times fewer numbers the factors hold (below 1: they hold more)."),
]
shown_numbers = [row for row in numbers if row[0] in PRIMARY_NUMBERS] if present else numbers
per_row = 4 if present else 3
for start in range(0, len(shown_numbers), per_row):
    columns = st.columns(per_row)
    for column, (label, value, help_text) in zip(columns, shown_numbers[start:start + per_row], strict=False):
        column.metric(label, value, help=help_text)

# --- the address: this view as a link -----------------------------------------------------------------
link_params = matrix_link_params(
    source_kind=source.kind, generator=source.generator, settings=source.params,
    noise=source.noise_sigma, rule=rule.name, energy=rule.energy_percent,
    sigma=st.session_state.get("matrix_sigma", "known"), rank=rank, default_rank=num_rank, log=log_scale,
)
sync_url(link_params)
if present:
    st.stop()

# --- 5. Downloads -------------------------------------------------------------------------------------
st.header("5. Downloads and sharing")
if rank == 0:
    st.info("At rank 0 there are no factors to show or download.")
else:
    a, b = factorization.factors(rank)  # (m, r), (r, n)
    panels = (("a", a.numpy(), f"a = U_r diag(S_r) ({m}×{rank})"), ("b", b.numpy(), f"b = V_rᵀ ({rank}×{n})"))
    for column, (name, values, title) in zip(st.columns(2), panels, strict=True):
        with column:
            rows_shown, cols_shown = display_indices(values.shape[0]), display_indices(values.shape[1])
            charts[f"Factor {name}"] = matrix_heatmap(values[np.ix_(rows_shown, cols_shown)], rows=rows_shown,
                                                      cols=cols_shown, title=title)
            st.plotly_chart(charts[f"Factor {name}"], key=f"matrix_{name}")
            st.download_button(f"{name}.npy", npy_bytes(values), file_name=f"{name}.npy",
                               mime="application/octet-stream", on_click="ignore",
                               key=f"matrix_download_{name}_npy")
            st.download_button(f"{name}.csv", csv_maker(values), file_name=f"{name}.csv", mime="text/csv",
                               on_click="ignore", key=f"matrix_download_{name}_csv")
    st.caption("a @ b is Wᵣ. The .npy files load with numpy.load(path, allow\\_pickle=False); the CSV files "
               "are written when you click.")

st.subheader("The sweep as an animated GIF")
sweep = sweep_ranks(sweep_to)
gif_key = (source.key, tuple(sweep), log_scale)
make_gif = st.button(f"Make the GIF ({len(sweep)} frames, ranks 1 to {sweep_to})", key="matrix_gif_make")
progress_slot = st.empty()  # always there, so the elements below keep their places between runs
if make_gif:
    progress = progress_slot.progress(0.0, text="Rendering the frames…")
    frames = matrix_sweep_frames(
        factorization, rows, cols, sweep, limit=limit, log=log_scale, relative_errors=predicted,
        on_frame=lambda done, total: progress.progress(done / total, text=f"Frame {done} of {total}"),
    )
    st.session_state["matrix_gif"] = (gif_key, gif_bytes(frames))
    progress_slot.empty()
gif = st.session_state.get("matrix_gif")
if gif is not None and gif[0] == gif_key:
    st.download_button("Download the sweep (GIF)", gif[1], file_name="rank_sweep.gif", mime="image/gif",
                       on_click="ignore", key="matrix_gif_download", icon="🎞️")
st.caption(f"At most {MAX_SWEEP_FRAMES} frames (evenly spaced ranks above that), each at most 512 × 512 "
           "pixels: W_r's shown entries on the page's colour scale, the kept singular values in blue below.")

st.subheader("Charts as PNG")
chart_png_exports(charts, prefix="matrix")

st.subheader("Share this view")
share_note = {
    "upload": "The uploaded file cannot travel in a link: whoever opens it is asked to upload the same file, "
              "and then gets the same rank and rule.",
    "grid": "Typed values cannot travel in a link: whoever opens it starts from the example grid.",
}.get(source.kind)
link = share_box("matrix", link_params, note=share_note)


def make_summary() -> str:
    """The one-page HTML summary: W, W_r, W − W_r and the spectrum as PNG, the numbers, the link."""
    pictures = [
        ("W", png_bytes(heatmap_image(shown, limit=limit, max_side=360))),
        (f"W_r (r = {rank})", png_bytes(heatmap_image(shown_low_rank, limit=limit, max_side=360))),
        ("W − W_r", png_bytes(heatmap_image(shown - shown_low_rank, limit=limit, max_side=360))),
        ("singular values (blue: kept)", png_bytes(spectrum_strip(S.numpy(), rank, width=360, height=160,
                                                                   log=log_scale))),
    ]
    if source.kind == "generator":
        settings_text = ", ".join(f"{name} = {value}" for name, value in source.params)
        noise_text = f", added noise σ = {source.noise_sigma:g}" if source.noise_sigma else ""
        source_note = f"Source: generator {source.generator} ({settings_text}{noise_text})."
    else:
        source_note = f"Source: {source.kind} ({source.name or 'typed values'})."
    return summary_html(
        title=f"Matrix explorer: {m} × {n} matrix at rank {rank}", link=link,
        numbers=[(label, value) for label, value, _ in numbers], pictures=pictures,
        notes=[source_note, outcome.explanation, "Colours: blue negative, white 0, red positive, one scale "
               f"for W, W_r and W − W_r (±{limit:.4g})."],
        link_complete=link.startswith("http"),
    )


html_summary_button(make_summary, prefix="matrix", file_name="matrix_summary.html")
