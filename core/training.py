"""The one training loop every model kind, page and CLI command goes through.

``run_training`` seeds, prepares the data, builds the model under a ``tf.distribute`` strategy, calls
``model.fit`` with a :class:`ProgressCallback`, evaluates, and (given a store) saves the run. It never
raises for a training problem: a NaN/inf loss, an exception or a stop request end the run with a
status and a clear message in the :class:`core.progress.Progress`.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from core.callbacks import ProgressCallback
from core.progress import DONE, FAILED, STOPPED, Progress
from core.seeding import set_seed

BATCH_LOSS_POINTS = 4000  # at most this many per-batch points are kept in a stored run


@dataclass
class TrainResult:
    status: str
    model: Any = None
    params: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    prepared: Any = None
    error: str | None = None
    run_id: str | None = None


def get_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """The distribution strategy for this machine.

    ``auto``: ``MirroredStrategy`` over all GPUs when more than one is visible, else the default
    strategy. ``mirrored`` forces MirroredStrategy (over GPUs, or over every logical CPU device when
    there is no GPU); ``default`` forces the default (single-device) strategy.
    """
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    raise ValueError(f"unknown strategy {name!r}; choose auto, default or mirrored")


def _steps(dataset) -> int | None:
    n = int(dataset.cardinality())
    return n if n > 0 else None


def run_training(
    task,
    params: dict,
    *,
    progress: Progress | None = None,
    stop_event: threading.Event | None = None,
    store=None,
    save: bool = True,
    record: dict | None = None,
    verbose: int = 0,
    strategy: str = "auto",
    callbacks: tuple = (),
) -> TrainResult:
    """Train one model of ``task`` with ``params`` (validated) and return a :class:`TrainResult`.

    ``store``: the run store the task reads (e.g. the CVAE run a latent classifier encodes with) and, with
    ``save``, where the finished run is saved. ``record``: more fields for its run.json (owner, sweep).
    """
    params = task.space.validate(params)
    progress = progress or Progress(params.get("epochs", 0))
    stop_event = stop_event or threading.Event()
    started = time.time()
    model = prepared = tracker = None
    crash = details = None
    try:
        progress.update(phase="loading data")
        set_seed(params.get("seed", 42))
        prepared = task.prepare(params, store)
        progress.update(phase="building model", data=prepared.info)
        with get_strategy(strategy).scope():
            model = task.build(params, prepared)
        if stop_event.is_set():
            progress.finish(STOPPED, error=None)
            return TrainResult(STOPPED, None, params, prepared=prepared)
        steps = _steps(prepared.train)
        progress.update(phase="training", steps_per_epoch=steps)

        def on_epoch(m, epoch):
            return task.epoch_extra(m, prepared, epoch)

        tracker = ProgressCallback(progress, stop_event, steps, on_epoch)
        model.fit(
            prepared.train,
            validation_data=prepared.validation,
            epochs=params["epochs"],
            callbacks=[tracker, *callbacks],
            verbose=verbose,
            shuffle=False,  # the pipelines shuffle themselves
        )
    except Exception as err:
        crash, details = f"Training failed: {type(err).__name__}: {err}", traceback.format_exc()
        if tracker is None or progress.snapshot()["epoch"] == 0:  # no good epoch to keep
            progress.finish(FAILED, error=crash, details=details)
            return TrainResult(FAILED, model, params, prepared=prepared, error=crash)

    if crash:
        tracker.restore_good_weights()
        status, error = FAILED, f"{crash}. The weights of the last good epoch were kept."
    elif tracker.nan_error:
        tracker.restore_good_weights()
        status, error = FAILED, tracker.nan_error
    elif stop_event.is_set():
        status, error = STOPPED, None
    else:
        status, error = DONE, None

    progress.update(phase="evaluating")
    try:
        metrics = task.evaluate(model, prepared)
    except Exception as err:
        metrics = {}
        error = (error + " " if error else "") + f"Evaluation failed: {type(err).__name__}: {err}"
    result = TrainResult(status, model, params, metrics, prepared, error)

    if store is not None and save:
        progress.update(phase="saving")
        snap = progress.snapshot()
        try:
            fields = run_record(task, params, prepared.info, snap, status, error, metrics, started)
            result.run_id = store.save({**fields, **(record or {})}, model)
        except Exception as err:
            error = (error + " " if error else "") + f"Saving the run failed: {type(err).__name__}: {err}"
            result.error = error
    progress.finish(status, error=error, details=details, metrics=metrics, run_id=result.run_id)
    return result


def run_record(task, params, info, snap, status, error, metrics, started) -> dict:
    """The JSON-able record of a finished run (everything but the model weights)."""
    batch = snap["batch_loss"]
    if len(batch) > BATCH_LOSS_POINTS:
        idx = np.linspace(0, len(batch) - 1, BATCH_LOSS_POINTS).round().astype(int)
        batch = [batch[i] for i in idx]
    return {
        "kind": task.kind,
        "title": task.title,
        "params": params,
        "seed": params.get("seed"),
        "data": info,
        "status": status,
        "error": error,
        "warning": snap["warning"],
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "duration": round(time.time() - started, 3),
        "epochs_completed": snap["epoch"],
        "metrics": metrics,
        "history": snap["history"],
        "batch_loss": batch,
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
    }
