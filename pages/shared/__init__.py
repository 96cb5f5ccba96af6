"""Streamlit helpers shared by the pages (this folder is not a page: Streamlit only lists pages/*.py)."""
