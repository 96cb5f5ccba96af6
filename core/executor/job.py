"""A training job of the executor, as a page or the command line sees it: queued, then running in a worker."""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path

from core.progress import Progress
from core.registry import get_task
from core.scheduler import Waiting, waiting_text
from core.store import RunStore

QUEUED, RUNNING = "queued", "running"


class RemoteJob:
    """One training of the executor (``executor``: the :class:`core.executor.Executor` that queued it), as a page or
    the command line sees it."""

    def __init__(self, executor, kind: str, params: dict, store: RunStore, owner: str, record: dict,
                 save: bool = True, strategy: str = "auto"):
        self.id = uuid.uuid4().hex[:12]
        self.executor, self.kind, self.params, self.store, self.owner = executor, kind, params, store, owner
        self.save, self.strategy = save, strategy  # save=False: no run stored (the CLI's --no-save)
        self.worker = None  # {"host", "pid"} of its worker process, once it reported
        self.record = {"owner": owner, **record}
        self.progress = Progress(epochs=params.get("epochs", 0))
        self.progress.update(phase="queued")
        self.state = QUEUED
        self.submitted = time.time()
        self.ref = None  # the Ray task's result, while it runs
        self._model = None
        self._ended = threading.Event()
        self._ending = threading.Lock()

    @property
    def running(self) -> bool:
        """Queued or training: the owner cannot start another of this kind meanwhile, and Stop applies."""
        return not self._ended.is_set()

    @property
    def queued(self) -> bool:
        return self.state == QUEUED and self.running

    def waiting(self) -> Waiting | None:
        """Its place in the queue and the estimated wait (None once it runs)."""
        return self.executor.scheduler.position(self.id) if self.queued else None

    def waiting_text(self) -> str:
        w = self.waiting()
        return waiting_text(w) if w is not None else ""

    def stop(self) -> None:
        """A queued job leaves the queue at once; a running one stops after its current batch (the model is kept).

        A running job's progress says so at once (``stop_asked``: the page reads "Stopping"), before its worker,
        which reads Stop ten times a second, has ended the batch."""
        if self.state == RUNNING and self.running:
            self.progress.update(stop_asked=time.time())
        self.executor.stop(self)

    def wait(self, timeout: float | None = None) -> bool:
        return self._ended.wait(timeout)

    @property
    def run_id(self) -> str | None:
        return self.progress.snapshot()["run_id"]

    @property
    def model(self):
        """The trained model, loaded from its saved run the first time it is asked for (None without one)."""
        if self._model is None and not self.running and self.run_id:
            self._model = self.store.load_model(self.run_id, get_task(self.kind).custom_objects())
        return self._model

    def inputs(self) -> dict:
        """What the worker needs besides the settings, as bytes (no shared disk): the stored runs the task reads (with
        their ancestors: a fine-tune of a fine-tune reads its first CNN's settings) and the files it reads."""
        task, runs, files = get_task(self.kind), {}, {}
        for name in task.run_params:
            run_id = self.params.get(name)
            while run_id and run_id not in runs:
                runs[run_id] = self.store.pack(run_id)
                run_id = self.store.get(run_id).get("parent")
        for name in task.file_params:
            path = self.params.get(name)
            if path:
                files[name] = (os.path.basename(path), Path(path).read_bytes())
        return {"runs": runs, "files": files}

    def _end(self, status: str, error: str | None = None, phase: str | None = None, **fields) -> None:
        with self._ending:  # once: a Stop and the worker's own end may meet
            if self._ended.is_set():
                return
            self.progress.finish(status, error=error, **fields)
            if phase:
                self.progress.update(phase=phase)
            self.ref = None
            self._ended.set()
