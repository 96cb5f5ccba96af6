"""State of the app per browser and per server: training jobs, the current model of each kind, the runs store.

Jobs belong to the server, not to a page view: one :class:`core.executor.board.JobBoard` per server process
(``st.cache_resource``) holds them by owner and slot, and one :class:`core.executor.Executor` queues and runs them in
worker processes (the server itself never trains). The owner (:func:`owner_id`) is the signed-in user when
the server uses Streamlit's authentication (``st.login``), else this browser's id (:func:`browser_id`), kept
in a cookie, so a reloaded page or a new tab of the same browser finds its running job again, while other
browsers never see it. The same owner owns the runs its jobs save: only they can rename, share or delete them. What a page shows (the current model, derived pictures) lives in
``st.session_state``, per page view.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from core.executor import Executor, RemoteJob
from core.executor import shared as shared_executor
from core.executor.board import JobBoard
from core.params import ParamError
from core.records import LOCAL_OWNER
from core.registry import get_task
from core.scheduler import Busy, OwnerLimit
from core.store import RunInfo, RunNotFound, RunStore, default_runs_dir
from ui.text import literal

# Lazy imports: Keras (5.9 s to import, with TensorFlow) inside ensure_tf and keep_keras_state, so that the pages
# paint before it loads (with a spinner the first time).

OWNER_COOKIE = "nnp_owner"
_OWNER_KEY = "browser_id"
_OWNER_ID = re.compile(r"[0-9a-f]{32}")  # what browser_id() hands out: a uuid4 in hex
_COOKIE_JS = """
export default function(component) {
  const cookie = `${component.data.name}=${component.data.id}`;
  if (!document.cookie.split('; ').includes(cookie)) {
    document.cookie = `${cookie}; path=/; max-age=31536000; SameSite=Lax`;
  }
}
"""


@dataclass
class Current:
    """The model a page works with: just trained, loaded from a run, or uploaded."""

    model: Any
    params: dict
    metrics: dict = field(default_factory=dict)
    run_id: str | None = None
    label: str = ""
    status: str = "done"
    loaded_at: float = field(default_factory=time.time)

    @property
    def key(self) -> str:
        """Identifies this model in caches of derived pictures."""
        return f"{self.run_id or self.label}-{self.loaded_at}"


def keep_keras_state() -> None:
    """Turn off Streamlit's after-run ``keras.backend.clear_session()`` in this server process (Keras imported).

    After each script run Streamlit calls it. In this app that is harmful twice: its default
    ``free_memory=True`` runs a full ``gc.collect()`` (~400 ms per rerun once Keras is loaded: ``python -m core
    bench rerun``), and it replaces Keras' process-wide state, layer-name counters included, while other sessions'
    scripts are loading or building models. The app keeps no Keras session state to reset (models carry their own
    dtypes; trainings run in worker processes), so in the server process the call does nothing.
    """
    import keras

    if not getattr(keras.backend.clear_session, "_app_noop", False):

        def clear_session(free_memory: bool = True) -> None:
            """Streamlit's after-run reset, turned off in the app's server (see ``ui.session.keep_keras_state``)."""

        clear_session._app_noop = True
        keras.backend.clear_session = clear_session


_TF_LOCK = threading.Lock()


def ensure_tf() -> None:
    """Import TensorFlow/Keras once (with a spinner the first time) and keep Keras' state (:func:`keep_keras_state`).

    Pages of several sessions (threads of the server) that load TensorFlow for the first time take turns: Python's
    per-module import locks can report a deadlock when two threads import a package as large and circular at once.
    """
    if "keras" not in sys.modules or "tensorflow" not in sys.modules:
        with st.spinner("Loading TensorFlow (first time only)…"), _TF_LOCK:
            import keras  # noqa: F401
    keep_keras_state()


@st.cache_resource
def _store_at(root: str) -> RunStore:
    return RunStore(root)


def store() -> RunStore:
    """The runs store (``NN_PLAYGROUND_RUNS``, read on every call so a changed setting takes effect)."""
    return _store_at(str(default_runs_dir()))


def visible_runs(kind: str | None = None) -> list[RunInfo]:
    """The runs this visitor may see (their own and shared ones), newest first."""
    return store().list(kind, viewer=owner_id())


def saved_runs(kind: str) -> list[RunInfo]:
    """The readable runs of ``kind`` that hold a model and that this visitor may see."""
    return [r for r in visible_runs(kind) if not r.damaged and r.record.get("has_model")]


def load_run_model(kind: str, run_id: str):
    """A saved run's model (one this visitor may see), with the custom Keras classes its kind needs."""
    ensure_tf()
    return store().load_model(run_id, get_task(kind).custom_objects(), viewer=owner_id())


READONLY_RUNS = "NN_PLAYGROUND_READONLY_RUNS"


def runs_read_only() -> bool:
    """The operator forbade deleting runs from the browser (``NN_PLAYGROUND_READONLY_RUNS=1``)."""
    return os.environ.get(READONLY_RUNS, "").strip().lower() not in ("", "0", "false", "no")


# --- jobs: the server's, by browser --------------------------------------------------------------------------------

@st.cache_resource
def job_board() -> JobBoard:
    """The one job board of this server process, shared by every session."""
    return JobBoard()


def browser_id() -> str:
    """This browser's owner id: the ``nnp_owner`` cookie, or a new one for this session (see :func:`remember_browser`)."""
    owner = st.session_state.get(_OWNER_KEY)
    if owner is None:
        cookie = st.context.cookies.get(OWNER_COOKIE)
        owner = cookie if isinstance(cookie, str) and _OWNER_ID.fullmatch(cookie) else uuid.uuid4().hex
        st.session_state[_OWNER_KEY] = owner
    return owner


@st.cache_resource
def _cookie_writer():
    return st.components.v2.component("nn_playground.browser_id", js=_COOKIE_JS)


def remember_browser() -> None:
    """Store this browser's id in its cookie when the session did not arrive with it (call once per full run).

    Cookies reach the server with a session's first request, so the next session (a reload, a new tab)
    reads the id from ``st.context.cookies``.
    """
    owner = browser_id()
    if st.context.cookies.get(OWNER_COOKIE) != owner:
        _cookie_writer()(data={"name": OWNER_COOKIE, "id": owner}, key="browser_id.cookie")


def owner_id() -> str:
    """Who this visitor is, for jobs and runs: ``user:<email>`` when signed in (``st.login``), else :func:`browser_id`."""
    user = st.user
    if user.get("is_logged_in"):
        ident = user.get("email") or user.get("sub")
        if isinstance(ident, str) and ident:
            return f"user:{ident}"
    return browser_id()


def _providers() -> list[str | None]:
    """The identity providers of ``.streamlit/secrets.toml`` (``[auth]``, or named ``[auth.<name>]``); [] for none."""
    try:
        auth = st.secrets.get("auth")
    except Exception:  # no secrets file: the local default, nobody signs in
        return []
    if not auth:
        return []
    named = [name for name, value in auth.items() if hasattr(value, "items")]
    return named or [None]


def account_box() -> None:
    """Sign in and out in the sidebar, when the server has an identity provider (see README, "Sharing a server")."""
    providers = _providers()
    if not providers:
        return
    if st.user.get("is_logged_in"):
        st.sidebar.caption(f"Signed in as {literal(st.user.get('name') or st.user.get('email') or 'you')}: your "
                           "runs and trainings follow you to any browser.")
        if st.sidebar.button("Sign out", key="account.logout"):
            st.logout()
        return
    st.sidebar.caption("Not signed in: your runs and trainings belong to this browser.")
    for provider in providers:
        label = "Sign in" + (f" with {provider}" if provider else "")
        if st.sidebar.button(label, key=f"account.login.{provider}"):
            st.login(provider) if provider else st.login()


def owner_label(owner: str) -> str:
    """How the Runs page names a run's owner to this visitor."""
    if owner == owner_id():
        return "you"
    if owner == LOCAL_OWNER:
        return "command line"
    return "another user" if owner.startswith("user:") else "another visitor"


def executor() -> Executor:
    """The one executor of this server process (:func:`core.executor.shared`): trainings queue there and run in Ray
    worker processes (a local Ray started on demand or when the server starts, or the cluster at ``RAY_ADDRESS``)."""
    return shared_executor()


def get_job(kind: str) -> RemoteJob | None:
    return job_board().get(owner_id(), kind)


def start_job(kind: str, params: dict) -> RemoteJob:
    """Queue a training of ``kind`` for this visitor; it starts when the fair queue lets it (:mod:`core.scheduler`).

    Raises before anything is queued: ``core.params.ParamError`` for invalid settings, ``ValueError`` when the task
    cannot start (no CVAE run to encode with, say), ``core.scheduler.Busy`` / ``OwnerLimit`` when the queue is full.
    Nothing here imports TensorFlow or draws an element: the click returns at once.
    """
    job = executor().submit(kind, params, store=store(), owner=owner_id())
    job_board().put(owner_id(), kind, job)
    return job


def try_start_job(kind: str, params: dict) -> str | None:
    """:func:`start_job`, or the message to show the visitor when nothing was queued (a full queue says so as it is)."""
    try:
        start_job(kind, params)
    except (Busy, OwnerLimit) as err:
        return str(err)
    except (ParamError, ValueError, RunNotFound) as err:
        return f"Cannot train: {err}"
    return None


# --- what this page view shows -------------------------------------------------------------------------------------

def _slot(name: str) -> dict:
    return st.session_state.setdefault(name, {})


def get_current(kind: str) -> Current | None:
    return _slot("current").get(kind)


def set_current(kind: str, current: Current | None) -> None:
    if current is None:
        _slot("current").pop(kind, None)
    else:
        _slot("current")[kind] = current


def adopt(kind: str, job: RemoteJob) -> bool:
    """Mark a finished job as seen by this page view; True the first time only (then its model becomes current)."""
    adopted = _slot("adopted")
    if adopted.get(kind) is job:
        return False
    adopted[kind] = job
    return True


def adopted(kind: str, job: RemoteJob) -> bool:
    return _slot("adopted").get(kind) is job


def cached(kind: str, name: str, key: Any, compute):
    """Memoise a derived value (a figure, an evaluation) per session for the current model."""
    cache = _slot("derived").setdefault(kind, {})
    if cache.get(name, (None,))[0] != key:
        cache[name] = (key, compute())
    return cache[name][1]
