"""The neural-network playground's script (``streamlit run app.py`` serves it; see app.py).

It names the pages (``st.navigation``: the sidebar reads Home, Iris, MNIST CNN, CVAE, Runs, with the
URLs ``/``, ``/Iris``, ``/MNIST_CNN``, ``/CVAE``, ``/Runs``), keeps this browser's id in a cookie so that its
training jobs survive a reload, and runs the chosen page. The page scripts are in ``app_pages/``, what they share
in ``ui/``, the models and everything else that is not Streamlit in ``core/``.

The folder is not called ``pages/``: Streamlit (1.67) treats a ``pages/`` folder as the old directory-based
navigation until the first ``st.navigation`` call of the server process, so the first visitor of a fresh server
who opens a link such as ``/Iris`` got a "Page not found" dialog over the right page.
"""

import streamlit as st

from ui.controls import reserve_notices
from ui.navigation import PAGES as NAVIGATION
from ui.session import account_box, remember_browser

PAGES = [st.Page(script, title=title, icon=icon, default=not path, **({"url_path": path} if path else {}))
         for script, title, icon, path in NAVIGATION]

st.set_page_config(layout="wide")
page = st.navigation(PAGES)
remember_browser()
account_box()
reserve_notices()
page.run()
