"""One trial of a sweep, run by Ray Tune in a worker process (possibly on another machine).

The trial is an ordinary :func:`core.training.run_training` (single process, ``save=False``) with TensorFlow's
thread pools bounded to the trial's CPUs. After every epoch but the last it reports the epoch's metrics to Tune,
with the run's record so far and the model file as bytes; after training it reports the final record (status,
metrics, curves) and model. The results travel back to the driver through Ray itself, so the driver stores the
run without a shared disk, also for a trial that Tune stops early (it keeps the last epoch's record and model).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

MODEL_KEY, RECORD_KEY, FINAL_KEY = "_model", "_record", "_final"  # popped by the driver before Tune logs results


def bound_threads(n: int) -> None:
    """TensorFlow (and OpenMP) use ``n`` threads: set before TensorFlow starts, re-applied where still possible."""
    for var in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ[var] = str(n)
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError:  # already initialised by an earlier trial of this (reused) worker, with the same bound
        pass


def _jsonable(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def model_bytes(model) -> bytes | None:
    """The model as the bytes of a ``.keras`` file (None without a model)."""
    if model is None:
        return None
    with tempfile.TemporaryDirectory(prefix="nn-trial-") as tmp:
        path = Path(tmp) / "model.keras"
        model.save(path)
        return path.read_bytes()


def _last(history: dict, name: str) -> float:
    values = history.get(name) or [float("nan")]
    return float(values[-1])


def run_trial(config: dict) -> None:
    """Tune's function trainable: ``config["trial"]`` holds kind, params, store root, thread bound."""
    trial = config["trial"]
    bound_threads(int(trial.get("threads", 1)))
    import keras
    from ray import tune

    from core.progress import Progress
    from core.registry import get_task
    from core.store import RunStore
    from core.training import run_record, run_training

    keras.backend.clear_session()  # a reused worker: forget the previous trial's graphs
    task = get_task(trial["kind"])
    params = task.space.validate(trial["params"])
    epochs = int(params.get("epochs", 1))
    progress = Progress(epochs)
    started = time.time()

    def record(snap, status, error=None, metrics=None) -> str:
        fields = run_record(task, params, snap.get("data") or {}, snap, status, error, metrics or {}, started)
        return json.dumps(fields, default=_jsonable)

    class ReportEpoch(keras.callbacks.Callback):
        """Per-epoch metrics, record and model to Tune; the last epoch goes with the final report instead."""

        def on_epoch_end(self, epoch, logs=None):
            snap = progress.snapshot()
            if epoch + 1 >= epochs or snap["epoch"] != epoch + 1:  # last epoch, or the trainer saw a NaN
                return
            metrics = {k: _last(snap["history"], k) for k in snap["history"]}
            tune.report({"epoch": epoch + 1, "val_loss": _last(snap["history"], "val_loss"), **metrics,
                         RECORD_KEY: record(snap, "running"), MODEL_KEY: model_bytes(self.model)})

    store = RunStore(trial["store_root"]) if trial.get("store_root") else None
    result = run_training(task, params, progress=progress, store=store, save=False, callbacks=(ReportEpoch(),))
    snap = progress.snapshot()
    final = {k: _last(snap["history"], k) for k in snap["history"]}
    final.update({k: v for k, v in result.metrics.items() if isinstance(v, (int, float))})
    tune.report({**final, "epoch": snap["epoch"], "val_loss": _last(snap["history"], "val_loss"), FINAL_KEY: True,
                 RECORD_KEY: record(snap, result.status, result.error, result.metrics),
                 MODEL_KEY: model_bytes(result.model)})
