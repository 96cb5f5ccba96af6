"""One trial of a sweep, run by Ray Tune in a worker process (possibly on another machine).

The trial is an ordinary :func:`core.training.run_training` (single process, ``save=False``) with TensorFlow's
thread pools bounded to the trial's CPUs. After every epoch but the last it reports the epoch's metrics to Tune
with the run's record so far, and at the epochs where ASHA may stop it also the model file as bytes; after
training it reports the final record (status, metrics, curves) and the model. The results travel back to the
driver through Ray itself, so the driver stores the run without a shared disk, also for a trial stopped early.
Stopping the sweep is cooperative: the trial reads the sweep's stop flag (a small actor), ends its training like a
page's Stop (the model so far is kept and evaluated) and reports it.
"""

from __future__ import annotations

import json
import threading
import time

from core.model_files import model_bytes
from core.progress import DONE, Progress
from core.registry import get_task
from core.store import RunStore, jsonable
from core.sweep.gate import Turn
from core.threads import bound_threads

# Lazy imports: Ray (0.3 s to import; Tune 1.0 s), Keras and core.training (TensorFlow, 5.6 s) inside the functions
# that run in the trial's worker, Keras after bound_threads has set TensorFlow's thread variables.

MODEL_KEY, RECORD_KEY, FINAL_KEY = "_model", "_record", "_final"  # popped by the driver before Tune logs results


def _last(history: dict, name: str) -> float:
    values = history.get(name) or [float("nan")]
    return float(values[-1])


class StopFlag:
    """The body of the sweep's stop-flag actor (``ray.remote(num_cpus=0)(StopFlag)``, created by the driver)."""

    def __init__(self):
        self.value = False

    def set(self) -> bool:
        self.value = True
        return True

    def get(self) -> bool:
        return self.value


class _StopFlag:
    """The sweep's stop request, read from the driver's flag actor at most every ``every`` seconds."""

    def __init__(self, name: str | None, every: float = 1.0):
        self.name, self.every, self._actor, self._checked, self.stopped = name, every, None, 0.0, False

    def check(self, force: bool = False) -> bool:
        if self.stopped or not self.name or (not force and time.monotonic() - self._checked < self.every):
            return self.stopped
        import ray

        self._checked = time.monotonic()
        try:
            self._actor = self._actor or ray.get_actor(self.name)
            self.stopped = bool(ray.get(self._actor.get.remote(), timeout=10))
        except Exception:  # the driver is gone: Tune ends this trial anyway
            pass
        return self.stopped


def _not_run() -> None:
    """The report of a trial the sweep's Stop ended before it trained."""
    from ray import tune

    tune.report({"epoch": 0, "val_loss": float("nan"), FINAL_KEY: True})


def run_trial(config: dict) -> None:
    """Tune's function trainable: ``config["trial"]`` holds kind, params, store root, thread bound, the epochs at
    which early stopping may end the trial (the model goes with those reports), the name of the stop flag, and
    ``gate`` (None, or where to ask for a turn in the executor's queue before training: :mod:`core.sweep.gate`)."""
    trial = config["trial"]
    flag = _StopFlag(trial.get("stop_flag"))
    if trial.get("gate") is None:
        _not_run() if flag.check(force=True) else _train(trial, flag)
        return
    turn = Turn(trial["gate"], trial["kind"], int(trial.get("threads", 1)))
    try:
        if flag.check(force=True) or not turn.wait(lambda: flag.check(force=True)):
            _not_run()  # the sweep was stopped before (or while) this trial waited for its turn
        else:
            turn.completed = _train(trial, flag)
    finally:
        turn.release()


def _train(trial: dict, flag: _StopFlag) -> bool:
    """Train and report (see the module's doc); True when the training ran to its end."""
    bound_threads(int(trial.get("threads", 1)))
    import keras
    from ray import tune

    from core.training import run_record, run_training

    keras.backend.clear_session()  # a reused worker: forget the previous trial's graphs
    task = get_task(trial["kind"])
    params = task.space.validate(trial["params"])
    epochs = int(params.get("epochs", 1))
    model_epochs = set(trial.get("model_epochs", ()))
    progress, stop_event = Progress(epochs), threading.Event()
    started = time.time()

    def record(snap, status, error=None, metrics=None) -> str:
        fields = run_record(task, params, snap.get("data") or {}, snap, status, error, metrics or {}, started)
        return json.dumps(fields, default=jsonable)

    class ReportEpoch(keras.callbacks.Callback):
        """Per-epoch metrics and record to Tune (with the model where Tune may stop the trial); the sweep's Stop."""

        def on_train_batch_end(self, batch, logs=None):
            if flag.check():
                stop_event.set()  # the trainer stops after this batch and keeps the model, as a page's Stop does

        def on_epoch_end(self, epoch, logs=None):
            snap = progress.snapshot()
            if flag.check():
                stop_event.set()
                self.model.stop_training = True
            if epoch + 1 >= epochs or snap["epoch"] != epoch + 1 or stop_event.is_set():
                return  # the last epoch goes with the final report; a NaN or a stop ends the training
            metrics = {k: _last(snap["history"], k) for k in snap["history"]}
            model = model_bytes(self.model) if epoch + 1 in model_epochs else None
            tune.report({"epoch": epoch + 1, "val_loss": _last(snap["history"], "val_loss"), **metrics,
                         RECORD_KEY: record(snap, "running"), MODEL_KEY: model})

    store = RunStore(trial["store_root"]) if trial.get("store_root") else None
    result = run_training(task, params, progress=progress, stop_event=stop_event, store=store, save=False,
                          callbacks=(ReportEpoch(),))
    snap = progress.snapshot()
    final = {k: _last(snap["history"], k) for k in snap["history"]}
    final.update({k: v for k, v in result.metrics.items() if isinstance(v, (int, float))})
    tune.report({**final, "epoch": snap["epoch"], "val_loss": _last(snap["history"], "val_loss"), FINAL_KEY: True,
                 RECORD_KEY: record(snap, result.status, result.error, result.metrics),
                 MODEL_KEY: model_bytes(result.model)})
    return result.status == DONE and snap["epoch"] == epochs
