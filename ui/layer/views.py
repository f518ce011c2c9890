"""The Layers page's larger views, drawn with Streamlit (figures and tables: ``ui.layer.figures``)."""

from __future__ import annotations

import streamlit as st

from lowrank_core import break_even_rank, choose_device
from lowrank_core.timing import measured_crossover_rank
from ui.layer import cache
from ui.layer.figures import timing_figure, timing_table

__all__ = ["timing_section"]


def timing_section() -> None:
    """"Is it faster?": dense against factored forward times of a large layer, measured on request."""
    st.markdown(
        f"FLOPs are not time. The page measures a {cache.TIMING_SIZE}×{cache.TIMING_SIZE} dense `nn.Linear` "
        f"against `LowRankLinear` at rank {cache.TIMING_RANK} and a few larger ranks, batch "
        f"{cache.TIMING_BATCH}, with `torch.utils.benchmark` (medians; a few seconds, done once and "
        "cached)."
    )
    if st.button("Measure forward times", key="layer_time_button"):
        st.session_state["layer_timing_requested"] = True
    if st.session_state.get("layer_timing_requested"):
        timings = cache.forward_timings(str(choose_device()))
        at_rank = next(t for t in timings if t.rank == cache.TIMING_RANK)
        columns = st.columns(4)
        columns[0].metric("dense nn.Linear", f"{1e3 * at_rank.dense_seconds:.2f} ms")
        columns[1].metric(f"LowRankLinear, rank {cache.TIMING_RANK}",
                          f"{1e3 * at_rank.factored_seconds:.2f} ms")
        columns[2].metric("measured speed-up", f"{at_rank.speedup:.1f}×",
                          help=f"FLOP ratio {at_rank.flop_ratio:.1f}×")
        crossover = measured_crossover_rank(timings)
        columns[3].metric("crossover rank",
                          f"{crossover}" if crossover else f"> {timings[-1].rank}",
                          help="Measured: the smallest rank from which on the factored layer is "
                               "never faster than the dense one. The FLOP break-even is "
                               f"{break_even_rank(cache.TIMING_SIZE, cache.TIMING_SIZE):g}.")
        left, right = st.columns(2)
        left.plotly_chart(timing_figure([t.rank for t in timings], 1e3 * timings[0].dense_seconds,
                                        [1e3 * t.factored_seconds for t in timings],
                                        break_even=break_even_rank(cache.TIMING_SIZE, cache.TIMING_SIZE),
                                        size=cache.TIMING_SIZE), key="layer_timing_chart")
        right.dataframe(timing_table(timings), hide_index=True, key="layer_timing_table")
        threads = "one thread" if timings[0].threads == 1 else f"{timings[0].threads} threads"
        st.caption(f"On {timings[0].device} with {threads} (stable when the server's cores are "
                   "shared; more threads scale both layers). Below the crossover "
                   "two thin products beat one large one; near the FLOP break-even the extra pass "
                   "over memory and the smaller, less efficient products lose.")
