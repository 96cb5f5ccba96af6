"""A running sweep, like :class:`core.jobs.TrainingJob`: started in a background thread, watched, stopped.

:class:`Sweep` runs a :class:`~core.sweep.spec.SweepSpec` on Ray Tune (:mod:`core.sweep.tune_run`) in a daemon
thread of the calling process (a Streamlit server or the CLI). Readers poll :meth:`Sweep.snapshot` from any
thread: every trial's status and curves so far, updated from Tune's results as they arrive. Every trial that
trained at least one epoch becomes an ordinary run in the store (``model.keras`` + ``run.json`` with ``sweep``,
``sweep_config``, ``seed``, ``trial_id``); :meth:`Sweep.stop` ends the sweep and keeps what was trained.

Given the server's executor (``executor=``, a :class:`core.executor.Executor`), the trials take turns in its fair
queue with everyone's trainings, as jobs of the sweep's owner (``record["owner"]``): each trial asks for a turn in
its worker before it trains (:mod:`core.sweep.gate`) and holds no Ray CPU of its own. Without one (a notebook, an
old caller) every trial takes a Ray CPU, outside any queue.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import traceback
import uuid

from core.model_files import ModelFile
from core.progress import DONE, FAILED, RUNNING, STOPPED
from core.store import RunStore
from core.sweep.connect import check_address, connected_to, ensure_ray, resolve_address
from core.sweep.spec import SweepError, SweepSpec

# Lazy import: core.sweep.tune_run (Ray Tune, 1.0 s to import, and pandas) when a sweep starts, so that the pages and
# the CLI import this module at once.

PENDING = "pending"
MAX_EVENTS = 500


def new_sweep_id(kind: str) -> str:
    return f"sweep-{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"


def config_label(config: dict) -> str:
    """``learning_rate=0.001, units=10``: how a configuration is named in lines, tables and legends."""
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in config.items()) or "base"


class Sweep:
    """Run a sweep in the background; ``snapshot()`` from any thread, ``stop()`` keeps finished trials.

    >>> sweep = Sweep(SweepSpec("iris", vary={"learning_rate": [1e-3, 1e-2]}, seeds=2), store).start()  # doctest: +SKIP
    >>> sweep.wait(); sweep.snapshot()["counts"]                                                       # doctest: +SKIP
    """

    def __init__(self, spec: SweepSpec, store=None, *, sweep_id: str | None = None, record: dict | None = None,
                 on_event=None, executor=None):
        self.spec = spec
        self.store = store if store is not None else RunStore()
        self.id = sweep_id or new_sweep_id(spec.kind)
        self.record = dict(record or {})  # more run.json fields for every trial (e.g. owner)
        self.on_event = on_event  # called with one line of text per trial event, from the sweep's thread
        self.executor = executor  # trials take turns in its queue (see the module's doc)
        self.gate: dict | None = None  # set when the sweep runs with an executor: where trials ask for turns
        self.trials = spec.trials()
        self.params = [spec.params(t) for t in self.trials]
        self.stop_event = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._models: dict[int, bytes | None] = {}
        self._records: dict[int, dict] = {}
        self._state = {
            "id": self.id, "kind": spec.kind, "spec": spec.to_dict(), "status": PENDING, "phase": "waiting",
            "address": None, "error": None, "started": time.time(), "finished": None, "events": [], "version": 0,
            "trials": [{"index": i, "trial_id": None, "config": t.config, "seed": t.seed, "params": self.params[i],
                        "status": PENDING, "epoch": 0, "epochs": self.params[i].get("epochs", 0), "history": {}, "metrics": {},
                        "error": None, "run_id": None, "early_stopped": False, "started": None, "finished": None}
                       for i, t in enumerate(self.trials)],
        }

    # --- control -------------------------------------------------------------------------------------------
    def start(self) -> Sweep:
        """Start in a daemon thread. A cluster address is checked first: :class:`SweepError` when unreachable."""
        address = resolve_address(self.spec.address)
        if self.executor is not None and address != resolve_address(self.executor.cluster.address):
            where = resolve_address(self.executor.cluster.address) or "a local Ray"
            raise SweepError(f"this server trains on {where}: its sweeps run there too, with everyone's trainings "
                             f"(leave the address empty or give {where})")
        if address is not None and not connected_to(address):
            check_address(address)
        self._update(status=RUNNING, phase="starting Ray", started=time.time())
        self._thread = threading.Thread(target=self._run, name=f"sweep-{self.spec.kind}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """End the whole sweep: finished trials are kept, running ones are stored as stopped, pending ones skipped."""
        self.stop_event.set()
        self._update(phase="stopping")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def has_running(self) -> bool:
        """Whether a trial is training now (Tune's stopper waits for these after Stop)."""
        with self._lock:
            return any(t["status"] == RUNNING for t in self._state["trials"])

    def turn_id(self, index: int) -> str:
        """The id of trial ``index``'s turn in the executor's queue (its jobs list shows it)."""
        return f"{self.id}/{index}"

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def snapshot(self) -> dict:
        """A consistent deep copy: sweep status, per-trial entries (config, seed, status, curves, run id, and
        ``queued_place`` while a started trial waits for its turn in the executor's queue), counts (``queued``: the
        running trials that wait for a turn)."""
        with self._lock:
            snap = copy.deepcopy(self._state)
        queued = {row["id"]: row["place"] for row in (self.executor.jobs() if self.executor is not None else ())
                  if row["state"] == "queued"}
        for trial in snap["trials"]:  # started by Tune, still waiting for its turn in the executor's queue
            trial["queued_place"] = queued.get(self.turn_id(trial["index"])) if trial["status"] == RUNNING else None
        snap["counts"] = {s: sum(t["status"] == s for t in snap["trials"])
                          for s in (PENDING, RUNNING, DONE, STOPPED, FAILED)}
        snap["counts"]["queued"] = sum(t["queued_place"] is not None for t in snap["trials"])
        snap["elapsed"] = (snap["finished"] or time.time()) - snap["started"]
        return snap

    # --- the sweep's thread --------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            address = ensure_ray(self.spec.address)
            self._update(address=address, phase="running trials")
            if self.executor is not None:
                self.gate = {"mailbox": self.executor.open_turns(self.id), "owner": self.record.get("owner", "local"),
                             "cpus": self.executor.scheduler.limits.cpus}
            if not self.stop_event.is_set():
                from core.sweep.tune_run import run_tuner

                run_tuner(self)
            status, error = (STOPPED if self.stop_event.is_set() else DONE), None
        except SweepError as err:
            status, error = FAILED, str(err)
        except Exception as err:
            status, error = FAILED, f"The sweep failed: {type(err).__name__}: {err}"
            traceback.print_exc()
        if self.executor is not None:
            self.executor.close_turns(self.id)  # nothing of this sweep stays in the queue
        for index in range(len(self.trials)):  # trials Tune stopped without telling (the whole sweep stopped)
            self._finish(index, None)
        self._update(status=status, error=error, phase=status, finished=time.time())
        self._event(f"sweep {self.id} {status}" + (f": {error}" if error else ""))

    def _update(self, **fields) -> None:
        with self._lock:
            self._state.update(fields)
            self._state["version"] += 1

    def _trial(self, index: int) -> dict:
        return self._state["trials"][index]

    def _event(self, text: str) -> None:
        with self._lock:
            self._state["events"] = [*self._state["events"][-MAX_EVENTS + 1:], text]
        if self.on_event is not None:
            try:
                self.on_event(text)
            except Exception:
                pass

    def _label(self, index: int) -> str:
        t = self.trials[index]
        return f"[{index + 1}/{len(self.trials)}] {config_label(t.config)} seed={t.seed}"

    # --- called by the Tune callback (core.sweep.tune_run), in the sweep's thread ---------------------------
    def trial_started(self, index: int, trial_id: str) -> None:
        with self._lock:
            entry = self._trial(index)
            if entry["status"] != PENDING:
                return
            entry.update(status=RUNNING, trial_id=trial_id, started=time.time())
            self._state["version"] += 1
        self._event(f"{self._label(index)}: started ({trial_id})")

    def trial_result(self, index: int, result: dict, record: str | None, model: bytes | None, final: bool) -> None:
        parsed = json.loads(record) if record else None
        with self._lock:
            entry = self._trial(index)
            if parsed is not None:
                self._records[index] = parsed
                self._models[index] = model
                entry["history"] = parsed.get("history", {})
                entry["epoch"] = parsed.get("epochs_completed", entry["epoch"])
                if final:
                    entry.update(final=True, metrics=parsed.get("metrics", {}), error=parsed.get("error"))
            self._state["version"] += 1

    def trial_error(self, index: int, message: str) -> None:
        self._end_turn(index)
        self._finish(index, FAILED, message)

    def trial_complete(self, index: int) -> None:
        with self._lock:
            final = self._trial(index).get("final") and self._records.get(index, {}).get("status") == DONE
        self._end_turn(index, completed=bool(final))  # a full training: its duration counts for the kind's mean
        self._finish(index, DONE)

    def _end_turn(self, index: int, completed: bool = False) -> None:
        """The trial ended (its worker gave its turn back already, unless it died): the executor frees the turn."""
        if self.executor is not None:
            self.executor.end_turn(self.turn_id(index), completed)

    def _finish(self, index: int, status: str | None, error: str | None = None) -> None:
        """Store the trial's run (once) and settle its status; ``status`` None: the sweep ended around it."""
        with self._lock:
            entry = self._trial(index)
            if entry["finished"] is not None:
                return
            entry["finished"] = time.time()
            record, model = self._records.pop(index, None), self._models.pop(index, None)
        early = False
        if record is not None and entry.get("final") and status != FAILED:
            status, error = record.get("status", DONE), record.get("error")
        elif status == FAILED:
            error = error or "the trial failed"
        elif status is None or self.stop_event.is_set():
            status, error = STOPPED, None if record is not None else "not run: the sweep was stopped"
        else:
            status, early = STOPPED, True  # Tune's scheduler ended it before its last epoch
        run_id = None
        if record is not None:
            record.update(self.record)
            record.update(status=status, error=error, sweep=self.id, sweep_config=self.trials[index].config,
                          seed=self.trials[index].seed, trial_id=entry["trial_id"], sweep_index=index,
                          early_stopped=early, stopped_by="early stopping (ASHA)" if early else None)
            try:
                run_id = self.store.save(record, ModelFile(model) if model else None)
            except Exception as err:
                error = (error + " " if error else "") + f"Saving the run failed: {type(err).__name__}: {err}"
        with self._lock:
            entry.update(status=status, error=error, run_id=run_id, early_stopped=early)
            self._state["version"] += 1
        what = "early-stopped" if early else status
        if record is None and status == STOPPED:
            return  # a trial the stopped sweep did not run: nothing to say per trial
        metric = self.spec.task.headline_metric
        value = (record or {}).get("metrics", {}).get(metric)
        parts = [f"{self._label(index)}: {what}", f"{entry['epoch']} epochs"]
        if isinstance(value, (int, float)):
            parts.append(f"{metric} {value:.4f}")
        if error:
            parts.append(error)
        if run_id:
            parts.append(f"run {run_id}")
        self._event(", ".join(parts))
