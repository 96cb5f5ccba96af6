"""The neural-network playground: ``streamlit run app.py``.

The server (Streamlit's ``st.App``) runs ``streamlit_app.py``, which names the pages and runs the chosen one. One
thing is added to Streamlit's own routes: a page's own address (``/Iris``, ``/Runs``, ...) is answered with
Streamlit's page, told where its server is (``window.__streamlit.BACKEND_BASE_URL``). Without that, the page's
first request tries ``/Iris/_stcore/health`` and ``/Iris/_stcore/host-config`` (two 404s in the browser's console
and the server's log on every direct page load) before it finds the server at ``/``.

And ``POST /_nn/verdict/<token>``: the CNN's verdict on a drawing at the pen's lift, without a page rerun
(:mod:`ui.verdict`).

When the server starts, the trainings' executor (:mod:`core.executor`) starts Ray and warms its worker processes in
the background, so the first Train click does not wait for them.
"""

from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path

import streamlit
from starlette.responses import HTMLResponse
from starlette.routing import Route
from streamlit.starlette import App

import core  # noqa: F401  (first of the project: it sets TensorFlow's environment before anything imports it)
from core.executor import shared as shared_executor
from ui.navigation import URL_PATHS
from ui.verdict import endpoint as verdict_endpoint

# Runs before Streamlit's own script: the frontend reads it when it starts.
_BASE = "<script>window.__streamlit = {BACKEND_BASE_URL: window.location.origin + '/'};</script>"


@lru_cache(maxsize=1)
def _index_html() -> str:
    html = (Path(streamlit.__file__).parent / "static" / "index.html").read_text()
    return html.replace("<head>", "<head>" + _BASE, 1)


async def _page(request) -> HTMLResponse:
    return HTMLResponse(_index_html(), headers={"Cache-Control": "no-cache"})


@asynccontextmanager
async def _lifespan(_app):
    """When the server starts: Ray and one warm worker per CPU need start in the background (importing this module,
    as a test or a notebook may, starts nothing)."""
    shared_executor().warm()
    yield


app = App("streamlit_app.py", lifespan=_lifespan, routes=[*(Route(f"/{path}", _page) for path in URL_PATHS),
                                      Route("/_nn/verdict/{token}", verdict_endpoint, methods=["POST"])])
