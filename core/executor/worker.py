"""One training job as it runs in a Ray worker process, on this machine or on a cluster's.

The server (:mod:`core.executor`) sends the job as plain data: kind, settings, the run record's fields, and any
stored runs or files the task reads (a latent classifier reads its CVAE run), packed as bytes so that no shared disk
is needed. The worker trains with :func:`core.training.run_training`, exactly as the server once did, into a
temporary run store of its own, and returns the saved run packed as bytes; the server unpacks it into its store.

While it trains, a thread sends the progress (per-batch losses, per-epoch metrics, phase) to the server's mailbox
actor twice a second and reads back whether the owner pressed Stop. After every epoch the worker also leaves a
checkpoint there (the run's record so far and the model's weights), so a worker killed mid-training (out of memory,
``kill -9``, a machine that left the cluster) still leaves its last completed epoch as a run.

Ray starts the worker process with TensorFlow's thread pools bounded to the job's CPUs (environment variables set
before TensorFlow is imported: :func:`core.threads.thread_env`) and reuses it for later jobs of the same CPU need,
so TensorFlow is imported once per worker, not once per training. The worker lowers its own OS priority
(:data:`WORKER_NICE`): on the machine that also serves the pages, drawing and page switches come first.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

from core.model_files import model_bytes
from core.progress import FAILED, Progress
from core.registry import get_task
from core.store import RunStore, jsonable

WORKER_NICE = 10  # the OS priority of a training worker: below the web server's (0)
JOB_FOLDER = "nn-job-"  # a job's temporary folder: JOB_FOLDER + the worker's pid + "-" + the job's id + "-" + random
PUBLISH_SECONDS = 0.5  # progress reaches the server twice a second
FIRST_POINT_SECONDS = 0.1  # until the first per-batch loss has been sent, and once Stop was read
STOP_POLL_SECONDS = 0.1  # Stop is read this often between publishes
# Lazy imports: Keras and core.training (TensorFlow, 5.6 s to import) inside the functions that train, so the server
# that imports this module to send it to Ray never loads TensorFlow for it; Ray (0.3 s) where it is used, so that
# `python -m core --help` (0.3 s in all) does not load it.


def lower_priority(nice: int = WORKER_NICE) -> None:
    """Run this process at ``nice`` (absolute, so a reused worker does not sink further with every job)."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, max(os.getpriority(os.PRIO_PROCESS, 0), nice))
    except (OSError, AttributeError):  # not permitted, or not Linux: the job still runs
        pass


class _Publisher:
    """Send the progress to the mailbox every :data:`PUBLISH_SECONDS`, read Stop every :data:`STOP_POLL_SECONDS` and
    set ``stop_event`` when it was pressed (the trainer then ends after the current batch)."""

    def __init__(self, job_id: str, mailbox, progress: Progress, stop_event: threading.Event,
                 every: float = PUBLISH_SECONDS):
        self.job_id, self.mailbox, self.progress, self.stop_event = job_id, mailbox, progress, stop_event
        self.every = every  # the task's publish_seconds: a live picture may need more than twice a second
        self.seen = (0, 0)  # batch losses and pictures already delivered
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"publish-{job_id}", daemon=True)

    def _ask(self, call) -> bool | None:
        """The mailbox's answer to ``call()`` (whether Stop was pressed: then ``stop_event`` is set), or None when the
        server is busy or gone: the next round asks again, and a publish sends what this one did not."""
        import ray

        try:
            stopped = ray.get(call(), timeout=30)
        except Exception:
            return None
        if stopped:
            self.stop_event.set()
        return stopped

    def send(self) -> None:
        counts = self.progress.counts()
        delta = self.progress.since(*self.seen)
        if self._ask(lambda: self.mailbox.publish.remote(self.job_id, delta)) is not None:
            self.seen = counts

    def poll_stop(self) -> bool | None:
        return self._ask(lambda: self.mailbox.stopped.remote(self.job_id))

    def _loop(self) -> None:
        # Quick until the first batch's loss has gone out (the visitor waits for the first point of the curve) and
        # once Stop was read (the visitor waits to see the training end), else twice a second; Stop is read between.
        next_send = 0.0
        while not self.done.wait(STOP_POLL_SECONDS):
            now = time.monotonic()
            if now < next_send:
                if self.poll_stop():
                    next_send = 0.0  # Stop was read: the next round sends at once (the visitor waits to see the end)
                continue
            self.send()
            quick = not self.seen[0] or self.stop_event.is_set()
            next_send = now + (FIRST_POINT_SECONDS if quick else self.every)

    def __enter__(self) -> _Publisher:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()
        self.send()  # the final state


def _checkpoint_callback(job: dict, task, params: dict, progress: Progress, mailbox, started: float):
    """A Keras callback that leaves each completed epoch's record and weights in the mailbox (see module doc)."""
    import keras

    from core.training import run_record

    class Checkpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snap = progress.snapshot()
            if snap["epoch"] != epoch + 1:  # a NaN epoch: the trainer restores the last good one itself
                return
            fields = run_record(task, params, snap.get("data") or {}, snap, FAILED, None, {}, started)
            record = json.dumps({**fields, **job["record"]}, default=jsonable)
            mailbox.checkpoint.remote(job["id"], record, model_bytes(self.model))

    return Checkpoint()


def run_job(job: dict, mailbox) -> dict:
    """Train ``job`` (see :class:`core.executor.Executor` for its fields) and return the outcome.

    Returns ``{"status", "error", "details", "metrics", "run"}``, ``run`` being the saved run packed as bytes (None
    when nothing was saved). Training problems (a NaN loss, an exception, a stop) end the run as they do anywhere
    (:func:`core.training.run_training`); this function raises only if the worker itself cannot work. Once the job
    is over, its data and model are freed and the memory handed back to the system (the worker waits for its next
    job holding TensorFlow only).
    """
    try:
        return _train(job, mailbox)
    finally:
        gc.collect()
        _give_back_memory()


def _give_back_memory() -> None:
    """glibc keeps freed memory in its heaps for reuse; ``malloc_trim`` returns it to the system (not glibc: no-op)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def remove_orphans(folder: str | Path | None = None) -> list[Path]:
    """Remove the job folders of workers that are gone (killed: a ``finally`` never ran) from ``folder`` (the
    temporary folder); a folder whose worker process still runs is kept. Returns the removed folders."""
    removed = []
    for path in Path(folder or tempfile.gettempdir()).glob(f"{JOB_FOLDER}*"):
        pid = path.name[len(JOB_FOLDER):].partition("-")[0]
        if pid.isdigit() and process_running(int(pid)) is False:  # unknown: kept
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def process_running(pid) -> bool | None:
    """Whether process ``pid`` runs on this machine (None: unknown)."""
    if not isinstance(pid, int) or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except OSError:
        return None
    return True


def _train(job: dict, mailbox) -> dict:
    lower_priority()
    from core.training import run_training

    task = get_task(job["kind"])
    remove_orphans()
    workdir = Path(tempfile.mkdtemp(prefix=f"{JOB_FOLDER}{os.getpid()}-{job['id']}-"))
    try:
        store = RunStore(workdir / "runs")
        for packed in job.get("runs", {}).values():
            store.unpack(packed)
        params = dict(job["params"])
        for name, (filename, data) in job.get("files", {}).items():
            path = workdir / "files" / name / filename
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            params[name] = str(path)
        progress, stop_event, started = Progress(params.get("epochs", 0)), threading.Event(), time.time()
        progress.update(worker={"pid": os.getpid(), "host": socket.gethostname()})
        checkpoint = _checkpoint_callback(job, task, params, progress, mailbox, started)
        with _Publisher(job["id"], mailbox, progress, stop_event, task.publish_seconds):
            result = run_training(task, params, progress=progress, stop_event=stop_event, store=store,
                                  record=job["record"], save=job.get("save", True),
                                  strategy=job.get("strategy", "auto"),
                                  callbacks=(checkpoint,))
        snap = progress.snapshot()
        return {"status": result.status, "error": result.error, "details": snap["details"],
                "metrics": result.metrics, "run": store.pack(result.run_id) if result.run_id else None}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def warm() -> int:
    """Import TensorFlow and the training code in this worker (sent once per CPU need when the executor starts)."""
    lower_priority()
    import core.training  # noqa: F401

    return os.getpid()
