"""The app ``benchmarks/scrub.py`` drives: the 1080p photo with the rank scrubber, or the old server path.

``?path=browser`` (default): ``rank_scrubber`` on the display factors (float16, 1024×576, default cap),
range 0..cap so that Home and End are the 0 -> cap jumps. ``?path=server``: an ``st.slider`` and the
display JPEG of ``ui.image.cache.display_jpeg`` (what the image page sent for every move before the
scrubber), range 0..cap. Both print the server's process id for the CPU measurement.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from lowrank_core import scrub, sources  # noqa: E402
from lowrank_core.image import prepare_codec  # noqa: E402
from ui.components.scrubber import rank_scrubber  # noqa: E402
from ui.heap import freeze_startup_heap  # noqa: E402
from ui.image import cache as image_cache  # noqa: E402

DTYPE = "float16"

st.set_page_config(layout="wide")
freeze_startup_heap()  # as app.py: no 180 ms gc.collect after every run


@st.cache_resource
def photo():
    pixels = sources.sample_photo_1080p()  # (3, 1080, 1920)
    codec = prepare_codec(pixels, "rgb")
    size = image_cache.display_size(codec.height, codec.width)  # (576, 1024)
    payload = scrub.pack(scrub.scrub_factors(codec, pixels, dtype=DTYPE, size=size))
    return codec, size, payload


codec, size, payload = photo()
cap = scrub.read_header(payload).rank_cap
st.write(f"server pid: {os.getpid()}")
if st.query_params.get("path", "browser") == "server":
    rank = st.slider("Rank r", min_value=0, max_value=cap, value=30, key="rank")
    identity = ("bench", codec.mode, codec.method, codec.max_rank)
    st.image(image_cache.display_jpeg(identity, (rank,), DTYPE, size, _codec=codec))
else:
    st.session_state.setdefault("rank", 30)
    result = rank_scrubber(payload, key="scrub", rank=st.session_state["rank"], min_rank=0, max_rank=cap,
                           max_height=560)  # picture and slider in one 1440×900 viewport, as the page
    st.session_state["rank"] = result.rank
    rank = result.rank
st.write(f"settled rank: {rank}")
st.write(f"payload bytes: {len(payload)}, rank cap: {cap}")
