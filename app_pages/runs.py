"""Runs: every finished or stopped training, to compare, reproduce, export and clean up."""

from functools import partial

import streamlit as st

from core.export import FORMATS, archive_name, export_archive
from core.progress import format_seconds
from core.records import NAME_MAX, is_shared, owner_of
from core.registry import get_task, kinds
from core.store import NotYours, RunNotFound
from ui.controls import switch_with_params
from ui.model_panel import headline, open_run
from ui.session import get_job, owner_id, owner_label, runs_read_only, store, try_start_job, visible_runs
from ui.sweep_view import sweep_view
from ui.text import literal

st.set_page_config(page_title="Runs · NN playground")
if goto := st.session_state.pop("runs.goto", None):  # (kind, settings), set by Open's and Re-run's callbacks
    switch_with_params(*goto)
st.title("📊 Runs")
st.markdown("Every training you finish or stop is a run. You see your own runs and the ones others share; only "
            "a run's owner can rename, share or delete it. Select runs in the table to overlay their curves and "
            "compare their settings.")
me = owner_id()

kind_filter = st.pills("Model", kinds(), selection_mode="multi", default=kinds(), key="runs.kinds",
                       format_func=lambda k: get_task(k).title)
all_runs = visible_runs()
damaged = [r for r in all_runs if r.damaged]
runs = [r for r in all_runs if not r.damaged and r.kind in (kind_filter or [])]
for r in damaged:
    st.warning(f"Run {literal(r.run_id)} is damaged and cannot be read: {literal(r.error)}. The server's operator can "
               "delete its folder.")
sweep_view()
if not runs:
    st.info("No runs yet: train a model on one of the model pages.")
    st.stop()
if any(r.record.get("sweep") for r in runs):
    st.header("All runs")


def _data(record: dict) -> str:
    data = record.get("data") or {}
    return data.get("description") or data.get("source", "")


def _title(name: str, kinds_shown: set[str]) -> str:
    """A setting's label as its page shows it (from the Param declarations)."""
    for kind in sorted(kinds_shown):
        space = get_task(kind).space
        if name in space.names():
            return space[name].title
    return name.replace("_", " ").capitalize()


rows = [{"run": r.run_id, "name": r.record.get("name", ""), "owner": owner_label(owner_of(r.record)),
         "shared": is_shared(r.record), "model": r.kind, "status": r.record.get("status"),
         "started": r.record.get("started"),
         "duration": format_seconds(r.record.get("duration")), "epochs": r.record.get("epochs_completed"),
         "result": headline(r, digits=4), "data": _data(r.record)} for r in runs]
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
# A setting added after a run was made is shown at its default: the value the run was trained with.
settings = [{**get_task(r.kind).space.defaults(), **r.record.get("params", {})} for r in selected]
names = list(dict.fromkeys(name for params in settings for name in params))
shown_kinds = {r.kind for r in selected}
table_rows = {_title(name, shown_kinds): [params.get(name, "—") for params in settings] for name in names}
table_rows["Data"] = [_data(rec) for rec in records]
table_rows["Duration"] = [format_seconds(rec.get("duration")) for rec in records]
frame = pd.DataFrame(table_rows, index=labels).T.astype(str)
differs = frame.nunique(axis=1) > 1
frame = pd.concat([frame[differs], frame[~differs]])  # what differs first, so it is never scrolled away
differs = frame.nunique(axis=1) > 1
styled = frame.style.apply(lambda row: ["background-color: #FFE8A3; font-weight: bold" if differs[row.name] else ""
                                        for _ in row], axis=1)
st.dataframe(styled, key="runs.params", height=35 * (len(frame) + 1) + 3)
if len(selected) > 1:
    changed = [n for n in frame.index if differs[n]]
    st.caption("Highlighted: " + (", ".join(changed) if changed else "no differences") + ".")


def _rerun(run) -> None:
    params = run.record["params"]
    error = try_start_job(run.kind, params)
    if error:
        st.session_state["runs.error"] = f"{run.run_id}: {error}"
        return
    st.session_state["runs.goto"] = (run.kind, params)


def _open(run) -> None:
    error = open_run(run.kind, run.run_id)
    if error:
        st.session_state["runs.error"] = error
    else:
        st.session_state["runs.goto"] = (run.kind, run.record["params"])


def _export(runs_store, run_id: str, fmt: str) -> bytes:
    return export_archive(runs_store, run_id, fmt)[0]


def _delete(ids) -> None:
    refused = []
    for run_id in ids:
        try:
            store().delete(run_id, who=owner_id())
        except (NotYours, RunNotFound) as err:
            refused.append(str(err))
    if refused:
        st.session_state["runs.error"] = "Not deleted: " + "; ".join(refused)
    st.session_state["runs.table_generation"] = st.session_state.get("runs.table_generation", 0) + 1


def _change(run_id: str, key: str, field: str) -> None:
    """Rename or (un)share one of this visitor's runs (the store checks that it is theirs)."""
    value = st.session_state[key]
    if field == "name":
        value = " ".join(value.split())[:NAME_MAX]
    try:
        store().update(run_id, who=owner_id(), **{field: value})
    except (NotYours, RunNotFound, ValueError) as err:
        st.session_state["runs.error"] = f"Not changed: {err}"


def _ownership(run) -> None:
    """Name and sharing of a run: editable by its owner, shown to everyone else."""
    if owner_of(run.record) != me:
        st.caption(f"Made by {owner_label(owner_of(run.record))}: only its owner can rename or delete it.")
        return
    left, right = st.columns([3, 2])
    left.text_input("Name", run.record.get("name", ""), max_chars=NAME_MAX, key=f"runs.name.{run.run_id}",
                    on_change=_change, args=(run.run_id, f"runs.name.{run.run_id}", "name"),
                    placeholder="a name for this run")
    right.toggle("Shared with everyone", is_shared(run.record), key=f"runs.shared.{run.run_id}",
                 on_change=_change, args=(run.run_id, f"runs.shared.{run.run_id}", "shared"),
                 help="Others on this server can see, compare, open and re-run a shared run; never delete it.")


st.subheader("Actions")
if error := st.session_state.pop("runs.error", None):
    st.error(error)
for run in selected:
    with st.container(border=True):
        name = run.record.get("name")
        st.markdown(f"**{literal(name) if name else run.run_id}** · {get_task(run.kind).title} · "
                    f"{run.record.get('status')}" + (f" · {run.run_id}" if name else ""))
        _ownership(run)
        cols = st.columns(4)
        busy = (job := get_job(run.kind)) is not None and job.running
        cols[0].button("Re-run with these settings", key=f"runs.rerun.{run.run_id}", on_click=_rerun, args=(run,),
                       disabled=busy, help=f"Your {get_task(run.kind).title} is training; stop it first." if busy
                       else None)
        if run.record.get("has_model"):
            cols[1].button("Open on its page", key=f"runs.open.{run.run_id}", on_click=_open, args=(run,))
            fmt = cols[2].selectbox("Export as", FORMATS, key=f"runs.fmt.{run.run_id}", label_visibility="collapsed")
            # One click: the export is made when the button is pressed (deferred data), without a rerun.
            cols[3].download_button(f"Download ({fmt})", partial(_export, store(), run.run_id, fmt),
                                    file_name=archive_name(run.run_id, fmt), on_click="ignore",
                                    key=f"runs.dl.{run.run_id}", mime="application/octet-stream")
st.caption("TensorBoard export: unzip it, then run `tensorboard --logdir <folder>`.")
mine = [r.run_id for r in selected if owner_of(r.record) == me]
if runs_read_only():
    st.caption("Deleting runs from the browser is turned off on this server.")
elif not mine:
    st.caption("None of the selected runs is yours: only a run's owner can delete it.")
else:
    others = len(selected) - len(mine)
    confirm = st.checkbox(f"Yes, delete the {len(mine)} selected run(s) of mine" +
                          (f" ({others} of others stay)" if others else ""), key="runs.confirm")
    st.button("Delete selected", disabled=not confirm, on_click=_delete, args=(mine,), key="runs.delete")

