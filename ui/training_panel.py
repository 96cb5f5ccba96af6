"""The Train / Stop panel with live curves, shared by every model page.

Train queues a job on the server's executor (:mod:`core.executor`): it waits its turn in the fair queue (the panel
says where it stands and about how long until it starts), then trains in a worker process. The job belongs to the
server's job board under this visitor's id; a fragment that reruns twice a second (a queued job's once) draws the
buttons and the progress, so the rest of the page stays usable and a Stop click reruns only it; the job keeps
running when the user visits another page or reloads this one.
"""

from __future__ import annotations

import time

import streamlit as st

from core.plots import curves_figure
from core.progress import CANCELLED, FAILED, FINISHED, LOOP_PHASES, STOPPED, STOPPED_EARLY, format_seconds
from core.registry import get_task
from ui.session import Current, adopt, adopted, get_job, set_current, try_start_job

REFRESH_SECONDS = 0.5
QUEUED_REFRESH_SECONDS = 1.0  # a queued job's place moves only as jobs ahead end: a class's waiting pages cost less
FOLLOW_STOP_SECONDS = 3.0


def _adopt_finished(kind: str) -> None:
    """Make a finished job's model the page's current model (once per job and page view)."""
    job = get_job(kind)
    if job is None or job.running or not adopt(kind, job):
        return
    snap = job.progress.snapshot()
    # something trained to show: a completed epoch, or a Stop after trained batches (the unfinished epoch is not
    # counted, yet its model is the one trained so far); not a run that failed before its first good epoch
    trained = snap["epoch"] > 0 or (snap["status"] == STOPPED and bool(snap["batch_loss"]))
    if job.model is not None and snap["status"] in FINISHED and trained:
        label = snap["run_id"] or "unsaved run"
        set_current(kind, Current(job.model, job.params, snap["metrics"], snap["run_id"], label, snap["status"]))


def _start(kind: str, params: dict) -> None:
    """Train's callback: runs before the script, so the buttons below are drawn with the job already running."""
    st.session_state.pop(f"{kind}.train_error", None)
    error = try_start_job(kind, params)
    if error:
        st.session_state[f"{kind}.train_error"] = error


def _stop(kind: str) -> None:
    job = get_job(kind)
    if job is not None:
        job.stop()
        st.session_state[f"{kind}.stopping"] = True  # this click's run follows the stop (_follow_stop)


def _draw_bar(bar, snap: dict, waiting: str = "") -> None:
    bar.progress(min(max(snap["fraction"], 0.0), 1.0), text=status_line(snap, waiting))


def _follow_stop(job, bar) -> None:
    """After a Stop click, redraw the bar until the training loop has ended (the worker reads Stop ten times a
    second and ends after the current batch), for at most :data:`FOLLOW_STOP_SECONDS`: the visitor sees the end
    as soon as the server knows it, not at the fragment's next redraw. A finished job reruns the page (its results)."""
    deadline = time.monotonic() + FOLLOW_STOP_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.05)
        snap = job.progress.snapshot()
        if snap["status"] in FINISHED:
            st.rerun()
        if snap["phase"] not in LOOP_PHASES:
            _draw_bar(bar, snap)
            return


def status_line(snap: dict, waiting: str = "") -> str:
    """What the job does now, how long it has run and (once measured from its step rate) how long it has left."""
    phase = snap["phase"]
    if phase == "queued" and waiting:
        return waiting
    elapsed = format_seconds(snap["elapsed"])
    left = f", about {format_seconds(snap['eta'])} left" if snap.get("eta") is not None else ""
    if snap.get("stop_asked") and snap["status"] not in FINISHED:  # Stop was pressed: say so at once
        if phase in LOOP_PHASES:
            return f"Stopping after the current batch… — {elapsed}"
        if phase in ("evaluating", "saving"):
            return f"Stopping: {phase} the model trained so far… — {elapsed}"
        return f"Stopping before the training starts… — {elapsed}"
    if phase == "training":
        steps = snap["steps_per_epoch"] or "?"
        return f"Training: epoch {snap['epoch'] + 1 if snap['epoch'] < snap['epochs'] else snap['epochs']} of " \
               f"{snap['epochs']}, batch {snap['step']} of {steps} — {elapsed}{left}"
    if snap["status"] in FINISHED:
        return f"{snap['status'].capitalize()} after {snap['epoch']} of {snap['epochs']} epochs in {elapsed}"
    return f"{phase[:1].upper()}{phase[1:]}… — {elapsed}{left}"


def _buttons(kind: str, params: dict, what: str, running: bool) -> None:
    left, right, _ = st.columns([1, 1, 3] if not what else [2, 2, 2])
    left.button(f"Train {what}".strip(), type="primary", disabled=running, key=f"{kind}.train", width="stretch", on_click=_start,
                args=(kind, params))
    right.button(f"Stop {what}".strip(), disabled=not running, key=f"{kind}.stop", width="stretch", on_click=_stop, args=(kind,))
    if st.session_state.get(f"{kind}.train_error"):
        st.error(st.session_state[f"{kind}.train_error"])


def _state(job) -> str | None:
    """What the panel redraws for: nothing (None), a ``"queued"`` job or a ``"running"`` one."""
    if job is None or not job.running:
        return None
    return "queued" if job.queued else "running"


def _panel(kind: str, params: dict, extra, what: str, live: str | None) -> None:
    """The fragment: the buttons and the progress. A click on Stop reruns only this (under a class's load a full
    CNN page took seconds to say "Stopping"); a job that starts, starts training or ends reruns the page, which sets
    how often the fragment redraws (``live``: :func:`_state`) and, at the end, shows the results below."""
    job = get_job(kind)
    snap = job.progress.snapshot() if job is not None else None
    follow_stop = st.session_state.pop(f"{kind}.stopping", False)  # this run is a Stop click's
    if _state(job) != live or (snap is not None and snap["status"] in FINISHED and not adopted(kind, job)):
        # Asked for before this run draws anything, so no element of it is left half-replaced by the full run's.
        st.rerun()
    _buttons(kind, params, what, live is not None)
    if job is None:
        st.info("Set the hyper-parameters and press **Train**: the curves appear here while it learns.")
        return
    bar = st.empty()
    _draw_bar(bar, snap, job.waiting_text())
    if live == "queued":  # nothing to plot yet: the place in the queue is the news
        st.caption("The curves appear here once its training starts.")
        return
    if snap.get("warning"):
        st.warning(snap["warning"])  # it says to try the log-scale axis (the toggle below)
    if snap.get("data"):
        info = snap["data"]
        st.caption("Data: " + (info.get("description") or ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in info.items())))
    log_loss = st.toggle("Log-scale loss", key=f"{kind}.log_loss", persist_state="session",
                         help="Losses that shrink (or grow) by orders of magnitude read better on a log axis.")
    st.plotly_chart(curves_figure(snap, get_task(kind).curve_metrics, log_loss=log_loss), key=f"{kind}.curves")
    if extra is not None:
        extra(snap)
    if snap["status"] == FAILED and snap["error"]:
        st.error(snap["error"])
        if snap["details"]:
            with st.expander("Details"):
                st.code(snap["details"])
    elif snap["status"] == STOPPED and snap["phase"] == CANCELLED:
        st.info("Cancelled before it started: nothing was trained.")
    elif snap["status"] == STOPPED and snap["phase"] == STOPPED_EARLY:
        st.info("Stopped before its first batch was trained: there was nothing to keep, so nothing was saved.")
    elif snap["status"] == STOPPED:
        st.warning("Stopped by you: the model trained so far is kept" +
                   (f" and saved as run `{snap['run_id']}`." if snap["run_id"] else "."))
    elif snap["error"]:
        st.warning(snap["error"])
    if follow_stop and job.running:
        _follow_stop(job, bar)


def training_panel(kind: str, params: dict, extra=None, what: str = "", refresh: float = REFRESH_SECONDS) -> None:
    """Train and Stop buttons and the live progress of this browser's job of ``kind`` (curves: the task's).

    ``extra(snapshot)``, if given, draws more live output under the curves (e.g. reconstructions). ``what`` names
    the model in the buttons when a page has two ("Train the classifier"). ``refresh``: seconds between redraws
    while it trains (a live picture that must move more than twice a second asks for less).
    """
    _adopt_finished(kind)
    live = _state(get_job(kind))
    # One container holds everything the fragment draws, so that its redraws can never shift (and overwrite)
    # the elements the page writes after it. (Streamlit wraps a fragment in a container of its own too, but without
    # this one a stale copy of the page's later fragments (the predict panel) was left on the page, 1 in 5 trainings.)
    with st.container():
        every = {None: None, "queued": QUEUED_REFRESH_SECONDS, "running": refresh}[live]
        st.fragment(run_every=every)(_panel)(kind, params, extra, what, live)
