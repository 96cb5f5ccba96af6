"""The one training loop every model kind, page and CLI command goes through.

``run_training`` seeds, prepares the data, builds the model under a ``tf.distribute`` strategy, calls
``model.fit`` with a :class:`ProgressCallback`, evaluates, and (given a store) saves the run. It never
raises for a training problem: a NaN/inf loss, an exception or a stop request end the run with a
status and a clear message in the :class:`core.progress.Progress`.

Many trainings share one process (a Ray worker is reused for job after job, a notebook trains again and again), so
each run frees what TensorFlow would otherwise keep of it for good:
see :func:`free_traced_graphs`.
"""

from __future__ import annotations

import gc
import os
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.framework import ops
from tensorflow.python.framework.func_graph import FuncGraph

from core.callbacks import ProgressCallback
from core.progress import DONE, FAILED, STOPPED, Progress
from core.registry import get_task
from core.seeding import set_seed
from core.step_losses import StepLosses

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
    free_graphs: bool = True,
) -> TrainResult:
    """Train one model of ``task`` with ``params`` (validated) and return a :class:`TrainResult`.

    ``store``: the run store the task reads (e.g. the CVAE run a latent classifier encodes with) and, with
    ``save``, where the finished run is saved. ``record``: more fields for its run.json (owner, sweep).
    ``free_graphs``: build the optimizer and metric state before ``fit`` (one trace, not two) and free the traced
    graphs when done (:func:`free_traced_graphs`); False only to measure the old behaviour (``bench memory``).
    """
    params = task.space.validate(params)
    mark = ops.uid()  # gradient functions registered from now on may be this run's (free_traced_graphs)
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
            if free_graphs:
                build_training_state(model, prepared.train)
            step_losses = StepLosses.for_model(model, task.steps_per_execution)
        if stop_event.is_set():
            progress.finish(STOPPED, error=None)
            return TrainResult(STOPPED, None, params, prepared=prepared)
        steps = _steps(prepared.train)
        progress.update(phase="training", steps_per_epoch=steps)

        def on_epoch(m, epoch):
            return task.epoch_extra(m, prepared, epoch)

        tracker = ProgressCallback(progress, stop_event, steps, on_epoch, step_losses)
        model.fit(
            prepared.train,
            validation_data=prepared.validation,
            epochs=params["epochs"],
            callbacks=[tracker, *callbacks, *task.callbacks(prepared, progress)],
            verbose=verbose,
            shuffle=False,  # the pipelines shuffle themselves
        )
    except Exception as err:
        crash, details = f"Training failed: {type(err).__name__}: {err}", traceback.format_exc()
        if tracker is None or progress.snapshot()["epoch"] == 0:  # no good epoch to keep
            if free_graphs:
                free_traced_graphs(model, mark)
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
            fields.update(task.record_fields(params, prepared))
            result.run_id = store.save({**fields, **(record or {})}, model, files=task.run_files(model, prepared))
        except Exception as err:
            error = (error + " " if error else "") + f"Saving the run failed: {type(err).__name__}: {err}"
            result.error = error
    if free_graphs:
        free_traced_graphs(model, mark)
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


def build_training_state(model, dataset) -> None:
    """Create the optimizer, loss and metric variables of a built, compiled ``model`` now, eagerly.

    Keras defers them, under the default strategy, to the first trace of the training step: that trace then
    creates variables (each behind a ``cond`` initialiser graph) and ``tf.function`` traces the step a second
    time. Built here from ``dataset.element_spec`` (no batch is drawn: the shuffle order stays the same), as Keras
    itself does under a distribution strategy, they are the same zeros and the step is traced once. A model
    Keras cannot build this way is left to build itself in ``fit``.
    """
    if not getattr(model, "built", False) or not hasattr(model, "_symbolic_build"):
        return
    try:
        model._symbolic_build(data_batch=dataset.element_spec)
    except Exception:  # left to fit, which builds what is missing
        pass


def free_traced_graphs(model, mark: int) -> int:
    """Free what a finished training traced: its custom-gradient registrations and the model's step functions.

    The optimizer all-reduces the gradients (``ReplicaContext.all_reduce``, even under the default strategy)
    through a ``tf.custom_gradient``, which in a traced step registers a ``CustomGradient-<uid>`` function in
    TensorFlow's process-wide gradient registry and never unregisters it (tensorflow/tensorflow#97697). Its
    closure holds tensors of the training step's graph, so every training kept its whole ``FuncGraph`` (and the
    optimizer's and metrics' initialiser graphs) for good: 5-7 MB per Iris training, ``clear_session`` or not.
    Only entries registered since ``mark`` whose graph reads this model's variables are removed, so a training
    running in another thread keeps its own. The step functions are dropped too (Keras traces them again if the
    model is trained or evaluated later), so a finished model kept by a page holds no graphs.
    Returns how many registrations were removed; never raises.
    """
    if model is None:
        return 0
    removed = 0
    try:
        registry = ops._gradient_registry._registry
        ours = _variables(model)
        ids = {id(v) for v in ours}
        prefix = "CustomGradient-"
        for name, entry in list(registry.items()):  # a snapshot: other threads may register meanwhile
            if not name.startswith(prefix) or not name[len(prefix):].isdigit() or int(name[len(prefix):]) < mark:
                continue
            graphs = _closure_graphs(entry.get("type") if isinstance(entry, dict) else None)
            if any(id(v) in ids for g in graphs for v in g.variables):
                registry.pop(name, None)
                removed += 1
    except Exception:  # TensorFlow internals moved: nothing freed, nothing broken
        pass
    for name in ("train_function", "test_function", "predict_function"):
        if getattr(model, name, None) is not None:
            setattr(model, name, None)
    return removed


def _variables(model) -> list:
    """The TensorFlow variables behind the model's and its optimizer's Keras variables (and their replicas)."""
    found = []
    optimizer = getattr(model, "optimizer", None)
    for v in [*model.variables, *(getattr(optimizer, "variables", None) or [])]:
        tf_var = getattr(v, "value", v)
        found += [v, tf_var, *(getattr(tf_var, "values", None) or ())]
    return found


def _closure_graphs(fn, depth: int = 2) -> set:
    """The traced graphs (``FuncGraph``) of the tensors a gradient function's closure holds."""
    graphs = set()
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if callable(value) and depth > 1:
            graphs |= _closure_graphs(value, depth - 1)
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if tf.is_tensor(item) and isinstance(getattr(item, "graph", None), FuncGraph):
                graphs.add(item.graph)
    return graphs


def memory_growth(trainings: int = 50, *, free_graphs: bool = True, warmup: int = 3, kind: str = "iris") -> dict:
    """Resident memory (RSS, MB) growth over ``trainings`` small runs of ``kind`` in this process, after ``warmup``.

    RSS is read from ``/proc/self/statm`` after ``gc.collect()`` after every run: memory still held, not garbage
    the collector has yet to reach. Iris runs 2 epochs of 2 repeats.
    """
    def rss_mb() -> float:
        gc.collect()
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    task, params, curve, seconds = get_task(kind), {"epochs": 2, "repeat": 2} if kind == "iris" else {}, [], 0.0
    for i in range(warmup + trainings):
        if i == warmup:
            base = rss_mb()
        start = time.perf_counter()
        run_training(task, params, free_graphs=free_graphs)
        seconds += (time.perf_counter() - start) if i >= warmup else 0.0
        curve.append(rss_mb() - base if i >= warmup else 0.0)
    growth = curve[-1]
    return {"trainings": trainings, "free_graphs": free_graphs, "start_mb": round(base, 1),
            "growth_mb": round(growth, 2), "per_training_mb": round(growth / trainings, 3),
            "seconds_per_training": round(seconds / trainings, 3), "curve_mb": [round(c, 1) for c in curve[warmup:]]}
