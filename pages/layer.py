"""Layers and LoRA: why a low-rank weight is enough.

Three sections, each computed only when its tab is open:
1. Layer lab — weight -> rank -> outputs dense against rank r -> the bound -> parameters, FLOPs, time.
2. Compress a trained network — train -> spectra -> accuracy against rank and parameters -> one setting.
3. LoRA — a shifted task -> full fine-tune -> the spectrum of ΔW -> adapters of rank 1, 2, 4, 8.
"""

import pandas as pd
import streamlit as st

from lowrank_core import LowRankError, break_even_rank, choose_device, flops, parameter_budget
from lowrank_core.layers import effective_weights, layer_error
from lowrank_core.timing import measured_crossover_rank
from lowrank_core.training import accuracy, parameter_count
from ui.inputs import clamp_state, escape_markdown
from ui.layer_cache import (
    LAB_MAX_SIDE,
    LORA_RANKS,
    TIMING_BATCH,
    TIMING_RANK,
    TIMING_SIZE,
    compressed_summary,
    digits_split,
    finetune_spectra,
    forward_timings,
    full_finetune,
    generated_weight,
    lab_inputs,
    lora_finetune,
    rank_sweep,
    trained_model,
    trained_spectra,
    trained_weight,
    uploaded_weight,
)
from ui.layer_figures import (
    accuracy_vs_parameters,
    accuracy_vs_rank,
    bound_scatter,
    delta_spectra_figure,
    lora_figure,
    outputs_scatter,
    spectra_figure,
    timing_figure,
)
from ui.layer_inputs import lab_weight_picker, progress_callback
from ui.workshop import (
    LAYER_SECTIONS,
    ensure_navigation,
    incoming_params,
    layer_fields,
    layer_link_params,
    notice_box,
    parse_params,
    rank_field,
    sync_url,
)

LAB, COMPRESS, LORA = "Layer lab", "Compress a trained network", "LoRA fine-tuning"
SECTION_LABELS = dict(zip(LAYER_SECTIONS, (LAB, COMPRESS, LORA), strict=True))
DEFAULT_LAB_RANK = 32
LINK_KEYS = {"src": "layer_source", "m": "layer_out", "n": "layer_in", "k": "layer_k", "seed": "layer_seed",
             "batch": "layer_batch", "xseed": "layer_input_seed"}


def apply_link(params) -> list[str]:
    """Put what an opened link asks for into the page's widget state; the rank and layer wait for W."""
    parsed = parse_params(layer_fields(LAB_MAX_SIDE), params)
    for name, value in parsed.values.items():
        if name == "section":
            st.session_state["layer_section"] = SECTION_LABELS[value]
        else:
            st.session_state[LINK_KEYS[name]] = value
    st.session_state["layer_link_pending"] = {name: params[name] for name in ("rank", "layer")
                                              if name in params}
    notices = list(parsed.notices)
    if parsed.values.get("src") == "upload":
        notices.append("This link was made from an uploaded weight, which cannot travel in a link: upload "
                       "the same file here and the link's rank applies to it.")
    return notices


def layer_labels(model) -> dict[str, str]:
    """'0' -> 'layer 1: 64 → 128' for each linear layer of the MLP, in order."""
    return {name: f"layer {number}: {weight.shape[1]} → {weight.shape[0]}"
            for number, (name, weight) in enumerate(effective_weights(model).items(), start=1)}


def train_base():
    """The trained MLP, with a progress bar the first time."""
    progress, done = progress_callback("Training the 64 → 128 → 64 → 10 network on the digits…")
    result = trained_model(progress)
    done()
    return result


st.title("Layers and LoRA: why a low-rank weight is enough")
st.markdown(
    r"A linear layer computes $z = Wx + b$. Replace $W$ ($m \times n$) by its rank-$r$ truncation "
    r"$W_r = ab$, with $a = U_r\Sigma_r$ ($m \times r$) and $b = V_r^\top$ ($r \times n$), and the layer "
    r"stores $r(m + n)$ numbers instead of $mn$. Eckart–Young–Mirsky says how far the output can move, "
    r"for *every* input: $\|(W - W_r)\,x\| \le \sigma_{r+1}\,\|x\|$. LoRA turns this around: it "
    "keeps W frozen and learns only a low-rank change."
)
ensure_navigation()  # a link opened first on a fresh server: run through app.py
notice_slot = st.empty()
notices: list[str] = []
incoming = incoming_params()
if incoming:
    notices += apply_link(incoming)
with notice_slot.container():
    notice_box(notices)
lab_tab, compress_tab, lora_tab = st.tabs([LAB, COMPRESS, LORA], key="layer_section", on_change="rerun")
open_section = next((name for name, tab in zip(LAYER_SECTIONS, (lab_tab, compress_tab, lora_tab), strict=True)
                     if tab.open), "lab")
if open_section != "lab":
    sync_url(layer_link_params(max_side=LAB_MAX_SIDE, section=open_section))

# ============================================================================================ Layer lab
with lab_tab:
    if lab_tab.open is not False:
        st.header("1. The weight")
        try:
            labels = {}
            if st.session_state.get("layer_source") == "trained":
                labels = layer_labels(train_base().model)
                linked_layer = st.session_state.get("layer_link_pending", {}).pop("layer", None)
                if linked_layer is not None:  # a link's trained layer, if this network has it
                    if linked_layer in labels:
                        st.session_state["layer_trained_layer"] = linked_layer
                    else:
                        notices.append(f"The link asks for a trained layer “{linked_layer[:20]}” this "
                                       "network does not have; using the first.")
            source = lab_weight_picker(labels, max_side=LAB_MAX_SIDE)
            lab = None
            if source is not None:
                if source.kind in ("random", "low_rank"):
                    lab = generated_weight(source.kind, source.out_features, source.in_features, source.k,
                                           source.seed)
                elif source.kind == "trained":
                    lab = trained_weight(source.layer)
                else:
                    lab = uploaded_weight(source.data, source.name)
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
            st.caption(f"W is {m} × {n} (out × in); σ_1 = {float(S[0]):.4g}, σ_min = {float(S[-1]):.4g}. "
                       "b is " + ("the layer's own bias." if source.kind == "trained"
                                  else "a small random bias (it cancels in z − z_r)."))

            st.header("2. Rank and inputs")
            left, middle, right = st.columns([2, 1, 1])
            linked_rank = st.session_state.pop("layer_link_pending", {}).get("rank")
            if linked_rank is not None and k > 1:  # the link's rank, checked against this weight
                value, notice = rank_field(k, min(DEFAULT_LAB_RANK, k), low=1).parse(linked_rank)
                st.session_state["layer_rank"] = int(value)
                if notice:
                    notices.append(notice)
            with notice_slot.container():
                notice_box(notices)
            if k > 1:
                clamp_state("layer_rank", 1, k, min(DEFAULT_LAB_RANK, k))
                rank = left.slider("rank r", 1, k, key="layer_rank",
                                   help="Keep the r largest singular values.")
            else:
                rank = 1
                left.caption("W has a single row or column: rank 1 is its only rank.")
            batch = middle.slider("inputs in the batch", 1, 256, 64, key="layer_batch")
            input_seed = right.number_input("seed of the inputs x ~ N(0, I)", 0, 2**31 - 1, 0,
                                            key="layer_input_seed")
            x = lab_inputs(int(batch), n, int(input_seed))  # (batch, n)
            result = layer_error(W, b, factorization, rank, x)

            st.header("3. Outputs, dense against rank r")
            columns = st.columns(4)
            columns[0].metric("largest error max |z − zᵣ|", f"{result.max_abs_error:.4g}",
                              help="The largest difference of one output entry over the batch.")
            columns[1].metric("relative error", f"{result.relative_error:.4g}",
                              help="‖Z − Zᵣ‖_F / ‖Z‖_F over the whole batch of outputs.")
            columns[2].metric("bound σᵣ₊₁", f"{result.bound:.4g}",
                              help="The (r+1)-th singular value of W: ‖(W − Wᵣ)x‖ ≤ σᵣ₊₁‖x‖ for every x.")
            columns[3].metric("worst error / bound", f"{result.worst_ratio:.4f}",
                              help="max over the batch of ‖(W − Wᵣ)x‖ / (σᵣ₊₁‖x‖): at most 1 by "
                                   "Eckart–Young–Mirsky, for every input. The denominator includes float32 "
                                   f"rounding ({result.rounding_tolerance:.2g} ‖x‖), which only matters when "
                                   "σᵣ₊₁ is itself at rounding level.")
            left, right = st.columns(2)
            left.plotly_chart(outputs_scatter(result.z.numpy(), result.z_r.numpy(), rank=rank),
                              key="layer_scatter")
            right.plotly_chart(bound_scatter(result.bound_norms.numpy(), result.error_norms.numpy(),
                                             rank=rank), key="layer_bound")

            sync_url(layer_link_params(
                max_side=LAB_MAX_SIDE, section="lab", src=source.kind, m=source.out_features,
                n=source.in_features, k=source.k, seed=source.seed, layer=source.layer, rank=rank,
                default_rank=min(DEFAULT_LAB_RANK, k), max_rank=k, batch=int(batch), xseed=int(input_seed)))

            st.header("4. Parameters and FLOPs")
            budget = parameter_budget(m, n, rank)
            dense_flops, factored_flops = flops(m, n, rank, batch=int(batch))
            st.dataframe(pd.DataFrame({
                "": ["dense W", f"factored a b (rank {rank})"],
                "weight parameters": [budget.dense, budget.factored],
                f"FLOPs for the batch of {batch}": [dense_flops, factored_flops],
            }), hide_index=True, key="layer_budget")
            verdict = "saves" if budget.saves else "does not save"
            st.markdown(f"At rank {rank} the factored layer **{verdict}** parameters and FLOPs "
                        f"(ratio {budget.ratio:.2f}×). Break-even rank mn/(m + n) = "
                        f"**{budget.break_even_rank:.1f}**: factoring pays strictly below it.")

            st.header("5. Is it faster?")
            st.markdown(
                f"FLOPs are not time. The page measures a {TIMING_SIZE}×{TIMING_SIZE} dense `nn.Linear` "
                f"against `LowRankLinear` at rank {TIMING_RANK} and a few larger ranks, batch "
                f"{TIMING_BATCH}, with `torch.utils.benchmark` (medians; a few seconds, done once and "
                "cached)."
            )
            if st.button("Measure forward times", key="layer_time_button"):
                st.session_state["layer_timing_requested"] = True
            if st.session_state.get("layer_timing_requested"):
                timings = forward_timings(str(choose_device()))
                at_rank = next(t for t in timings if t.rank == TIMING_RANK)
                columns = st.columns(4)
                columns[0].metric("dense nn.Linear", f"{1e3 * at_rank.dense_seconds:.2f} ms")
                columns[1].metric(f"LowRankLinear, rank {TIMING_RANK}",
                                  f"{1e3 * at_rank.factored_seconds:.2f} ms")
                columns[2].metric("measured speed-up", f"{at_rank.speedup:.1f}×",
                                  help=f"FLOP ratio {at_rank.flop_ratio:.1f}×")
                crossover = measured_crossover_rank(timings)
                columns[3].metric("crossover rank",
                                  f"{crossover}" if crossover else f"> {timings[-1].rank}",
                                  help="Measured: the smallest rank from which on the factored layer is "
                                       "never faster than the dense one. The FLOP break-even is "
                                       f"{break_even_rank(TIMING_SIZE, TIMING_SIZE):g}.")
                left, right = st.columns(2)
                left.plotly_chart(timing_figure([t.rank for t in timings], 1e3 * timings[0].dense_seconds,
                                                [1e3 * t.factored_seconds for t in timings],
                                                break_even=break_even_rank(TIMING_SIZE, TIMING_SIZE),
                                                size=TIMING_SIZE), key="layer_timing_chart")
                right.dataframe(pd.DataFrame({
                    "rank": [t.rank for t in timings],
                    "dense (ms)": [round(1e3 * t.dense_seconds, 3) for t in timings],
                    "factored (ms)": [round(1e3 * t.factored_seconds, 3) for t in timings],
                    "speed-up": [round(t.speedup, 2) for t in timings],
                    "FLOP ratio": [round(t.flop_ratio, 2) for t in timings],
                }), hide_index=True, key="layer_timing_table")
                threads = "one thread" if timings[0].threads == 1 else f"{timings[0].threads} threads"
                st.caption(f"On {timings[0].device} with {threads} (stable when the server's cores are "
                           "shared; more threads scale both layers). Below the crossover "
                           "two thin products beat one large one; near the FLOP break-even the extra pass "
                           "over memory and the smaller, less efficient products lose.")

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
        st.plotly_chart(spectra_figure({labels[name]: S.numpy() for name, S in trained_spectra().items()}),
                        key="layer_spectra")

        st.header("2. Accuracy against rank")
        sweep = rank_sweep()
        curves = {}
        for scope, label in [("all", "all layers at rank r"), *labels.items()]:
            points = [p for p in sweep if p.scope == scope]
            curves[label if scope == "all" else f"{label} alone"] = ([p.rank for p in points],
                                                                      [p.accuracy for p in points])
        left, right = st.columns(2)
        left.plotly_chart(accuracy_vs_rank(curves, dense_accuracy=base.test_accuracy), key="layer_sweep")
        together = [p for p in sweep if p.scope == "all"]
        right.plotly_chart(accuracy_vs_parameters([p.parameters for p in together],
                                                  [p.accuracy for p in together], [p.rank for p in together],
                                                  dense_parameters=dense_parameters,
                                                  dense_accuracy=base.test_accuracy), key="layer_tradeoff")

        st.header("3. Compress with one setting")
        by = st.radio("Choose each layer's rank by", ["rank", "energy"], horizontal=True,
                      key="layer_compress_by", format_func={"rank": "one rank for every layer",
                                   "energy": "energy kept per layer"}.get)
        try:
            if by == "rank":
                chosen = st.slider("rank r", 1, 64, 12, key="layer_compress_rank")
                summary = compressed_summary(rank=int(chosen))
            else:
                chosen = st.slider("energy kept (fraction of ‖W‖_F²)", 0.50, 1.00, 0.90, 0.01,
                                   key="layer_compress_energy")
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
            st.dataframe(pd.DataFrame({
                "layer": [labels[r.name] for r in summary.reports],
                "rank kept": [r.rank for r in summary.reports],
                "parameters before": [r.parameters_before for r in summary.reports],
                "parameters after": [r.parameters_after for r in summary.reports],
                "energy kept": [round(r.energy_kept, 4) for r in summary.reports],
                "bound σᵣ₊₁": [r.spectral_bound for r in summary.reports],
                "factored": [r.factored for r in summary.reports],
                "note": [r.note for r in summary.reports],
            }), hide_index=True, key="layer_reports")
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
        columns[0].metric("test accuracy, mirrored digits", f"{100 * full.test_accuracy:.2f} %")
        columns[1].metric("trainable parameters", f"{full.trainable_parameters:,}")

        st.header("3. The change is low rank")
        spectra = finetune_spectra()
        labels = layer_labels(base.model)
        st.plotly_chart(delta_spectra_figure([
            (labels[s.name], s.base_S.numpy(), s.delta_S.numpy(), s.base_energy_rank, s.delta_energy_rank)
            for s in spectra]), key="layer_delta_spectra")
        st.dataframe(pd.DataFrame({
            "layer": [labels[s.name] for s in spectra],
            "energy-90 % rank of W_base": [s.base_energy_rank for s in spectra],
            "energy-90 % rank of ΔW": [s.delta_energy_rank for s in spectra],
            "min(m, n)": [min(s.shape) for s in spectra],
            "‖ΔW‖_F / ‖W_base‖_F": [round(s.relative_change, 3) for s in spectra],
        }), hide_index=True, key="layer_delta_table")
        st.markdown("The fine-tune changes nearly every entry of W, yet 90 % of the change's energy sits in "
                    "a few directions. LoRA bets on that: learn ΔW = (α/r) B A directly, with B (m × r) and "
                    "A (r × n), and keep W frozen.")
        st.caption("The last singular values of ΔW drop off the chart: they are zero, because no gradient "
                   "reaches the columns of W that read an always-blank pixel (layer 1) or a hidden unit that "
                   "never fires (layer 2). Each panel shows four powers of ten.")

        st.header("4. LoRA adapters")
        rows = []
        for lora_rank in LORA_RANKS:
            progress, done = progress_callback(f"Training LoRA adapters of rank {lora_rank}…")
            rows.append((lora_rank, lora_finetune(lora_rank, progress)))
            done()
        table = pd.DataFrame({
            "method": ["base, not fine-tuned", "full fine-tune", *[f"LoRA r = {r}" for r, _ in rows]],
            "trainable parameters": [0, full.trainable_parameters,
                                     *[res.trainable_parameters for _, res in rows]],
            "% of full": [0.0, 100.0, *[round(100 * res.trainable_parameters / full.trainable_parameters, 1)
                                        for _, res in rows]],
            "test accuracy (%)": [round(100 * base_shifted, 2), round(100 * full.test_accuracy, 2),
                                  *[round(100 * res.test_accuracy, 2) for _, res in rows]],
        })
        st.dataframe(table, hide_index=True, key="layer_lora_table")
        st.plotly_chart(lora_figure([r for r, _ in rows], [res.trainable_parameters for _, res in rows],
                                    [res.test_accuracy for _, res in rows],
                                    full_parameters=full.trainable_parameters,
                                    full_accuracy=full.test_accuracy, base_accuracy=base_shifted),
                        key="layer_lora_chart")
        st.caption("Each adapter: A (r × in) Kaiming-uniform, B (out × r) zeros, so training starts from "
                   "the base exactly; only A and B train, r(in + out) numbers per layer (the 64 → 10 layer's "
                   "rank is clipped to 10). Same data, epochs and seed as the full fine-tune.")
