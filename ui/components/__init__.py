"""Custom components (Streamlit components v2): each a folder with its .js/.css and a thin __init__.py."""
