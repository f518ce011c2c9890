"""About: what the app is, where its source and its sample data come from, under which licences."""

from pathlib import Path

import streamlit as st

from ui.navigation import ensure_navigation

ROOT = Path(__file__).resolve().parents[1]
LICENSES = {
    "Sample photographs": ROOT / "lowrank_core" / "data" / "samples" / "LICENSE.md",
    "Quiz pictures": ROOT / "lowrank_core" / "data" / "quiz" / "LICENSE.md",
    "Handwritten digits": ROOT / "lowrank_core" / "data" / "digits" / "LICENSE.md",
    "Font in the exported pictures (DejaVu Sans)": ROOT / "ui" / "fonts" / "LICENSE.md",
    "Low-Rank Explorer itself": ROOT / "LICENSE",
}

ensure_navigation()  # a link opened first on a fresh server: run through app.py
st.title("About Low-Rank Explorer")
st.markdown(
    "Low-Rank Explorer shows what the singular value decomposition does to a matrix, an image and a "
    "network layer. Every number on screen comes from `lowrank_core`, a small torch package in this "
    "repository, and is tested against an independent oracle (numpy/LAPACK in float64, scikit-image, "
    "closed forms). The source code, its tests and benchmarks live in the same repository as this app: "
    "`lowrank_core/` (the engine, also usable as `python -m lowrank_core`), `pages/` and `ui/` (this app)."
)
for title, path in LICENSES.items():
    with st.expander(title, expanded=False):
        if path.exists():
            st.markdown(path.read_text(encoding="utf-8"))
        else:
            st.caption(f"{path.relative_to(ROOT)} is not present in this copy.")
