"""The Ray Tune side of a sweep: one Tuner over the spec's exact trials, a callback feeding :class:`Sweep`.

Imported only when a sweep runs (it imports ``ray.tune``). The trials are a ``grid_search`` over the spec's own
list, so Tune runs exactly those configurations and seeds; ASHA (optional) stops hopeless ones on ``val_loss``.
Tune's console output and its result files are switched off: the sweep reports through :class:`Sweep` and the
run store, and the models travel in the results, which the callback removes before anything else sees them.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time

import numpy as np
import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler

from core.sweep.connect import TRIAL_CPUS
from core.sweep.trial import FINAL_KEY, MODEL_KEY, RECORD_KEY, StopFlag, run_trial

REDUCTION_FACTOR = 2  # ASHA keeps the better half at each rung
STOP_GRACE = 60.0  # seconds the running trials get to stop, evaluate and report after Stop; then Tune ends them
# A trial that takes turns in the executor's queue holds no Ray CPU (the executor counts the CPUs: a waiting trial
# holding one could keep a granted training from starting). Tune refuses a trial without any resource, so it asks
# for this much of Ray's "memory" resource (bytes) instead: nothing that anyone else needs.
GATED_RESOURCES = {"cpu": 0, "memory": 2**20}


def grace_period(epochs: int) -> int:
    """Epochs every trial trains before ASHA may stop it: 1 for short trainings, else 2."""
    return 1 if epochs <= 4 else 2


def asha_rungs(max_t: int, grace: int, rf: int = REDUCTION_FACTOR) -> list[int]:
    """The epochs at which ASHA (one bracket) may stop a trial: its rungs, computed as Ray's ``_Bracket`` does."""
    n = int(np.log(max_t / grace) / np.log(rf) + 1)
    return [int(grace * rf**k) for k in range(n)]


_ACTIVE: dict = {}  # sweep id -> Sweep; Tune pickles its callbacks and stopper, so they hold the id only


class _Feed(tune.Callback):
    """Tune's trial events into the :class:`~core.sweep.runner.Sweep` (runs in the Tuner's thread)."""

    def __init__(self, sweep_id: str):
        self.sweep_id = sweep_id

    @property
    def sweep(self):
        return _ACTIVE[self.sweep_id]

    @staticmethod
    def _index(trial) -> int:
        return int(trial.config["trial"]["index"])

    def on_trial_start(self, iteration, trials, trial, **info):
        self.sweep.trial_started(self._index(trial), trial.trial_id)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        # Remove the model and the record in place: Tune keeps, logs and checkpoints only the small metrics.
        model, record, final = result.pop(MODEL_KEY, None), result.pop(RECORD_KEY, None), result.pop(FINAL_KEY, False)
        self.sweep.trial_result(self._index(trial), result, record, model, bool(final))

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.sweep.trial_complete(self._index(trial))

    def on_trial_error(self, iteration, trials, trial, **info):
        self.sweep.trial_error(self._index(trial), _error_text(trial))


class _StopAll(tune.Stopper):
    """After the sweep's Stop: raise the trials' stop flag, then end the experiment once the running trials have
    reported their stopped models (or after :data:`STOP_GRACE` seconds)."""

    def __init__(self, sweep_id: str, flag_name: str):
        self.sweep_id, self.flag_name, self.asked = sweep_id, flag_name, None

    def __call__(self, trial_id, result):
        return False

    def stop_all(self):
        sweep = _ACTIVE.get(self.sweep_id)
        if sweep is None:
            return True
        if not sweep.stop_event.is_set():
            return False
        if self.asked is None:
            self.asked = time.monotonic()
            try:
                ray.get_actor(self.flag_name).set.remote()
            except ValueError:
                return True
        return not sweep.has_running() or time.monotonic() - self.asked > STOP_GRACE


def _error_text(trial) -> str:
    """The last line of the trial's error (the exception and its message)."""
    text = ""
    try:
        path = trial.error_file
        if path and os.path.isfile(path):
            with open(path) as fh:
                text = fh.read()
    except Exception:
        pass
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return "The trial crashed: " + (lines[-1][:500] if lines else "no message from Ray")


def run_tuner(sweep) -> None:
    """Run every trial of ``sweep`` on the connected Ray and feed its events to the sweep (blocks)."""
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"  # with verbose=0: nothing on the console
    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"  # no result.json / CSV / TensorBoard files
    for name in ("ray.tune", "ray.train"):  # a crashed trial's traceback: the sweep reports it, once, as the trial's error
        logging.getLogger(name).setLevel(logging.CRITICAL)
    spec = sweep.spec
    root = str(sweep.store.root.resolve())
    scheduler, rungs = None, []
    if spec.early_stop:
        epochs = spec.max_epochs
        grace = min(grace_period(epochs), epochs)
        scheduler = ASHAScheduler(time_attr="epoch", metric="val_loss", mode="min", max_t=epochs,
                                  grace_period=grace, reduction_factor=REDUCTION_FACTOR)
        rungs = asha_rungs(epochs, grace)
    flag_name = f"nn-playground-stop-{sweep.id}"
    flag = ray.remote(num_cpus=0)(StopFlag).options(name=flag_name).remote()
    gate = sweep.gate  # None: no executor, each trial takes a Ray CPU of its own
    trials = [{"index": i, "kind": spec.kind, "params": params, "store_root": root, "threads": TRIAL_CPUS,
               "model_epochs": rungs, "stop_flag": flag_name,
               "gate": None if gate is None else {"mailbox": gate["mailbox"], "owner": gate["owner"],
                                                  "turn": sweep.turn_id(i)}}
              for i, params in enumerate(sweep.params)]
    concurrency = spec.concurrency
    if gate is not None and concurrency is None:  # no Ray CPUs bound the trial processes: the executor's CPUs do
        concurrency = max(1, int(gate["cpus"] // TRIAL_CPUS))

    def name(trial) -> str:
        return f"trial-{trial.config['trial']['index']:03d}"

    storage = tempfile.mkdtemp(prefix="nn-sweep-")
    _ACTIVE[sweep.id] = sweep
    try:
        tuner = tune.Tuner(
            tune.with_resources(run_trial, {"cpu": TRIAL_CPUS} if gate is None else GATED_RESOURCES),
            param_space={"trial": tune.grid_search(trials)},
            tune_config=tune.TuneConfig(num_samples=1, max_concurrent_trials=concurrency, scheduler=scheduler,
                                        reuse_actors=True, trial_name_creator=name, trial_dirname_creator=name),
            run_config=tune.RunConfig(name=sweep.id, storage_path=storage, callbacks=[_Feed(sweep.id)],
                                      stop=_StopAll(sweep.id, flag_name), verbose=0, log_to_file=False,
                                      failure_config=tune.FailureConfig(max_failures=0)),
        )
        tuner.fit()
    finally:
        _ACTIVE.pop(sweep.id, None)
        ray.kill(flag)
        shutil.rmtree(storage, ignore_errors=True)
