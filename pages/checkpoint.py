"""Checkpoint inspector: open a model file, see every weight's spectrum, spend a parameter budget, export it.

1. A checkpoint — the built-in digits MLP, or an upload (.safetensors, .pt, .pth, .bin; never unpickled).
2. Every weight — a sortable table of the rank rules; the tensors skipped, with the reason.
3. One weight — its spectrum, energy, error against rank beside Eckart–Young, output error, forward time.
4. A budget across layers — greedy beside the uniform and equal-energy baselines; for the digits MLP, test
   accuracy against budget with and without a fine-tune.
5. Export — the factored .safetensors and the rank_pattern JSON.
"""

import streamlit as st

from lowrank_core import LowRankError
from ui.charts import energy_figure
from ui.checkpoint import cache, inputs, views
from ui.checkpoint.figures import error_figure, spectrum_figure
from ui.checkpoint.links import apply_checkpoint_link, checkpoint_link_params, linked_weight
from ui.layer.inputs import progress_callback
from ui.links import share_box, sync_url
from ui.page import page_start
from ui.text import escape_markdown

start = page_start(
    "Checkpoint inspector: every weight of a model, and the rank each one needs",
    apply_link=apply_checkpoint_link,
    intro=r"A trained weight $W$ ($m \times n$) is replaced by $ab$ with $a$ ($m \times r$) and $b$ "
          r"($r \times n$): $r(m + n)$ numbers instead of $mn$, and by Eckart–Young the smallest error any "
          r"rank-$r$ matrix can have, $\|W - ab\|_F^2 = \sum_{i>r} \sigma_i^2$. Open a model file to see "
          "each weight's singular values, which rank each rule picks, and how to share a parameter budget "
          "across the layers; then download the compressed checkpoint.")

# ============================================================================================ 1. the file
st.header("1. A checkpoint")
choice = inputs.checkpoint_source()
if choice is None:
    sync_url(checkpoint_link_params(src="upload"))
    st.stop()
try:
    if choice.kind == "example":
        progress, done = progress_callback("Training the digits MLP (64 → 128 → 64 → 10)…")
        checkpoint = cache.example_checkpoint(progress)
        done()
        key = cache.EXAMPLE_KEY
        st.caption("The Layers page's digits MLP, trained in seconds on the UCI 8×8 digits and saved as "
                   ".safetensors; its layers' output errors use the test images' own activations.")
        st.download_button("Download it as .safetensors", cache.example_bytes, file_name=cache.EXAMPLE_NAME,
                           mime="application/octet-stream", on_click="ignore", key="checkpoint_example_file",
                           icon=":material/download:")
    else:
        checkpoint = cache.uploaded_checkpoint(choice.key, choice.name, choice.data)
        key = choice.key
except LowRankError as err:  # the new file replaced the old one: nothing of the old one is left on screen
    st.error(escape_markdown(str(err)))
    sync_url(checkpoint_link_params(src=choice.kind))
    st.stop()
progress, done = progress_callback(f"Inspecting {len(checkpoint.weights)} weights: one SVD each…")
inspection = cache.inspection(key, checkpoint, progress)
done()
views.overview(inspection, checkpoint)
if not inspection.weights:
    st.warning("This file holds no weight that can be factored (2 or more dimensions, both sides at least "
               "2, floating point); the skipped ones are listed below with the reason.")
    views.weights_section(inspection, picker_key="checkpoint_weight")
    sync_url(checkpoint_link_params(src=choice.kind))
    st.stop()

# ======================================================================================== 2. every weight
st.header("2. Every weight")
names = [weight.name for weight in inspection.weights]
start.add(linked_weight(names))
views.weights_section(inspection, picker_key="checkpoint_weight")

# ========================================================================================== 3. one weight
st.header("3. One weight")
name = inputs.weight_picker(names)
summary = next(weight for weight in inspection.weights if weight.name == name)
views.weight_numbers(summary)
detail = cache.weight_detail(key, name, checkpoint)
left, right = st.columns(2)
left.plotly_chart(spectrum_figure(summary), key="checkpoint_spectrum")
energy_rank = summary.rank_energy_90 if summary.rank_energy_90 is not None else 0
right.plotly_chart(energy_figure(detail.energy.numpy(), rank=min(energy_rank, detail.energy.numel() - 1),
                                 title=f"Energy of {name} kept against rank"), key="checkpoint_energy")
st.plotly_chart(error_figure(detail, break_even=summary.break_even_rank), key="checkpoint_errors")
gap = float((detail.relative_error - detail.predicted_relative_error).abs().max())
worst = float(detail.output_worst_ratio.max())
st.caption(f"Measured on the factors (float32) at {len(detail.ranks)} ranks; the largest gap to "
           f"Eckart–Young is {gap:.2g}. Output error on {detail.batch} inputs ({detail.inputs}); at every "
           f"rank each input's error stays within σᵣ₊₁‖x‖ (largest ratio {worst:.3f} ≤ 1)."
           + ("" if detail.method == "exact" else " Randomized SVD: the curves stop at the leading "
              f"{detail.S.numel()} singular values."))
views.timing_section(summary)

# ======================================================================================== 4. the budget
st.header("4. A parameter budget across layers")
setting = inputs.budget_setting(inspection.parameters)
try:
    allocations = cache.allocations(key, setting.fraction, setting.budget_bytes, setting.bytes_per_parameter,
                                    inspection.spectra())
except LowRankError as err:
    st.error(escape_markdown(str(err)))
    allocations = None
if allocations is not None:
    views.allocation_section(allocations)
if choice.kind == "example":
    st.subheader("Does a smaller error mean a better network? Accuracy against budget")
    views.study_section()

# =========================================================================================== 5. export
st.header("5. Export")
allocation_name = inputs.allocation_picker()
if allocations is not None:
    views.export_section(key, checkpoint, allocations[allocation_name])
else:
    st.info("Choose a budget the weights can meet to export them.")

link = checkpoint_link_params(src=choice.kind, weight=name, budget=setting.fraction, alloc=allocation_name,
                              first_weight=names[0])
sync_url(link)
share_box("checkpoint", "checkpoint", link,
          note="An uploaded file cannot travel in a link: whoever opens it uploads the same file."
          if choice.kind == "upload" else None)
