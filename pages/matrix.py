"""Matrix explorer: source -> rank -> views -> numbers -> downloads, kept in the address as a link."""

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
from ui import scrubbing
from ui.charts import energy_figure
from ui.exports import csv_maker, npy_bytes, summary_html
from ui.limits import MAX_FRAME_SIDE, MAX_SWEEP_FRAMES, MEASURE_SPECTRAL_MAX_ENTRIES
from ui.links import sync_url
from ui.matrix.cache import scrub_payload, source_error_curve, source_factorization, source_matrix
from ui.matrix.figures import (
    display_indices,
    error_figure,
    heatmap_panels,
    matrix_heatmap,
    matrix_sweep_frames,
    spectrum_figure,
    symmetric_limit,
)
from ui.matrix.heatmaps import scrubbed_heatmaps
from ui.matrix.inputs import matrix_source_picker, rank_rule_picker, reset_generator_settings
from ui.matrix.links import apply_linked_rank, apply_matrix_link, matrix_link_params
from ui.matrix.rules import apply_rank_rule, noise_note
from ui.page import page_footer, page_start, settings_area
from ui.poll.views import room_section
from ui.presenter import presenter_figure
from ui.presenter.keys import rank_keys
from ui.state import clamp_state, unless_set
from ui.stills import heatmap_image, panels_image, png_bytes, spectrum_strip
from ui.sweep import SWEEP_FRAME_SECONDS, sweep_controls, sweep_ranks
from ui.text import escape_markdown, format_relative

ENERGY_TARGETS = (0.9, 0.99, 0.999)
PRIMARY_NUMBERS = ("rank kept", "energy kept", "relative Frobenius error", "dense / factored")

start = page_start("Matrix explorer", apply_link=apply_matrix_link, carried_notices_key="matrix_link_notices",
                   caption="Source → rank → views → numbers → downloads. The address keeps the view: copy it "
                           "to share.")
present = start.present

# --- 1. Source ----------------------------------------------------------------------------------------
settings = settings_area(present, heading="1. Source", collapsed="Source and rank rule")
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
                *start.notices, f"The link's matrix could not be made ({err}); the generator's defaults are "
                                "used."]
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
start.add(apply_linked_rank(k, num_rank))  # the link's rank, checked now that the largest rank is known
clamp_state("matrix_rank", 0, k, num_rank)
known_sigma = source.known_noise_sigma
with settings:
    rule = rank_rule_picker("matrix", known_noise_sigma=known_sigma)
    scrubbing.draw_in_browser_toggle("matrix")
locked = rule.name != "fixed"
if locked:
    st.session_state["matrix_rank"] = apply_rank_rule(rule, factorization,
                                                      slider_rank=st.session_state["matrix_rank"]).rank
else:
    rank_keys("matrix_rank", 0, k)  # ↑/↓ move the rank
drawing = scrubbing.drawing_mode("matrix", "matrix_scrub")
sweep_to, playing = sweep_controls(
    "matrix", k, source=source.key, also={"matrix_rule": "fixed"},
    help_text="Raises the rank step by step; the picture and the spectrum's kept bars move together.")
if drawing.browser:  # W, W_r and W − W_r drawn in the browser at every rank; the settled one comes back
    scrubbed = scrubbed_heatmaps(scrub_payload(source.key, source), key="matrix_scrub", min_rank=0,
                                 rank=st.session_state["matrix_rank"], disabled=locked, play=playing)
    scrubbing.watch("matrix", "matrix_scrub", scrubbed.status)
    rank = st.session_state["matrix_rank"] = scrubbed.rank
else:
    scrubbing.server_notice("matrix", drawing)
    rank = int(st.slider("Rank r", min_value=0, max_value=k, key="matrix_rank", disabled=locked,
                         help="Set by the rule above unless the rule is 'Fixed'.", persist_state="session"))
outcome = apply_rank_rule(rule, factorization, slider_rank=rank)
if not present:
    st.markdown(f"**Rule** · {outcome.explanation}")

oht = optimal_hard_threshold_rank(S, factorization.shape, noise_sigma=known_sigma)
if known_sigma is not None and not present:
    st.info(noise_note(numerical=num_rank, tolerance=tolerance, noise_sigma=known_sigma,
                       threshold=oht.threshold, kept=oht.rank))

# --- 3. Views -----------------------------------------------------------------------------------------
if not present:
    st.header("3. Views")
rows, cols = display_indices(m), display_indices(n)
shown = W[rows][:, cols].numpy()
limit = symmetric_limit(shown)
charts = {}
heatmap_slot = st.empty() if not drawing.browser else None
if not present:
    if len(rows) < m or len(cols) < n:
        st.caption(f"Showing {len(rows)} of {m} rows and {len(cols)} of {n} columns (evenly spaced) to keep "
                   "the page light.")
    st.caption("One colour scale for all three, centred on 0: what Wᵣ misses shows in the residual's "
               "colours.")
log_scale = st.toggle("Logarithmic singular values", key="matrix_log", **unless_set("matrix_log", value=True),
                      persist_state="session")
energy_ranks = {f"{target * 100:g} %": rank_for_energy(S, target, total_energy=factorization.total_energy,
                                                     shape=factorization.shape) for target in ENERGY_TARGETS}
spectrum_slot = st.empty()


def spectrum_at(r: int):
    """The spectrum with r bars kept, its tolerance and threshold lines and the energy targets."""
    figure = spectrum_figure(S.numpy(), rank=r, tolerance=tolerance, threshold=oht.threshold,
                             energy_ranks=energy_ranks, log=log_scale)
    return presenter_figure(figure, height=430)


if playing and heatmap_slot is not None:  # the server path's sweep: pictures, the charts at the end
    for frame_rank in sweep_ranks(rank):
        low_rank = factorization.entries(frame_rank, rows, cols).numpy()  # only the displayed entries
        panels = [("W", shown), (f"W_r (r = {frame_rank})", low_rank), ("W − W_r", shown - low_rank)]
        heatmap_slot.image(panels_image(panels, limit=limit, height=520 if present else 380),
                           caption=f"Sweep: rank {frame_rank} of {sweep_to}")
        spectrum_slot.plotly_chart(spectrum_at(frame_rank))
        time.sleep(SWEEP_FRAME_SECONDS)
shown_low_rank = factorization.entries(rank, rows, cols).numpy()  # (p, q): the displayed entries of W_r
charts["W, W_r and W − W_r"] = presenter_figure(heatmap_panels(
    [("W", shown), (f"W_r (r = {rank})", shown_low_rank), ("W − W_r", shown - shown_low_rank)],
    rows=rows, cols=cols), height=560)
charts["Singular values"] = spectrum_at(rank)
if heatmap_slot is not None:  # the server path's heatmaps (the scrubber draws its own above)
    heatmap_slot.plotly_chart(charts["W, W_r and W − W_r"], key="matrix_heatmaps_chart")
spectrum_slot.plotly_chart(charts["Singular values"], key="matrix_spectrum_chart")
if not present:
    sigma_kind = "known" if oht.noise_known else "estimated"
    st.caption(f"Dotted: numerical tolerance {tolerance:.2e}. Dashed: optimal hard threshold "
               f"{oht.threshold:.3g} ({sigma_kind} σ = {oht.noise_sigma:.3g}). "
               "Triangles: the rank reaching 90 %, 99 % and 99.9 % of the energy.")

measured_at, measured = source_error_curve(source.key, source)
predicted = predicted_error_curve(factorization, relative=True).numpy()  # (k + 1,)
if not present:
    columns = st.columns(2)
    charts["Energy kept"] = energy_figure(factorization.energy().numpy(), rank=rank)
    charts["Relative error"] = error_figure(predicted, measured_at, measured, rank=rank)
    columns[0].plotly_chart(charts["Energy kept"], key="matrix_energy_chart")
    columns[1].plotly_chart(charts["Relative error"], key="matrix_error_chart")
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
    ("relative Frobenius error", format_relative(errors.relative),
     "‖W − Wᵣ‖ / ‖W‖ in the Frobenius norm, measured on the reconstruction."),
    ("relative spectral error", format_relative(relative_spectral), "‖W − Wᵣ‖₂ / ‖W‖₂, " + spectral_help),
    ("break-even rank", f"{budget.break_even_rank:.1f}",
     "mn / (m + n): below it the factors hold fewer numbers than W."),
    ("parameters, dense", f"{budget.dense:,}", "m·n"),
    ("parameters, factored", f"{budget.factored:,}", "r·(m + n), Σ folded into a"),
    ("dense / factored", "∞" if budget.factored == 0 else f"{budget.ratio:.3g}×",
     "How many times fewer numbers the factors hold (below 1: they hold more)."),
]
shown_numbers = [row for row in numbers if row[0] in PRIMARY_NUMBERS] if present else numbers
per_row = 4 if present else 3
for first in range(0, len(shown_numbers), per_row):
    columns = st.columns(per_row)
    for column, (label, value, help_text) in zip(columns, shown_numbers[first:first + per_row], strict=False):
        column.metric(label, value, help=help_text)

# --- the address: this view as a link -----------------------------------------------------------------
link_params = matrix_link_params(
    source_kind=source.kind, generator=source.generator, settings=source.params,
    noise=source.noise_sigma, rule=rule.name, energy=rule.energy_percent,
    sigma=st.session_state.get("matrix_sigma", "known"), rank=rank, default_rank=num_rank, log=log_scale,
)
sync_url(link_params)
if present:  # the room's QR code of this view, then nothing more in front of the room
    room_section("matrix", "matrix", link_params, spec=None)
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


def make_summary(link: str) -> str:
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


page_footer(
    "matrix", link_params, charts=charts, make_summary=make_summary,
    share_note={
        "upload": "The uploaded file cannot travel in a link: whoever opens it is asked to upload the same "
                  "file, and then gets the same rank and rule.",
        "grid": "Typed values cannot travel in a link: whoever opens it starts from the example grid.",
    }.get(source.kind),
    gif={"settings": sweep_ranks(sweep_to), "sweep_to": sweep_to, "identity": (source.key, log_scale),
         "file_name": "rank_sweep.gif",
         "make_frames": lambda ranks, on_frame: matrix_sweep_frames(
             factorization, rows, cols, ranks, limit=limit, log=log_scale, relative_errors=predicted,
             on_frame=on_frame),
         "caption": f"At most {MAX_SWEEP_FRAMES} frames (evenly spaced ranks above that), each at most "
                    f"{MAX_FRAME_SIDE} × {MAX_FRAME_SIDE} pixels: W_r's shown entries on the page's colour "
                    "scale, the kept singular values in blue below."},
)
