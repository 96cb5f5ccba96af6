"""Per-session state of the app: training jobs, the current model of each kind, the runs store.

Everything here lives in ``st.session_state``, never in ``st.cache_resource`` (which every user
shares), so that several browser sessions can train at once without seeing each other's jobs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from core.store import RunStore

# The page of each model kind, for links and st.switch_page.
PAGE_OF = {"iris": "pages/1_🌸_Iris.py", "cnn": "pages/2_🔢_MNIST_CNN.py", "cvae": "pages/3_🌀_CVAE.py",
           "latent": "pages/3_🌀_CVAE.py"}


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


def ensure_tf() -> None:
    """Import TensorFlow/Keras once (with a spinner the first time) and make Streamlit reruns cheap.

    After each script run Streamlit calls ``keras.backend.clear_session()``, whose default
    ``free_memory=True`` runs a full ``gc.collect()``: ~400 ms per rerun once Keras is loaded. The
    patched version keeps the session reset but skips the collection.
    """
    import sys

    if "keras" not in sys.modules:
        with st.spinner("Loading TensorFlow (first time only)…"):
            import keras
            import tensorflow  # noqa: F401
    import keras

    original = keras.backend.clear_session
    if not getattr(original, "_cheap", False):

        def clear_session(free_memory: bool = False):
            return original(free_memory=free_memory)

        clear_session._cheap = True
        keras.backend.clear_session = clear_session


def store() -> RunStore:
    return RunStore()


def _slot(name: str) -> dict:
    return st.session_state.setdefault(name, {})


def get_job(kind: str):
    return _slot("jobs").get(kind)


def set_job(kind: str, job) -> None:
    _slot("jobs")[kind] = job


def get_current(kind: str) -> Current | None:
    return _slot("current").get(kind)


def set_current(kind: str, current: Current | None) -> None:
    if current is None:
        _slot("current").pop(kind, None)
    else:
        _slot("current")[kind] = current


def cached(kind: str, name: str, key: Any, compute):
    """Memoise a derived value (a figure, an evaluation) per session for the current model."""
    cache = _slot("derived").setdefault(kind, {})
    if cache.get(name, (None,))[0] != key:
        cache[name] = (key, compute())
    return cache[name][1]
