"""Layers and LoRA: why a low-rank weight is enough.

Three sections, each computed only when its tab is open:
1. Layer lab — weight -> rank -> outputs dense against rank r -> the bound -> parameters, FLOPs, time.
2. Compress a trained network — train -> spectra -> accuracy against rank and parameters -> one setting.
3. LoRA — a shifted task -> full fine-tune -> the spectrum of ΔW -> adapters of rank 1, 2, 4, 8.
"""

import streamlit as st

from lowrank_core import LowRankError, parameter_budget
from lowrank_core.layers import layer_error
from lowrank_core.training import accuracy, parameter_count
from ui.charts import outputs_scatter
from ui.layer.cache import (
    compressed_summary,
    digits_split,
    finetune_spectra,
    full_finetune,
    lab_inputs,
    lab_weight,
    rank_sweep,
    trained_model,
    trained_spectra,
)
from ui.layer.figures import (
    accuracy_vs_parameters,
    accuracy_vs_rank,
    bound_scatter,
    budget_table,
    delta_spectra_figure,
    delta_table,
    layer_labels,
    reports_table,
    spectra_figure,
)
from ui.layer.inputs import lab_weight_picker, progress_callback
from ui.layer.links import (
    LAYER_SECTIONS,
    SECTION_LABELS,
    apply_layer_link,
    apply_linked_rank,
    keep_section,
    layer_link_params,
    linked_layer,
)
from ui.layer.views import lora_comparison, timing_section
from ui.limits import LAB_MAX_SIDE, MAX_SEED
from ui.links import sync_url
from ui.page import page_start, settings_area
from ui.poll.views import room_section
from ui.presenter import presenter_figure
from ui.presenter.keys import rank_keys
from ui.state import prepare_slider
from ui.text import escape_markdown, format_relative

DEFAULT_LAB_RANK = 32


def train_base():
    """The trained MLP, with a progress bar the first time."""
    progress, done = progress_callback("Training the 64 → 128 → 64 → 10 network on the digits…")
    try:
        result = trained_model(progress)
    except LowRankError as err:  # the digits data missing or unreadable: a message, not a traceback
        st.error(escape_markdown(str(err)))
        st.stop()
    done()
    return result


start = page_start(
    "Layers and LoRA: why a low-rank weight is enough", apply_link=apply_layer_link,
    intro=r"A linear layer computes $z = Wx + b$. Replace $W$ ($m \times n$) by its rank-$r$ truncation "
          r"$W_r = ab$, with $a = U_r\Sigma_r$ ($m \times r$) and $b = V_r^\top$ ($r \times n$), and the "
          r"layer stores $r(m + n)$ numbers instead of $mn$. Eckart–Young–Mirsky says how far the output can "
          r"move, for *every* input: $\|(W - W_r)\,x\| \le \sigma_{r+1}\,\|x\|$. LoRA turns this around: it "
          "keeps W frozen and learns only a low-rank change.")
present = start.present
keep_section(None)  # the open section comes back after a visit to another page
lab_tab, compress_tab, lora_tab = st.tabs(list(SECTION_LABELS.values()), key="layer_section",
                                          on_change="rerun")
open_section = next((name for name, tab in zip(LAYER_SECTIONS, (lab_tab, compress_tab, lora_tab), strict=True)
                     if tab.open), "lab")
keep_section(open_section)
if open_section != "lab":
    sync_url(layer_link_params(max_side=LAB_MAX_SIDE, section=open_section))

# ============================================================================================ Layer lab
with lab_tab:
    if lab_tab.open is not False:
        settings = settings_area(present, heading="1. The weight", collapsed="The weight W")
        try:
            labels = {}
            if st.session_state.get("layer_source") == "trained":
                labels = layer_labels(train_base().model)
                start.add(linked_layer(labels))  # a link's trained layer, if this network has it
            with settings:
                source = lab_weight_picker(labels, max_side=LAB_MAX_SIDE)
            lab = None if source is None else lab_weight(source)
        except LowRankError as err:
            st.error(escape_markdown(str(err)))
            lab = None
        if lab is not None:
            for notice in lab.notices:
                st.info(escape_markdown(notice))
            W, b, factorization = lab.weight, lab.bias, lab.factorization
            m, n = W.shape
            k = factorization.max_rank
            S = factorization.S
            settings.caption(f"W is {m} × {n} (out × in); σ_1 = {float(S[0]):.4g}, "
                             f"σ_min = {float(S[-1]):.4g}. b is " + (
                                 "the layer's own bias." if source.kind == "trained"
                                 else "a small random bias (it cancels in z − z_r)."))
            if not present:
                st.header("2. Rank and inputs")
            left, middle, right = st.columns([2, 1, 1])
            start.add(apply_linked_rank(k, min(DEFAULT_LAB_RANK, k)))  # the link's rank, checked against W
            if k > 1:  # one source of truth: the slider's state, set before it is drawn when W changes
                prepare_slider("layer_rank", 1, k, min(DEFAULT_LAB_RANK, k))
                rank_keys("layer_rank", 1, k)
                rank = left.slider("rank r", 1, k, key="layer_rank",
                                   help="Keep the r largest singular values.", persist_state="session")
            else:
                rank = 1
                left.caption("W has a single row or column: rank 1 is its only rank.")
            batch = middle.slider("inputs in the batch", 1, 256, 64, key="layer_batch",
                                  persist_state="session")
            input_seed = right.number_input("seed of the inputs x ~ N(0, I)", 0, MAX_SEED, 0,
                                            key="layer_input_seed", persist_state="session")
            x = lab_inputs(int(batch), n, int(input_seed))  # (batch, n)
            result = layer_error(W, b, factorization, rank, x)

            if not present:
                st.header("3. Outputs, dense against rank r")
            columns = st.columns(4)
            columns[0].metric("largest error max |z − zᵣ|", f"{result.max_abs_error:.4g}",
                              help="The largest difference of one output entry over the batch.")
            columns[1].metric("relative error", format_relative(result.relative_error),
                              help="‖Z − Zᵣ‖_F / ‖Z‖_F over the whole batch of outputs.")
            columns[2].metric("bound σᵣ₊₁", f"{result.bound:.4g}",
                              help="The (r+1)-th singular value of W: ‖(W − Wᵣ)x‖ ≤ σᵣ₊₁‖x‖ for every x.")
            columns[3].metric("worst error / bound", f"{result.worst_ratio:.4f}",
                              help="max over the batch of ‖(W − Wᵣ)x‖ / (σᵣ₊₁‖x‖): at most 1 by "
                                   "Eckart–Young–Mirsky, for every input. The denominator includes float32 "
                                   f"rounding ({result.rounding_tolerance:.2g} ‖x‖), which only matters when "
                                   "σᵣ₊₁ is itself at rounding level.")
            left, right = st.columns(2)
            left.plotly_chart(presenter_figure(outputs_scatter(
                result.z.numpy(), result.z_r.numpy(), rank=rank, height=440, x_title="z = Wx + b (dense)",
                y_title=f"zᵣ = Wᵣx + b (rank {rank})", title=f"Dense against rank-{rank} outputs"),
                height=480), key="layer_scatter")
            right.plotly_chart(presenter_figure(bound_scatter(
                result.bound_norms.numpy(), result.error_norms.numpy(), rank=rank), height=480),
                key="layer_bound")

            link_params = layer_link_params(
                max_side=LAB_MAX_SIDE, section="lab", src=source.kind, m=source.out_features,
                n=source.in_features, k=source.k, seed=source.seed, layer=source.layer, rank=rank,
                default_rank=min(DEFAULT_LAB_RANK, k), max_rank=k, batch=int(batch), xseed=int(input_seed))
            sync_url(link_params)

            if present:  # the presenter view stops at the outputs and the room's QR code (no tab is open)
                room_section("layer", "layer", link_params, spec=None)
                st.stop()
            st.header("4. Parameters and FLOPs")
            budget = parameter_budget(m, n, rank)
            st.dataframe(budget_table(m, n, rank, int(batch)), hide_index=True, key="layer_budget")
            verdict = "saves" if budget.saves else "does not save"
            st.markdown(f"At rank {rank} the factored layer **{verdict}** parameters and FLOPs "
                        f"(ratio {budget.ratio:.2f}×). Break-even rank mn/(m + n) = "
                        f"**{budget.break_even_rank:.1f}**: factoring pays strictly below it.")

            st.header("5. Is it faster?")
            timing_section()

# ============================================================================== Compress a trained network
with compress_tab:
    if compress_tab.open:
        st.header("1. A trained network")
        base = train_base()
        model = base.model
        dense_parameters = parameter_count(model)
        labels = layer_labels(model)
        columns = st.columns(3)
        columns[0].metric("test accuracy (dense)", f"{100 * base.test_accuracy:.2f} %")
        columns[1].metric("parameters (dense)", f"{dense_parameters:,}")
        columns[2].metric("training accuracy", f"{100 * base.train_accuracy:.2f} %")
        st.caption("A 64 → 128 → 64 → 10 ReLU MLP trained with Adam on 1348 of the 1797 UCI 8×8 digits "
                   "(seeded); accuracy on the other 449.")
        st.plotly_chart(presenter_figure(spectra_figure({labels[name]: S.numpy()
                                                         for name, S in trained_spectra().items()})),
                        key="layer_spectra")

        st.header("2. Accuracy against rank")
        sweep = rank_sweep()
        curves = {}
        for scope, label in [("all", "all layers at rank r"), *labels.items()]:
            points = [p for p in sweep if p.scope == scope]
            curves[label if scope == "all" else f"{label} alone"] = ([p.rank for p in points],
                                                                      [p.accuracy for p in points])
        left, right = st.columns(2)
        left.plotly_chart(presenter_figure(accuracy_vs_rank(curves, dense_accuracy=base.test_accuracy)),
                          key="layer_sweep")
        together = [p for p in sweep if p.scope == "all"]
        right.plotly_chart(presenter_figure(accuracy_vs_parameters(
            [p.parameters for p in together], [p.accuracy for p in together], [p.rank for p in together],
            dense_parameters=dense_parameters, dense_accuracy=base.test_accuracy)), key="layer_tradeoff")

        st.header("3. Compress with one setting")
        by = st.radio("Choose each layer's rank by", ["rank", "energy"], horizontal=True,
                      key="layer_compress_by", format_func={"rank": "one rank for every layer",
                                   "energy": "energy kept per layer"}.get, persist_state="session")
        try:
            if by == "rank":
                chosen = st.slider("rank r", 1, 64, 12, key="layer_compress_rank", persist_state="session")
                summary = compressed_summary(rank=int(chosen))
            else:
                chosen = st.slider("energy kept (fraction of ‖W‖_F²)", 0.50, 1.00, 0.90, 0.01,
                                   key="layer_compress_energy", persist_state="session")
                summary = compressed_summary(energy=float(chosen))
        except LowRankError as err:
            st.error(escape_markdown(str(err)))
            summary = None
        if summary is not None:
            columns = st.columns(3)
            columns[0].metric("test accuracy (compressed)", f"{100 * summary.accuracy:.2f} %",
                              delta=f"{100 * (summary.accuracy - base.test_accuracy):+.2f} points")
            columns[1].metric("parameters (compressed)", f"{summary.parameters:,}",
                              delta=f"{100 * (summary.parameters / dense_parameters - 1):+.1f} %",
                              delta_color="inverse")
            largest_bound = max(r.spectral_bound for r in summary.reports)
            columns[2].metric("largest σᵣ₊₁ dropped", f"{largest_bound:.4g}",
                              help="The largest bound ‖(W − Wᵣ)x‖ ≤ σᵣ₊₁‖x‖ over the layers.")
            st.dataframe(reports_table(summary.reports, labels), hide_index=True, key="layer_reports")
            st.caption("A layer whose factors would be at least as large as its dense weight (rank ≥ "
                       "mn/(m + n)) is kept dense: it is then exact and smaller. A rank above min(m, n) is "
                       "clipped.")

# ============================================================================================= LoRA
with lora_tab:
    if lora_tab.open:
        st.header("1. A shifted task")
        base = train_base()
        shifted = digits_split().mirrored()
        base_shifted = accuracy(base.model, shifted.X_test, shifted.y_test)
        st.markdown(
            "Every digit is **mirrored left-right**. The classes are the same, but the strokes move to the "
            f"other side: the trained network drops from {100 * base.test_accuracy:.1f} % to "
            f"**{100 * base_shifted:.1f} %**. Fine-tuning adapts it; how much of W must change?"
        )

        st.header("2. Full fine-tune")
        progress, done = progress_callback("Fine-tuning every parameter on the mirrored digits…")
        full = full_finetune(progress)
        done()
        columns = st.columns(2)
        columns[0].metric("test accuracy, mirrored digits (fine-tune seed 0)",
                          f"{100 * full.test_accuracy:.2f} %",
                          help="One fine-tune; section 4 shows the spread over several seeds.")
        columns[1].metric("trainable parameters", f"{full.trainable_parameters:,}")

        st.header("3. The change is low rank")
        spectra = finetune_spectra()
        labels = layer_labels(base.model)
        st.plotly_chart(presenter_figure(delta_spectra_figure([
            (labels[s.name], s.base_S.numpy(), s.delta_S.numpy(), s.base_energy_rank, s.delta_energy_rank)
            for s in spectra])), key="layer_delta_spectra")
        st.dataframe(delta_table(spectra, labels), hide_index=True, key="layer_delta_table")
        st.markdown("The fine-tune changes nearly every entry of W, yet 90 % of the change's energy sits in "
                    "a few directions. LoRA bets on that: learn ΔW = (α/r) B A directly, with B (m × r) and "
                    "A (r × n), and keep W frozen.")
        st.caption("The last singular values of ΔW drop off the chart: they are zero, because no gradient "
                   "reaches the columns of W that read an always-blank pixel (layer 1) or a hidden unit that "
                   "never fires (layer 2). Each panel shows four powers of ten.")

        st.header("4. LoRA adapters")
        lora_comparison(base_shifted)  # the table and the chart, over several fine-tune seeds
