"""Runs: every finished or stopped training, to compare, reproduce, export and clean up."""

import streamlit as st

from core.export import FORMATS, export_archive
from core.params import ParamError
from core.registry import get_task, kinds
from ui.controls import switch_with_params
from ui.model_panel import headline, open_run
from ui.session import get_job, start_job, store
from ui.sweep_view import sweep_view

st.set_page_config(page_title="Runs · NN playground")
if goto := st.session_state.pop("runs.goto", None):  # (kind, settings), set by Open's and Re-run's callbacks
    switch_with_params(*goto)
st.title("📊 Runs")
st.markdown(f"Every training you finish or stop is a run, stored in `{store().root}` (set `NN_PLAYGROUND_RUNS` to "
            "move it). Select runs in the table to overlay their curves and compare their settings.")

kind_filter = st.pills("Model", kinds(), selection_mode="multi", default=kinds(), key="runs.kinds",
                       format_func=lambda k: get_task(k).title)
all_runs = store().list()
damaged = [r for r in all_runs if r.damaged]
runs = [r for r in all_runs if not r.damaged and r.kind in (kind_filter or [])]
for r in damaged:
    st.warning(f"Run `{r.run_id}` is damaged and cannot be read ({r.error}). Delete its folder `{r.path}`.")
sweep_view()
if not runs:
    st.info("No runs yet: train a model on one of the model pages.")
    st.stop()
if any(r.record.get("sweep") for r in runs):
    st.header("All runs")


rows = [{"run": r.run_id, "model": r.kind, "status": r.record.get("status"), "started": r.record.get("started"),
         "seconds": r.record.get("duration"), "epochs": r.record.get("epochs_completed"),
         "result": headline(r, digits=4), "data": (r.record.get("data") or {}).get("source", "")} for r in runs]
table = st.dataframe(rows, hide_index=True, on_select="rerun", selection_mode="multi-row",
                     key=f"runs.table.{st.session_state.get('runs.table_generation', 0)}")
selected = [runs[i] for i in table.selection.rows]
if not selected:
    st.caption("Select one or more rows to compare them.")
    st.stop()

import pandas as pd

from core.plots import overlay_figure

records = [r.record for r in selected]
labels = [r.run_id for r in selected]
metric_names = sorted({m.removeprefix("val_") for rec in records for m in rec.get("history", {})})
metric = st.segmented_control("Curve", metric_names, default="loss" if "loss" in metric_names else None,
                              key="runs.metric") or (metric_names[0] if metric_names else None)
if metric:
    st.plotly_chart(overlay_figure(records, metric, labels), key="runs.overlay")

st.subheader("Settings")
names = list(dict.fromkeys(name for rec in records for name in rec.get("params", {})))
table_rows = {name: [rec.get("params", {}).get(name, "—") for rec in records] for name in names}
table_rows["data"] = [(rec.get("data") or {}).get("description") or (rec.get("data") or {}).get("source", "")
                      for rec in records]
frame = pd.DataFrame(table_rows, index=labels).T.astype(str)
differs = frame.nunique(axis=1) > 1
styled = frame.style.apply(lambda row: ["background-color: #FFE8A3; font-weight: bold" if differs[row.name] else ""
                                        for _ in row], axis=1)
st.dataframe(styled, key="runs.params")
if len(selected) > 1:
    changed = [n for n in frame.index if differs[n]]
    st.caption("Highlighted: " + (", ".join(changed) if changed else "no differences") + ".")


def _rerun(run) -> None:
    params = run.record["params"]
    try:
        start_job(run.kind, params)
    except ParamError as err:
        st.session_state["runs.error"] = f"Cannot re-run {run.run_id}: {err}"
        return
    st.session_state["runs.goto"] = (run.kind, params)


def _open(run) -> None:
    error = open_run(run.kind, run.run_id)
    if error:
        st.session_state["runs.error"] = error
    else:
        st.session_state["runs.goto"] = (run.kind, run.record["params"])


def _delete(ids) -> None:
    for run_id in ids:
        store().delete(run_id)
    st.session_state["runs.table_generation"] = st.session_state.get("runs.table_generation", 0) + 1


st.subheader("Actions")
if error := st.session_state.pop("runs.error", None):
    st.error(error)
for run in selected:
    with st.container(border=True):
        st.markdown(f"**{run.run_id}** · {get_task(run.kind).title} · {run.record.get('status')}")
        cols = st.columns(4)
        busy = (job := get_job(run.kind)) is not None and job.running
        cols[0].button("Re-run with these settings", key=f"runs.rerun.{run.run_id}", on_click=_rerun, args=(run,),
                       disabled=busy, help=f"Your {get_task(run.kind).title} is training; stop it first." if busy
                       else None)
        if run.record.get("has_model"):
            cols[1].button("Open on its page", key=f"runs.open.{run.run_id}", on_click=_open, args=(run,))
            fmt = cols[2].selectbox("Export as", FORMATS, key=f"runs.fmt.{run.run_id}", label_visibility="collapsed")
            if cols[3].button("Prepare download", key=f"runs.export.{run.run_id}"):
                with st.spinner(f"Exporting {fmt}…"):
                    try:
                        data, name = export_archive(store(), run.run_id, fmt)
                    except Exception as err:  # an export failure must not take the page down
                        st.error(f"Export failed: {type(err).__name__}: {err}")
                    else:
                        st.download_button(f"Download {name}", data, file_name=name, key=f"runs.dl.{run.run_id}")
st.caption("TensorBoard export: unzip it, then run `tensorboard --logdir <folder>`.")
confirm = st.checkbox(f"Yes, delete the {len(selected)} selected run(s)", key="runs.confirm")
st.button("Delete selected", disabled=not confirm, on_click=_delete, args=([r.run_id for r in selected],),
          key="runs.delete")

