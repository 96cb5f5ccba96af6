"""Load a saved run's model, download the current one, or upload a ``.keras`` file: shared by the pages."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from core.model_files import ModelLoadError, load_model_bytes
from core.registry import get_task
from core.store import RunInfo, RunNotFound
from ui.controls import apply_params
from ui.session import Current, cached, ensure_tf, get_current, load_run_model, saved_runs, set_current, store
from ui.text import literal


def headline(info: RunInfo, digits: int = 3) -> str:
    """The one figure that sums a run up (its task's ``headline_metric``), e.g. ``test accuracy 0.967``."""
    name = get_task(info.kind).headline_metric
    value = info.record.get("metrics", {}).get(name)
    return f"{name.replace('_', ' ')} {value:.{digits}f}" if isinstance(value, float) else ""


def _run_label(info: RunInfo) -> str:
    return f"{info.run_id} · {info.record.get('status', '?')} · {headline(info)}"


def open_run(kind: str, run_id: str) -> str | None:
    """Make a saved run the current model of ``kind`` and put its settings into the widgets (call from a callback).

    Returns what went wrong, or None.
    """
    try:
        model = load_run_model(kind, run_id)
        record = store().get(run_id)
    except (ModelLoadError, RunNotFound, OSError, ValueError) as err:
        return f"Could not load run {run_id}: {err}"
    set_current(kind, Current(model, record["params"], record.get("metrics", {}), run_id, run_id,
                              record.get("status", "done")))
    apply_params(kind, record["params"])
    return None


def _load_run(kind: str, run_id: str) -> None:
    st.session_state[f"{kind}.load_error"] = open_run(kind, run_id)


def _model_bytes(current: Current) -> bytes:
    if current.run_id:
        path = store().model_path(current.run_id)
        if path.is_file():
            return path.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        current.model.save(path)
        return path.read_bytes()


def _upload(kind: str, upload) -> None:
    ensure_tf()
    task = get_task(kind)
    try:
        model = load_model_bytes(upload.getvalue(), upload.name, task.custom_objects())
        task.check_model(model)
    except (ModelLoadError, ValueError) as err:
        st.session_state[f"{kind}.upload_message"] = ("error", f"Could not use {literal(upload.name)}: {literal(err, 400)}")
        return
    set_current(kind, Current(model, task.space.defaults(), {}, None, upload.name))
    st.session_state[f"{kind}.upload_message"] = ("success", f"Loaded {literal(upload.name)}; it is now the current model.")


def model_panel(kind: str, what: str = "models") -> None:
    """An expander with the saved runs of ``kind`` (load), a download button and an upload box.

    ``what`` names them when a page has two panels ("latent classifiers").
    """
    with st.expander(f"Saved {what}: load, download, upload"):
        left, right = st.columns(2)
        runs = saved_runs(kind)
        with left:
            st.caption(f"Every training is saved as a run in `{store().root}`.")
            if runs:
                labels = {r.run_id: _run_label(r) for r in runs}
                chosen = st.selectbox("Saved runs", list(labels), format_func=labels.get, key=f"{kind}.run_choice")
                st.button("Load this run", key=f"{kind}.load", on_click=_load_run, args=(kind, chosen))
            else:
                st.write("No saved runs yet.")
            if st.session_state.get(f"{kind}.load_error"):
                st.error(st.session_state[f"{kind}.load_error"])
        with right:
            current = get_current(kind)
            if current is not None:
                data = cached(kind, "download", current.key, lambda: _model_bytes(current))
                name = current.label if current.label.endswith(".keras") else f"{current.label}.keras"
                st.download_button("Download the current model (.keras)", data, file_name=name,
                                   mime="application/octet-stream", key=f"{kind}.download")
            upload = st.file_uploader("Upload a .keras model", type=["keras"], key=f"{kind}.upload")
            if upload is not None and st.session_state.get(f"{kind}.uploaded") != upload.file_id:
                st.session_state[f"{kind}.uploaded"] = upload.file_id
                _upload(kind, upload)
            message = st.session_state.get(f"{kind}.upload_message")
            if message:
                (st.error if message[0] == "error" else st.success)(message[1])


def require_model(kind: str, hint: str) -> Current:
    """The page's current model; without one, ``hint`` (what to do first), the saved models, and the page ends here."""
    current = get_current(kind)
    if current is None:
        st.info(hint)
        model_panel(kind)
        st.stop()
    return current

