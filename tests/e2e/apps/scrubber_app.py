"""Test app of the rank scrubber: one shipped sample (or a matrix) through lowrank_core, chosen by the URL.

Query parameters: ``kind`` (image | matrix), ``sample`` (a sample name), ``mode`` (rgb | luminance |
ycbcr), ``dtype`` (float32 | float16 | int8), ``side`` (display size: at most this many pixels a side),
``cap`` (rank cap; default the byte budget's), ``rank`` (the first rank), ``group`` (YCbCr: 0 or 1),
``available`` (drawable ranks). It writes the settled rank and the status for the browser tests, and has
a button that asks for rank 12 (the page-side command) and one that starts the sweep.

Run from the repository root: ``streamlit run tests/e2e/apps/scrubber_app.py``.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import streamlit as st  # noqa: E402
import torch  # noqa: E402

from lowrank_core import factorize, scrub, sources  # noqa: E402
from lowrank_core.image import fit_size, prepare_codec  # noqa: E402
from ui.components.scrubber import rank_scrubber  # noqa: E402
from ui.heap import freeze_startup_heap  # noqa: E402
from ui.stills import colour_map  # noqa: E402

DIVERGING = colour_map(np.linspace(-1.0, 1.0, 257), 1.0)  # (257, 3): the app's RdBu_r table


@st.cache_resource(max_entries=4)
def image_payload(sample: str, mode: str, dtype: str, side: int, cap: int | None) -> bytes:
    pixels = sources.load_sample(sample).pixels
    codec = prepare_codec(pixels, mode)
    size = fit_size(codec.height, codec.width, side)
    return scrub.pack(scrub.scrub_factors(codec, pixels, dtype=dtype, size=size, rank_cap=cap))


@st.cache_resource(max_entries=2)
def matrix_payload(seed: int) -> bytes:
    generator = torch.Generator().manual_seed(seed)
    W = torch.rand(15, 4, generator=generator) @ torch.rand(4, 15, generator=generator)
    W = W + 0.05 * torch.randn(15, 15, generator=generator)
    return scrub.pack(scrub.matrix_scrub_factors(W, factorize(W), colours=DIVERGING))


freeze_startup_heap()  # as app.py: no 180 ms gc.collect after every run
params = st.query_params
kind = params.get("kind", "image")
st.session_state.setdefault("reruns", 0)
st.session_state["reruns"] += 1
if kind == "matrix":
    payload = matrix_payload(int(params.get("seed", 0)))
else:
    cap = params.get("cap")
    payload = image_payload(params.get("sample", "astronaut"), params.get("mode", "rgb"),
                            params.get("dtype", "float16"), int(params.get("side", 1024)),
                            int(cap) if cap else None)
st.session_state.setdefault("page_rank", int(params.get("rank", 10)))
if st.button("Ask for rank 12", key="ask"):
    st.session_state["page_rank"] = 12
play = st.button("Play", key="play")
group = params.get("group")
available = params.get("available")
result = rank_scrubber(payload, key="scrub", rank=st.session_state["page_rank"],
                       min_rank=0 if kind == "matrix" else 1,
                       group=int(group) if group is not None else None,
                       ranks=(int(params.get("rank", 10)), 3) if group is not None else None,
                       available=int(available) if available else None, play=play, spectrum=True)
st.session_state["page_rank"] = result.rank
st.write(f"settled rank: {result.rank}")
st.write(f"status: {result.status}")
st.write(f"reruns: {st.session_state['reruns']}")
st.write(f"payload bytes: {len(payload)}")
