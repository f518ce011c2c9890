"""Low-Rank Explorer: the entry point. Registers the pages and draws the sidebar shared by all of them."""

from pathlib import Path

import streamlit as st

from ui.admission import prestart_workers
from ui.heap import freeze_startup_heap
from ui.navigation import old_address
from ui.sessions import keep_alive
from ui.sidebar import render_sidebar

# The icon is a file of the app's own: a material icon as page_icon would be fetched from fonts.gstatic.com.
ICON = Path(__file__).parent / "ui" / "assets" / "favicon.png"
st.set_page_config(page_title="Low-Rank Explorer", page_icon=str(ICON), layout="wide")
freeze_startup_heap()  # once per server: the garbage collector stops walking torch's and plotly's objects
prestart_workers()  # once per server: the image decoders' fork server, so the first upload does not wait
keep_alive()  # this session is here: what it holds is given back once it has gone (ui.sessions)

PAGES = [
    st.Page("pages/tour.py", title="From the notebook", icon=":material/menu_book:", url_path="notebook",
            default=True),  # served at /; its old address /tour is a hidden page that redirects here
    st.Page("pages/matrix.py", title="Matrix explorer", icon=":material/grid_on:", url_path="matrix"),
    st.Page("pages/image.py", title="Image compression", icon=":material/image:", url_path="image"),
    st.Page("pages/layer.py", title="Layers and LoRA", icon=":material/hub:", url_path="layer"),
    st.Page("pages/checkpoint.py", title="Checkpoint inspector", icon=":material/inventory_2:",
            url_path="checkpoint"),
    st.Page("pages/quiz.py", title="Quiz: name that picture", icon=":material/quiz:", url_path="quiz"),
    st.Page("pages/about.py", title="About and licences", icon=":material/info:", url_path="about"),
]

page = st.navigation([*PAGES, old_address("tour", PAGES[0])])
render_sidebar(PAGES, page)  # PAGES: the menu's pages (not the hidden old address)
page.run()
