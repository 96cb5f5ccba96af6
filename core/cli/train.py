"""``python -m core train KIND [--address HOST:PORT]``: one training through the executor, as a page's Train click.

The job is queued in :class:`core.executor.Executor` and trains in a Ray worker process: on the cluster at
``--address`` (or ``$RAY_ADDRESS``), else on a local Ray this command starts and stops. The run comes back packed and
is saved in this command's runs directory (``--runs-dir`` / ``$NN_PLAYGROUND_RUNS``), unless ``--no-save``.

Progress goes to stderr, one line per event: the place in the queue while it waits, where it trains, each phase,
and each epoch's loss and metrics (Keras' own progress bar cannot be shown from another process). Ctrl-C stops the
job after its current batch and waits for it, keeping the model trained so far as a stopped run (a page's Stop);
a second Ctrl-C stops waiting. The result goes to stdout (``--json``: one JSON object, and no progress lines).
"""

from __future__ import annotations

import json
import os
import sys
import time

from core.executor import Executor
from core.params import ParamError
from core.progress import CANCELLED, FAILED, FINISHED, STOPPED_EARLY
from core.registry import get_task
from core.scheduler import Busy, Limits, OwnerLimit
from core.store import RunNotFound, RunStore
from core.sweep import connect
from core.sweep.spec import SweepError

POLL_SECONDS = 0.5  # how often the progress is looked at
QUEUE_REPEAT_SECONDS = 10.0  # an unchanged place in the queue is said again after this long
PHASE_TEXT = {"starting": "starting in a worker process"}
QUIET_PHASES = ("queued", "training", "validating", CANCELLED, STOPPED_EARLY, *FINISHED)  # said otherwise, or not news


def add_flags(parser) -> None:
    """The flags of ``train KIND`` beside the task's hyper-parameters."""
    parser.add_argument("--no-save", action="store_true", help="do not save the run")
    parser.add_argument("--strategy", default="auto", choices=("auto", "default", "mirrored"),
                        help="tf.distribute strategy in the worker (auto: MirroredStrategy when it sees several GPUs)")
    parser.add_argument("--address", default=None,
                        help="a Ray cluster HOST:PORT to train on (default $RAY_ADDRESS, else a local Ray started "
                             "for this training)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON (no progress lines)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


class ProgressLines:
    """Turn a job's changing progress into readable lines: call :meth:`show` as often as you like."""

    def __init__(self, job, out=sys.stderr):
        self.job, self.out = job, out
        self.epoch, self.phase, self.worker = 0, None, None
        self.queued_text, self.queued_at = None, 0.0

    def _say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def show(self) -> None:
        if self.job.queued:
            text, now = self.job.waiting_text(), time.monotonic()
            place = text.split(",")[0]
            if text and (place != (self.queued_text or "").split(",")[0] or now - self.queued_at >= QUEUE_REPEAT_SECONDS):
                self._say(text)
                self.queued_text, self.queued_at = text, now
            return
        snap = self.job.progress.snapshot()
        worker = snap.get("worker")
        if worker and worker != self.worker:
            self.worker = worker
            self._say(f"training in process {worker.get('pid')} on {worker.get('host')}")
        history = snap["history"]
        done = min([snap["epoch"], *(len(series) for series in history.values())]) if history else 0
        while self.epoch < done:
            self.epoch += 1
            names = sorted(history, key=lambda n: (n.startswith("val_"), n.removeprefix("val_") != "loss", n))
            values = ", ".join(f"{name} {_fmt(history[name][self.epoch - 1])}" for name in names)
            self._say(f"epoch {self.epoch}/{snap['epochs']}: {values}  [{snap['elapsed']:.1f} s]")
        phase = snap["phase"]
        if phase != self.phase and phase not in QUIET_PHASES:
            self._say(f"{PHASE_TEXT.get(phase, phase)}...")
        self.phase = phase


def _wait(job, lines: ProgressLines | None) -> bool:
    """Wait for the job, showing its progress; Ctrl-C stops it and waits for the stopped run. True if interrupted."""
    interrupted = False
    while True:
        try:
            ended = job.wait(POLL_SECONDS)
            if lines is not None:
                lines.show()
            if ended:
                return interrupted
        except KeyboardInterrupt:
            if interrupted:
                print("interrupted again: not waiting for the job any longer", file=sys.stderr, flush=True)
                return True
            interrupted = True
            print("interrupted: stopping the training after its current batch (what it has trained is kept; Ctrl-C "
                  "again to stop waiting)", file=sys.stderr, flush=True)
            job.stop()


def cmd_train(args) -> int:
    task = get_task(args.kind)
    params, problems = task.space.from_flags(args)
    if problems:
        return _fail("; ".join(problems))
    store = RunStore(args.runs_dir)
    try:
        task.check_ready(params, store)
    except (ValueError, RunNotFound) as err:
        return _fail(str(err))
    quiet = args.quiet or args.json
    try:
        address = connect.ensure_ray(args.address)
    except SweepError as err:  # an unreachable cluster: one error line, nothing started
        return _fail(str(err))
    changed = task.space.diff(params)
    print(f"Training {task.title} with {changed or 'the default settings'}", file=sys.stderr, flush=True)
    try:
        if not quiet:
            where = f"the Ray cluster at {address}" if address else "a local Ray"
            print(f"on {where} with {connect.cluster_cpus()} CPUs", file=sys.stderr, flush=True)
        # All of this machine's CPUs for a local training (a server leaves one to its pages; nothing else runs here;
        # on a cluster the executor takes the cluster's). No jobs file: that is the server's queue, not this one.
        executor = Executor(address=address, limits=Limits(cpus=os.cpu_count() or 1), jobs_file=False)
        try:
            job = executor.submit(args.kind, params, store=store, owner="local", save=not args.no_save,
                                  strategy=args.strategy)
        except (ParamError, ValueError, RunNotFound, Busy, OwnerLimit) as err:
            return _fail(str(err))
        interrupted = _wait(job, None if quiet else ProgressLines(job))
        if job.running:  # a second Ctrl-C: the job ends with this process's Ray
            return 130
    finally:
        connect.shutdown()
    return _report(job, store, args.json, interrupted)


def _report(job, store: RunStore, as_json: bool, interrupted: bool) -> int:
    snap = job.progress.snapshot()
    run_id, metrics = snap["run_id"], snap["metrics"] or {}
    out = {"status": snap["status"], "run_id": run_id, "metrics": metrics, "error": snap["error"]}
    if run_id:
        out["path"] = str(store.path(run_id))
    if as_json:
        print(json.dumps(out, default=str))
    else:
        print(f"status: {out['status']}")
        if out["error"]:
            print(f"error: {out['error']}")
        if snap["phase"] == STOPPED_EARLY:
            print("stopped before its first batch was trained: there was nothing to keep, so nothing was saved")
        for name, value in metrics.items():
            if isinstance(value, float):
                print(f"{name}: {value:.4f}")
        if "path" in out:
            print(f"saved run {run_id} in {out['path']}")
    if interrupted:
        return 130
    return 0 if out["status"] != FAILED else 1
