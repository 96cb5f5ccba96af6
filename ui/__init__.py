"""The Streamlit side of the playground: session state, and the panels and widgets the page scripts share.

``core`` knows nothing of Streamlit; everything here does. ``app_pages/`` holds only the page scripts.
"""
