"""The Runs page's sweep view: live curves grouped by configuration (mean ± std across seeds), parallel
coordinates, a table with 95% confidence intervals, which setting mattered most, Stop, and the best configuration.

A running sweep of this browser is drawn from its live snapshot (redrawn every second); any stored sweep, from
its runs, so a sweep run from the CLI or on another machine looks the same once its runs are here.
"""

from __future__ import annotations

import math

import streamlit as st

from core.registry import get_task
from core.sweep.plots import bands_figure, parallel_coordinates_figure
from core.sweep.stats import (
    best_config,
    epoch_bands,
    final_summary,
    headline_metric,
    list_sweeps,
    parameter_importance,
    snapshot_records,
    sweep_runs,
)
from ui.controls import switch_with_params
from ui.session import owner_id, store
from ui.sweep_panel import get_sweep

REFRESH_SECONDS = 1.0


def _use_best(kind: str, records: list[dict], metric: str) -> None:
    """Put the best configuration's settings (its seed aside) into the page's controls, and go there."""
    best = best_config(records, metric)
    run = next(r for r in records if r.get("sweep_config") == best and r.get("params"))
    switch_with_params(kind, {k: v for k, v in run["params"].items() if k != "seed"})


def _summary_table(records: list[dict], metric: str) -> None:
    rows = []
    for row in final_summary(records, metric):
        ci = "—" if math.isnan(row["ci_low"]) else f"{row['ci_low']:.4f} … {row['ci_high']:.4f}"
        rows.append({"configuration": row["label"], "finished runs": row["n"],
                     f"{metric} mean ± std": "—" if not row["n"] else f"{row['mean']:.4f} ± {row['std']:.4f}",
                     "95% confidence interval": ci, "failed": row["failed"], "stopped": row["stopped"]})
    st.dataframe(rows, hide_index=True, key="runs.sweep.table")


def _draw(sweep_id: str) -> None:
    live = get_sweep()
    is_live = live is not None and live.id == sweep_id
    if is_live and live.running:
        st.session_state["runs.sweep.watching"] = sweep_id
    elif st.session_state.get("runs.sweep.watching") == sweep_id:
        del st.session_state["runs.sweep.watching"]
        st.rerun()  # it just ended: a full run of the page lists its runs and stops the timer
    snap = live.snapshot() if is_live else None
    records = snapshot_records(snap) if is_live and live.running else sweep_runs(store(), sweep_id, viewer=owner_id())
    if not records:
        st.info("No trial of this sweep has reported yet.")
        return
    kind = records[0]["kind"]
    if snap:
        counts = snap["counts"]
        done = counts["done"] + counts["failed"] + counts["stopped"]
        st.progress(done / max(len(snap["trials"]), 1),
                    text=f"{snap['phase']}: {done} of {len(snap['trials'])} trials finished, "
                         f"{counts['running'] - counts['queued']} training — {snap['elapsed']:.0f} s")
        if snap["error"]:
            st.error(snap["error"])
        if live.running:
            st.button("Stop the sweep (finished trials are kept)", key="runs.sweep.stop", on_click=live.stop)
    names = sorted({m for r in records for m in r.get("history", {})})
    default = "val_loss" if "val_loss" in names else (names[0] if names else None)
    metric = st.segmented_control("Curve", names, default=default, key="runs.sweep.metric") or default
    if metric:
        st.plotly_chart(bands_figure(epoch_bands(records, metric), metric), key="runs.sweep.bands")
    final = headline_metric(records)
    finished = [r for r in records if r.get("status") == "done"]
    if not finished:
        st.caption("The comparison of final results appears when the first trials finish.")
        return
    left, right = st.columns([3, 2])
    left.plotly_chart(parallel_coordinates_figure(records, final), key="runs.sweep.parcoords")
    with right:
        importance = parameter_importance(records, final)
        if importance["ranking"]:
            top = importance["ranking"][0]
            st.markdown(f"**Mattered most:** {get_task(kind).space[top['name']].title} (permutation importance "
                        f"{top['importance']:.3f} of a random forest fitted to the trials)")
            st.dataframe([{"setting": e["name"], "importance": round(e["importance"], 4), "± std": round(e["std"], 4)}
                          for e in importance["ranking"]], hide_index=True, key="runs.sweep.importance")
        if importance["note"]:
            st.caption(importance["note"])
    _summary_table(records, final)
    finished_sweep = not (is_live and live.running)
    if finished_sweep and st.button("Use the best configuration on its page", key="runs.sweep.best",
                                    disabled=best_config(records, final) is None):
        _use_best(kind, records, final)


def sweep_view() -> None:
    """A section of the Runs page; draws nothing when there is no sweep."""
    live = get_sweep()
    sweeps = {s["sweep"]: s for s in list_sweeps(store(), viewer=owner_id())}
    ids = list(dict.fromkeys([*([live.id] if live is not None else []), *sweeps]))
    if not ids:
        return
    st.header("Sweeps")

    def label(sweep_id: str) -> str:
        if live is not None and sweep_id == live.id and live.running:
            return f"{sweep_id} (running)"
        s = sweeps.get(sweep_id, {})
        return f"{sweep_id} · {s.get('runs', 0)} runs, {s.get('configs', 0)} configurations"

    chosen = st.selectbox("Sweep", ids, format_func=label, key="runs.sweep.choice")
    running = live is not None and live.id == chosen and live.running
    st.fragment(run_every=REFRESH_SECONDS if running else None)(_draw)(chosen)
