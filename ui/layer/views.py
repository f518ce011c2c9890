"""The Layers page's larger views, drawn with Streamlit (figures and tables: ``ui.layer.figures``)."""

from __future__ import annotations

import streamlit as st

from lowrank_core import break_even_rank, choose_device
from lowrank_core.timing import measured_crossover_rank
from ui.layer import cache
from ui.layer.figures import lora_figure, lora_table, timing_figure, timing_table
from ui.layer.inputs import progress_callback

__all__ = ["timing_section", "lora_comparison"]


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


def lora_comparison(base_accuracy: float) -> None:
    """LoRA adapters of every rank against the full fine-tune, each trained once per fine-tune seed
    (``cache.LORA_SEEDS``; progress bars the first time): the table and the chart show the spread.

    One seed on 449 test images could make an adapter "beat" the full fine-tune by a few images (one image is
    0.22 percentage points); the spread over seeds shows how much of a difference is luck.
    """
    full, adapters = [], {rank: [] for rank in cache.LORA_RANKS}
    for number, seed in enumerate(cache.LORA_SEEDS, start=1):
        progress, done = progress_callback(f"Fine-tune seed {seed} ({number} of {len(cache.LORA_SEEDS)}): "
                                           "every parameter, then LoRA adapters of rank "
                                           + ", ".join(map(str, cache.LORA_RANKS)) + "…")
        full.append(cache.full_finetune(progress, finetune_seed=seed))
        for rank in cache.LORA_RANKS:
            adapters[rank].append(cache.lora_finetune(rank, progress, finetune_seed=seed))
        done()
    rows = [(rank, runs[0].trainable_parameters, [run.test_accuracy for run in runs])
            for rank, runs in adapters.items()]
    full_accuracies = [run.test_accuracy for run in full]
    st.dataframe(lora_table(base_accuracy, full[0].trainable_parameters, full_accuracies, rows),
                 hide_index=True, key="layer_lora_table")
    st.plotly_chart(lora_figure(rows, full_parameters=full[0].trainable_parameters,
                                full_accuracies=full_accuracies, base_accuracy=base_accuracy),
                    key="layer_lora_chart")
    test_images = len(cache.digits_split().y_test)
    st.caption(
        f"Every fine-tune is run with {len(cache.LORA_SEEDS)} seeds (the adapters' initialisation and the "
        f"order of the batches); the base network, the data and the {test_images} test images are the same, "
        f"so one image is {100 / test_images:.2f} percentage points and a method is compared with the "
        "full fine-tune of the same seed. Each adapter: A (r × in) Kaiming-uniform, B (out × r) zeros, so "
        "training starts from the base exactly; only A and B train, r(in + out) numbers per layer (the "
        "64 → 10 layer's rank is clipped to 10). Same data and epochs as the full fine-tune.")
