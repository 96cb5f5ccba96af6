"""The Streamlit side of the playground: session state, the panels and widgets the page scripts in ``pages/`` share.

``core`` knows nothing of Streamlit; everything here does. ``pages/`` holds only page scripts.
"""
