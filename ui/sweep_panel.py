"""The Sweep panel of a model page: vary any of the page's hyper-parameters, with seed replicates, on Ray Tune.

A sweep belongs to the server (the job board, under this browser's id), so it keeps running while the user
moves between pages, and a reload finds it again; its trials become ordinary runs, compared on the Runs page.
Ray is imported only when a sweep starts.
"""

from __future__ import annotations

import os

import streamlit as st

from core.params import Param, ParamError, ParamSpace
from core.registry import get_task
from core.sweep import Sweep, SweepError, SweepSpec, parse_vary
from ui.navigation import RUNS
from ui.session import executor, job_board, owner_id, store

SWEEP_SLOT = "sweep"  # one sweep per browser at a time: a 2-CPU machine runs one well, not several


def suggested_values(p: Param, value) -> str:
    """A first guess of values to try around the current one, within the parameter's bounds."""
    if p.kind == "choice":
        return ",".join(map(str, p.choices))
    if p.kind == "bool":
        return "false,true"
    if p.kind == "float" and p.log:
        candidates = [value / 10, value, value * 10]
    elif p.kind == "float":
        step = p.step or (p.max - p.min) / 10
        candidates = [value - step, value, value + step]
    else:
        candidates = [max(1, value // 2), value, value * 2]
    inside = [v for v in candidates if p.min <= v <= p.max]
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in dict.fromkeys(inside))


def sweepable(space: ParamSpace) -> list[Param]:
    """What a sweep can vary: every setting of the page but the seed (replicates) and file names."""
    return [p for p in space if p.name != "seed" and p.kind != "str" and p.browser]


def get_sweep():
    return job_board().get(owner_id(), SWEEP_SLOT)


def _start(spec: SweepSpec) -> None:
    st.session_state.pop("sweep.error", None)
    try:
        # The trials take turns in the server's queue with everyone's trainings, as this visitor's jobs.
        sweep = Sweep(spec, store(), executor=executor(), record={"owner": owner_id()}).start()
    except (SweepError, ParamError) as err:
        st.session_state["sweep.error"] = str(err)
        return
    job_board().put(owner_id(), SWEEP_SLOT, sweep)


def _spec_from_widgets(kind: str, base: dict) -> SweepSpec | None:
    space = get_task(kind).space
    params = {p.name: p for p in sweepable(space)}
    chosen = st.multiselect("Vary", list(params), format_func=lambda n: params[n].title, key=f"{kind}.sweep.vary",
                            help="Any setting of this page. Each trial starts from the page's current settings.")
    texts = {name: st.text_input(f"{params[name].title}: values `a,b,c` or a range `lo..hi`",
                                 value=suggested_values(params[name], base[name]), key=f"{kind}.sweep.values.{name}")
             for name in chosen}
    c1, c2, c3 = st.columns(3)
    seeds = c1.number_input("Seeds per configuration", 1, 10, 2, key=f"{kind}.sweep.seeds",
                            help="Replicates with seeds seed, seed + 1, …: is a difference real or just the seed?")
    has_range = any(".." in t for t in texts.values())
    samples = c2.number_input("Random samples of the ranges", 1, 50, 5, key=f"{kind}.sweep.samples",
                              disabled=not has_range, help="Ranges are sampled (log-uniform for learning rates).")
    concurrency = c3.number_input("Trials at once", 1, 64, min(2, os.cpu_count() or 1), key=f"{kind}.sweep.conc",
                                  help="Each trial trains on one CPU, taking turns with everyone's trainings in the "
                                       "server's queue; more at once than CPUs only queues.")
    early = st.toggle("Stop hopeless trials early (ASHA on the validation loss)", key=f"{kind}.sweep.early")
    address = st.text_input("Ray cluster (empty: a local Ray on this machine)",
                            value=os.environ.get("RAY_ADDRESS", ""), key=f"{kind}.sweep.address",
                            help="host:port of a running Ray head (`ray start --head`); see README.")
    try:
        vary = parse_vary(space, [f"{name}={text}" for name, text in texts.items()], kind)
        return SweepSpec(kind, base=base, vary=vary, seeds=int(seeds), samples=int(samples) if has_range else None,
                         early_stop=early, concurrency=int(concurrency), address=address or None)
    except (SweepError, ParamError) as err:
        st.warning(str(err))
        return None


def sweep_panel(kind: str, base: dict) -> None:
    """An expander: what to vary, how many trials that makes, Start; the running sweep's status and Stop."""
    with st.expander("🧪 Sweep: compare settings and seeds in one go (Ray Tune)"):
        st.markdown("Pick settings to vary: every combination trains once per seed, several at a time, and each "
                    "trial is saved as a run. The **Runs** page draws each configuration as its mean curve with a "
                    "± std band across seeds, and tells which setting mattered most.")
        sweep = get_sweep()
        running = sweep is not None and sweep.running
        spec = _spec_from_widgets(kind, base)
        if spec is not None:
            n_configs = spec.count() // spec.seeds
            st.caption(f"**{spec.count()} trials**: {n_configs} configuration{'s' * (n_configs != 1)} × "
                       f"{spec.seeds} seed{'s' * (spec.seeds != 1)}.")
        left, right, _ = st.columns([1, 1, 2])
        left.button("Start the sweep", type="primary", disabled=spec is None or running, key=f"{kind}.sweep.start",
                    on_click=_start, args=(spec,), width="stretch")
        right.button("Stop the sweep", disabled=not running, key=f"{kind}.sweep.stop",
                     on_click=lambda: sweep.stop(), width="stretch")
        if st.session_state.get("sweep.error"):
            st.error(st.session_state["sweep.error"])
        if sweep is not None:
            snap = sweep.snapshot()
            counts = snap["counts"]
            training = counts["running"] - counts["queued"]  # the others wait for a turn in the server's queue
            st.write(f"Sweep `{snap['id']}` ({snap['kind']}): {snap['phase']}, {counts['done']} done, "
                     f"{training} training, {counts['queued'] + counts['pending']} waiting, {counts['failed']} failed, "
                     f"{counts['stopped']} stopped.")
            st.page_link(RUNS, label="Watch it live on the Runs page", icon="📊")
