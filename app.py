"""Low-Rank Explorer: entry point. Placeholder until the pages land."""

import streamlit as st

st.set_page_config(page_title="Low-Rank Explorer", layout="wide")
st.title("Low-Rank Explorer")
st.write("The pages are on their way.")
