"""A training job in this process, for a notebook, a test or a benchmark's baseline (the app's server never trains:
its jobs run in worker processes, :mod:`core.executor`).

A :class:`TrainingJob` runs :func:`core.training.run_training` in a daemon thread and publishes its
progress in a :class:`Progress`: per-batch loss, per-epoch train and validation metrics, elapsed time,
epoch i of n. Readers call :meth:`Progress.snapshot`, which returns a consistent copy, from any thread.

The job can be stopped (the model trained so far is kept and marked as stopped); an exception or a
NaN/inf loss ends it with a clear error instead of hanging. This module imports no TensorFlow: the
heavy work happens in :mod:`core.training`, imported by the worker.
"""

from __future__ import annotations

import threading
import traceback
from typing import Any

from core.progress import FAILED, Progress
from core.registry import get_task

# Lazy imports: core.training (TensorFlow and Keras, 5.6 s to import) inside import_tensorflow and the job's thread,
# so that the CLI and the tests import this module without TensorFlow.

_IMPORT_LOCK = threading.Lock()
_imported = threading.Event()


def import_tensorflow() -> None:
    """Import TensorFlow, Keras and the training code, one thread at a time.

    Python's per-module import locks can report a deadlock when two threads import a package as large and
    circular as TensorFlow at once (a job's worker and a page's script, say); serialising the first import
    avoids that. Later calls return at once.
    """
    if _imported.is_set():
        return
    with _IMPORT_LOCK:
        import core.training  # noqa: F401

        _imported.set()


def tensorflow_loaded() -> bool:
    """True once :func:`import_tensorflow` has finished in this process."""
    return _imported.is_set()


class TrainingJob:
    """Train one model of a task in a background thread.

    >>> job = TrainingJob("iris", {"epochs": 5}).start()   # doctest: +SKIP
    >>> job.wait(); job.progress.snapshot()["metrics"]      # doctest: +SKIP
    """

    def __init__(self, kind: str, params: dict[str, Any], *, store=None, save: bool = True, owner: str = "local",
                 record: dict | None = None):
        self.task = get_task(kind)
        self.kind = kind
        self.owner = owner
        self.record = {"owner": owner, **(record or {})}  # stored in run.json beside the run's own fields
        self.params = self.task.space.validate(params)  # raises ParamError before any thread starts
        self.store = store
        self.save = save
        self.progress = Progress(epochs=self.params.get("epochs", 0))
        self.stop_event = threading.Event()
        self.result = None  # core.training.TrainResult once finished
        self._thread: threading.Thread | None = None

    def start(self) -> TrainingJob:
        """Import TensorFlow in the caller's thread (seconds, the first time in a process), then start the worker.

        Not in the worker: a worker importing TensorFlow while a page's script imported pandas (for plotly) raced
        ("partially initialized module 'pandas'")."""
        import_tensorflow()
        self._thread = threading.Thread(target=self._run, name=f"train-{self.kind}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        from core.training import run_training

        try:
            self.result = run_training(
                self.task, self.params, progress=self.progress, stop_event=self.stop_event,
                store=self.store, save=self.save, record=self.record,
            )
        except Exception as err:  # run_training reports its own errors; this is the last guard
            self.progress.finish(FAILED, error=f"{type(err).__name__}: {err}", details=traceback.format_exc())

    def stop(self) -> None:
        """Ask the job to stop after the current batch; the model so far is kept."""
        self.stop_event.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def model(self):
        return None if self.result is None else self.result.model

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends; True when it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running
