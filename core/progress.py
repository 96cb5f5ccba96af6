"""The live record of one training run, written by the trainer's thread and read by any other.

:class:`Progress` holds per-batch loss, per-epoch train and validation metrics, the phase and the final
status; :meth:`Progress.snapshot` returns a consistent copy from any thread. No TensorFlow here: the
training loop (:mod:`core.training`) writes it, jobs (:mod:`core.jobs`), pages and sweeps read it.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

RUNNING, DONE, STOPPED, FAILED = "running", "done", "stopped", "failed"
FINISHED = (DONE, STOPPED, FAILED)
LOOP_PHASES = ("training", "validating")  # the training loop runs: its batches, and their epoch's validation
# The phase of a job stopped with nothing trained: while queued, or before its first batch had ended.
CANCELLED, STOPPED_EARLY = "cancelled", "stopped before its first batch"


MIN_ETA_SECONDS = 1.0  # measure the step rate for at least this long before promising a remaining time


def fraction_done(snap: dict) -> float:
    """The share of the training done, from completed epochs and the batches of the current one (0 to 1)."""
    epochs = max(snap["epochs"], 1)
    done = snap["epoch"]
    if snap["phase"] in LOOP_PHASES and snap["steps_per_epoch"]:
        done += snap["step"] / snap["steps_per_epoch"]
    return min(done / epochs, 1.0)


class Progress:
    """Thread-safe record of a training run, written by the trainer and read by the UI."""

    def __init__(self, epochs: int = 0):
        self._lock = threading.Lock()
        self._data: dict[str, Any] = {
            "status": RUNNING,
            "phase": "starting",
            "epoch": 0,  # epochs completed
            "epochs": epochs,
            "step": 0,  # step within the current epoch
            "steps_per_epoch": None,
            "batch_loss": [],  # (global step as fractional epoch, loss of that batch)
            "history": {},  # metric name -> list, one value per completed epoch
            "extras": [],  # per-epoch pictures a task publishes (e.g. reconstructions)
            "started": time.time(),
            "finished": None,
            "training_started": None,  # time of the first batch: the ETA's clock
            "error": None,
            "warning": None,  # e.g. a loss that grows by orders of magnitude (diverging, not NaN yet)
            "details": None,
            "metrics": {},  # final evaluation
            "run_id": None,
            "version": 0,  # bumped on every change, so readers can skip identical redraws
        }

    def update(self, **fields: Any) -> None:
        with self._lock:
            self._data.update(fields)
            self._data["version"] += 1

    def add_batch(self, epoch_position: float, loss: float, step: int) -> None:
        with self._lock:
            if self._data["training_started"] is None:
                self._data["training_started"] = time.time()
            self._data["batch_loss"].append((epoch_position, loss))
            self._data["step"] = step
            self._data["version"] += 1

    def add_epoch(self, epoch: int, logs: dict[str, float], extra: Any = None) -> None:
        with self._lock:
            history = self._data["history"]
            for name, value in logs.items():
                history.setdefault(name, []).append(float(value))
            if extra is not None:
                self._data["extras"].append(extra)
            self._data["epoch"] = epoch
            self._data["step"] = 0  # the position is now "epoch batches done, none of the next one"
            self._data["version"] += 1

    def add_extra(self, extra: Any) -> None:
        """Publish a picture between epochs (as :meth:`add_epoch` does at an epoch's end)."""
        with self._lock:
            self._data["extras"].append(extra)
            self._data["version"] += 1

    def finish(self, status: str, error: str | None = None, details: str | None = None, **fields) -> None:
        with self._lock:
            self._data.update(status=status, error=error, details=details, finished=time.time(), **fields)
            self._data["phase"] = status
            self._data["version"] += 1

    def snapshot(self) -> dict[str, Any]:
        """A deep copy, safe to read while training continues.

        Adds ``elapsed`` (seconds), ``fraction`` (share of the training done: epochs and batches) and ``eta``:
        the seconds left at the step rate measured so far (validation included once an epoch has passed), None
        until it can be measured.
        """
        with self._lock:
            snap = copy.deepcopy(self._data)
        now = snap["finished"] or time.time()
        snap["elapsed"] = now - snap["started"]
        snap["fraction"] = fraction_done(snap)
        snap["eta"] = None
        began = snap["training_started"]
        # Only while batches are left to train: after them (the last validation, evaluation, saving, or after a
        # stop) the time does not follow the step rate, and "about 0 s left" would be a promise nobody keeps.
        if snap["status"] == RUNNING and snap["phase"] in LOOP_PHASES and began is not None \
                and 0 < snap["fraction"] < 1:
            spent = now - began
            if spent >= MIN_ETA_SECONDS or snap["epoch"] > 0:
                snap["eta"] = spent * (1 - snap["fraction"]) / snap["fraction"]
        return snap

    def since(self, batches: int = 0, extras: int = 0) -> dict[str, Any]:
        r"""What changed since a reader saw ``batches`` per-batch losses and ``extras`` pictures: every field, but only
        the newer batch losses and pictures (a worker process sends this to the server, which merges it with :meth:`merge`).
        ``now`` is this process's clock, so the reader can shift the times into its own."""
        with self._lock:
            delta = {k: v for k, v in self._data.items() if k not in ("batch_loss", "extras")}
            delta = copy.deepcopy(delta)
            delta["batch_loss"] = list(self._data["batch_loss"][batches:])
            delta["extras"] = copy.deepcopy(self._data["extras"][extras:])
        delta["now"] = time.time()
        return delta

    def merge(self, delta: dict[str, Any], received: float | None = None) -> None:
        """Apply a :meth:`since` delta of another process's Progress (the times shifted into this process's clock)."""
        shift = (received or time.time()) - delta.get("now", received or time.time())
        fields = {k: v for k, v in delta.items() if k not in ("batch_loss", "extras", "now", "version")}
        for name in ("started", "finished", "training_started"):
            if fields.get(name) is not None:
                fields[name] += shift
        with self._lock:
            self._data["batch_loss"].extend(delta.get("batch_loss", ()))
            self._data["extras"].extend(delta.get("extras", ()))
            self._data.update(fields)
            self._data["version"] += 1

    def counts(self) -> tuple[int, int]:
        """How many batch losses and extras this record holds (what a :meth:`since` reader has seen)."""
        with self._lock:
            return len(self._data["batch_loss"]), len(self._data["extras"])

    @property
    def status(self) -> str:
        with self._lock:
            return self._data["status"]


def format_seconds(seconds: float | None) -> str:
    """A duration as people say it: ``0.8 s``, ``42 s``, ``13 min 17 s``, ``2 h 5 min``; ``—`` for none."""
    if seconds is None or not seconds >= 0:
        return "—"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
