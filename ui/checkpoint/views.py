"""The checkpoint page's larger views, drawn with Streamlit (figures, tables: ``ui.checkpoint.figures``)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

import streamlit as st

from lowrank_core.allocation import Allocation
from lowrank_core.checkpoint import (
    FACTORED_METADATA_KEY,
    Checkpoint,
    CheckpointInspection,
    WeightSummary,
    rank_pattern_json,
)
from lowrank_core.factorize import choose_device
from lowrank_core.timing import measured_crossover_rank
from ui.checkpoint import cache
from ui.checkpoint.figures import (
    allocation_figure,
    allocation_summary,
    allocation_table,
    shape_text,
    skipped_table,
    study_figure,
    study_table,
    weights_table,
)
from ui.checkpoint.inputs import select_table_row
from ui.layer.figures import timing_figure, timing_table
from ui.limits import STUDY_FINETUNE_EPOCHS, STUDY_FRACTIONS, STUDY_SEEDS
from ui.text import escape_markdown, format_bytes

__all__ = ["overview", "weights_section", "weight_numbers", "timing_section", "allocation_section",
           "study_section", "export_section"]

_COLUMN_HELP = {
    "parameters": "m·n, the numbers of the dense weight (a conv kernel is (out, in·kh·kw)).",
    "SVD": "Exact up to 2.5 million entries; above, a randomized SVD of the leading singular values.",
    "numerical rank": "Singular values above torch.linalg.matrix_rank's float32 tolerance, eps·max(m, n)·σ₁.",
    "stable rank": "‖W‖_F² / ‖W‖₂²: a soft count of the directions that matter (between 1 and the rank).",
    "rank 90 %": "Smallest rank keeping 90 % of ‖W‖_F² (empty where a randomized SVD cannot tell).",
    "rank 99 %": "Smallest rank keeping 99 % of ‖W‖_F².",
    "optimal hard threshold": "Gavish–Donoho's rank with the noise level estimated from the spectrum "
                              "(needs every singular value: empty after a randomized SVD).",
    "break-even rank": "mn/(m + n): the factors a (m × r) and b (r × n) hold fewer numbers only below it.",
}


def overview(inspection: CheckpointInspection, checkpoint: Checkpoint) -> None:
    """One line about the file, its notices, and a warning when nothing can be factored."""
    st.caption(f"{checkpoint.source_format} file, {len(checkpoint.tensors)} tensors: "
               f"{len(inspection.weights)} weights analysed ({inspection.parameters:,} parameters), "
               f"{len(inspection.skipped)} skipped, "
               f"{inspection.other_tensors} other tensors (biases, norms, buffers), kept as they are.")
    for notice in inspection.notices:
        st.info(escape_markdown(notice))


def weights_section(inspection: CheckpointInspection, *, picker_key: str) -> None:
    """The sortable table of every weight (a click on a row picks it) and the skipped ones with reasons."""
    names = [weight.name for weight in inspection.weights]
    config = {name: st.column_config.Column(help=text) for name, text in _COLUMN_HELP.items()}
    st.dataframe(weights_table(inspection), hide_index=True, key="checkpoint_table", column_config=config,
                 selection_mode="single-row",
                 on_select=partial(select_table_row, table_key="checkpoint_table", names=names,
                                   key=picker_key))
    st.caption("Click a column's title to sort by it, a row to look at that weight below.")
    if inspection.skipped:
        st.markdown(f"**Skipped ({len(inspection.skipped)})**: shaped like weights, not analysed.")
        st.dataframe(skipped_table(inspection), hide_index=True, key="checkpoint_skipped")


def weight_numbers(summary: WeightSummary) -> None:
    """The picked weight's row of the table, as cards."""
    columns = st.columns(6)
    m, n = summary.matrix_shape
    shape = shape_text(summary.shape)
    columns[0].metric("shape (as factored)", f"{m} × {n}", help=f"Stored as {shape} ({summary.dtype}).")
    rank = str(summary.numerical_rank)
    if summary.numerical_rank_lower_bound:
        rank = f"≥ {rank}"
    columns[1].metric("numerical rank", rank, help=_COLUMN_HELP["numerical rank"])
    columns[2].metric("stable rank", f"{summary.stable_rank:.2f}", help=_COLUMN_HELP["stable rank"])
    columns[3].metric("rank for 90 % / 99 %",
                      f"{summary.rank_energy_90 or '?'} / {summary.rank_energy_99 or '?'}",
                      help=_COLUMN_HELP["rank 90 %"])
    threshold = summary.optimal_hard_threshold_rank
    columns[4].metric("optimal hard threshold", "?" if threshold is None else str(threshold),
                      help=_COLUMN_HELP["optimal hard threshold"])
    columns[5].metric("break-even rank", f"{summary.break_even_rank:.1f}",
                      help=_COLUMN_HELP["break-even rank"])


def timing_section(summary: WeightSummary) -> None:
    """Dense against factored forward time at the weight's own shape, measured on request."""
    m, n = summary.matrix_shape
    requested = st.session_state.setdefault("checkpoint_timed", set())
    if st.button(f"Time nn.Linear({n}, {m}) against LowRankLinear", key="checkpoint_time_button",
                 icon=":material/timer:"):
        requested.add((m, n))
    if (m, n) not in requested:
        st.caption("Measures the forward pass of a batch of 64 at this shape, dense and at five ranks up to "
                   "the break-even (one thread; a few seconds, cached).")
        return
    timings = cache.timings(m, n, str(choose_device()))
    crossover = measured_crossover_rank(timings)
    left, right = st.columns(2)
    left.plotly_chart(timing_figure([t.rank for t in timings], 1e3 * timings[0].dense_seconds,
                                    [1e3 * t.factored_seconds for t in timings],
                                    break_even=summary.break_even_rank, size=(m, n)), key="checkpoint_timing")
    right.dataframe(timing_table(timings), hide_index=True, key="checkpoint_timing_table")
    right.caption(f"On {timings[0].device}, one thread. The factored layer stops being faster at rank "
                  f"{crossover if crossover else f'> {timings[-1].rank}'} (measured); FLOPs break even at "
                  f"{summary.break_even_rank:.1f}.")


def allocation_section(allocations: Mapping[str, Allocation]) -> None:
    """The three allocations side by side: totals, ranks per weight, and the per-weight table."""
    greedy = allocations["greedy"]
    columns = st.columns(3)
    columns[0].metric("budget", f"{greedy.budget_parameters:,} numbers",
                      help=f"of {greedy.parameters_before:,} in the dense weights")
    columns[1].metric("greedy keeps", f"{greedy.parameters_after:,}",
                      delta=f"{greedy.parameters_saved:,} saved", delta_color="off")
    columns[2].metric("greedy relative error", f"{greedy.relative_error:.4g}",
                      help="√(Σ‖W − Wᵣ‖²_F / Σ‖W‖²_F) over every weight: greedy minimises the sum.")
    st.dataframe(allocation_summary(allocations), hide_index=True, key="checkpoint_allocation_summary")
    st.plotly_chart(allocation_figure(allocations), key="checkpoint_allocation_chart")
    st.dataframe(allocation_table(allocations), hide_index=True, key="checkpoint_allocation_table")
    solver = "solved exactly (dynamic programme)" if greedy.solver == "exact" else "the greedy order"
    st.caption(f"Greedy: {solver}, σᵢ² per parameter; a weight stays dense where factoring would not save. "
               "Uniform: the same share of each weight's own parameters. Energy: the same share of each "
               "weight's ‖W‖²_F kept. Errors by Eckart–Young, relative to each weight's ‖W‖_F.")


def study_section() -> None:
    """The digits MLP's accuracy against budget for the three allocations, run on request, in the
    background."""
    study, job = cache.study_result()
    if study is None:
        if job is not None and job.done():
            error = "it was cancelled" if job.cancelled() else str(job.exception())
            st.error(f"The study failed: {escape_markdown(error)}")
        if job is None or job.done():
            label = "Run the accuracy study" if job is None else "Run it again"
            if st.button(label, key="checkpoint_study_button", icon=":material/play_arrow:"):
                cache.start_study()
                st.rerun()
            st.caption(f"Trains the digits MLP with {len(STUDY_SEEDS)} seeds, compresses each at "
                       f"{len(STUDY_FRACTIONS)} budgets by the three allocations and fine-tunes the factors "
                       f"for {STUDY_FINETUNE_EPOCHS} epochs: about ten seconds alone on two cores, in the "
                       "background, once for everyone.")
            return
        st.info("The study runs in the background (about ten seconds, longer on a busy server).")
        st.button("Show the study if it is ready", key="checkpoint_study_refresh", icon=":material/refresh:")
        return
    st.plotly_chart(study_figure(study), key="checkpoint_study_chart")
    with st.expander("Every point of the study"):
        st.dataframe(study_table(study), hide_index=True, key="checkpoint_study_table")
    st.caption(f"Seeds {', '.join(map(str, study.seeds))}: each trains its own 64 → 128 → 64 → 10 MLP; the "
               "spread is over those trainings. Fine-tuned: only the factors a and b train, "
               f"{study.finetune_epochs} epochs.")


def export_section(key: str, checkpoint: Checkpoint, allocation: Allocation) -> None:
    """Downloads: the factored .safetensors (made when clicked) and the rank_pattern JSON."""
    pattern = tuple(sorted(allocation.rank_pattern.items()))
    stem = checkpoint.name.rsplit(".", 1)[0] or "checkpoint"
    if not pattern:
        st.warning("At this budget every weight stays dense: there is nothing to factor.")
        return
    left, right = st.columns(2)
    left.download_button(
        "Factored checkpoint (.safetensors)", lambda: cache.exported(key, pattern, checkpoint).data,
        file_name=f"{stem}_factored.safetensors", mime="application/octet-stream", on_click="ignore",
        key="checkpoint_export_file", icon=":material/download:",
        help="Made when clicked: an SVD per factored weight (seconds for a large checkpoint).")
    right.download_button(
        "rank_pattern (.json)", rank_pattern_json(dict(pattern)), file_name=f"{stem}_rank_pattern.json",
        mime="application/json", on_click="ignore", key="checkpoint_export_pattern",
        icon=":material/data_object:")
    st.caption(
        f"{len(pattern)} weights factored: for each `NAME`, `NAME.a` (out × r, U_r·diag(S_r)) and `NAME.b` "
        f"(r × in·kh·kw, V_rᵀ) in the weight's dtype; every other tensor unchanged under its own name; "
        f"`__metadata__` holds `{FACTORED_METADATA_KEY}` (each weight's original shape and rank) and the "
        "`rank_pattern`. "
        f"{allocation.parameters_after:,} numbers in the weights instead of {allocation.parameters_before:,} "
        f"({format_bytes(4 * allocation.parameters_after)} in float32). lowrank_core.load_factored reads "
        "it back into a module with LowRankLinear layers.")
