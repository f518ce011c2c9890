"""Low-Rank Explorer: the entry point. Registers the pages and draws the sidebar shared by all of them."""

import streamlit as st

from ui.sidebar import render_sidebar

st.set_page_config(page_title="Low-Rank Explorer", page_icon="🧮", layout="wide")

PAGES = [
    st.Page("pages/tour.py", title="From the notebook", icon="📓", url_path="tour", default=True),
    st.Page("pages/matrix.py", title="Matrix explorer", icon="🔢", url_path="matrix"),
    st.Page("pages/image.py", title="Image compression", icon="🖼️", url_path="image"),
    st.Page("pages/layer.py", title="Layers and LoRA", icon="🧠", url_path="layer"),
    st.Page("pages/quiz.py", title="Quiz: name that picture", icon="❓", url_path="quiz"),
    st.Page("pages/about.py", title="About and licences", icon="ℹ️", url_path="about"),
]

page = st.navigation(PAGES)
render_sidebar()
page.run()
